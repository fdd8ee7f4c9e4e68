#include "jwt.h"

#include "crypto/crypto.h"

#include <QJsonDocument>

#include <optional>

namespace Kernia::Server::Jwt {

namespace {

constexpr auto kB64 = QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals;

QByteArray b64(const QByteArray &data)
{
    return data.toBase64(kB64);
}

std::optional<QByteArray> unb64(const QByteArray &text)
{
    const auto result = QByteArray::fromBase64Encoding(text, QByteArray::Base64UrlEncoding
                                                                 | QByteArray::AbortOnBase64DecodingErrors);
    if (!result)
        return std::nullopt;
    return *result;
}

std::optional<QJsonObject> jsonObject(const QByteArray &part)
{
    const std::optional<QByteArray> raw = unb64(part);
    if (!raw)
        return std::nullopt;
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(*raw, &error);
    if (error.error != QJsonParseError::NoError || !document.isObject())
        return std::nullopt;
    return document.object();
}

} // namespace

QByteArray signHs256(const QJsonObject &claims, const QByteArray &secret, qint64 expiresInSeconds,
                     const QDateTime &now)
{
    OrderedClaims ordered;
    for (auto it = claims.begin(); it != claims.end(); ++it)
        ordered.append({it.key(), it.value()});
    return signHs256Ordered(ordered, secret, expiresInSeconds, now);
}

QByteArray signHs256Ordered(const OrderedClaims &claims, const QByteArray &secret, qint64 expiresInSeconds,
                            const QDateTime &now)
{
    // QJsonObject sorts its keys; write the JSON by hand to keep jose's order:
    // the caller's claims first, then iat, then exp.
    QByteArray payload = "{";
    for (const auto &[key, value] : claims) {
        QByteArray member = QJsonDocument(QJsonObject{{key, value}}).toJson(QJsonDocument::Compact);
        payload += member.mid(1, member.size() - 2) + ','; // without the braces
    }
    const qint64 iat = now.toSecsSinceEpoch();
    payload += "\"iat\":" + QByteArray::number(iat) + ",\"exp\":" + QByteArray::number(iat + expiresInSeconds) + '}';

    const QByteArray signingInput = b64(R"({"alg":"HS256"})") + '.' + b64(payload);
    return signingInput + '.' + b64(Crypto::hmacSha256(secret, signingInput));
}

Verified verifyHs256(const QByteArray &token, const QByteArray &secret, const QDateTime &now)
{
    Verified result;
    const QList<QByteArray> parts = token.split('.');
    if (parts.size() != 3 || parts[0].isEmpty() || parts[1].isEmpty() || parts[2].isEmpty())
        return result;
    const std::optional<QJsonObject> header = jsonObject(parts[0]);
    if (!header || header->value(QStringLiteral("alg")).toString() != QLatin1String("HS256")
        || header->contains(QStringLiteral("crit")))
        return result;
    const std::optional<QByteArray> signature = unb64(parts[2]);
    const QByteArray expected = Crypto::hmacSha256(secret, parts[0] + '.' + parts[1]);
    if (!signature || expected.isEmpty() || !Crypto::constantTimeEquals(*signature, expected))
        return result;
    const std::optional<QJsonObject> payload = jsonObject(parts[1]);
    if (!payload)
        return result;

    const qint64 seconds = now.toSecsSinceEpoch();
    const QJsonValue exp = payload->value(QStringLiteral("exp"));
    const QJsonValue nbf = payload->value(QStringLiteral("nbf"));
    if ((!exp.isUndefined() && !exp.isDouble()) || (!nbf.isUndefined() && !nbf.isDouble()))
        return result;
    if (nbf.isDouble() && nbf.toDouble() > double(seconds))
        return result;
    if (exp.isDouble() && exp.toDouble() <= double(seconds)) {
        result.status = Status::Expired;
        return result;
    }
    result.status = Status::Valid;
    result.payload = *payload;
    return result;
}

} // namespace Kernia::Server::Jwt
