#include "webauthn.h"

#include "crypto/crypto.h"
#include "webauthn/authenticator_data.h"
#include "webauthn/cbor.h"
#include "webauthn/cose.h"

#include <QJsonDocument>
#include <QJsonValue>

namespace Kernia::Server::WebAuthn {

QString errorString(VerifyError error)
{
    switch (error) {
    case VerifyError::None: return QStringLiteral("verified");
    case VerifyError::MalformedResponse: return QStringLiteral("malformed WebAuthn response");
    case VerifyError::CredentialIdMismatch: return QStringLiteral("credential id mismatch");
    case VerifyError::WrongCredentialType: return QStringLiteral("credential type is not public-key");
    case VerifyError::WrongClientDataType: return QStringLiteral("unexpected clientDataJSON type");
    case VerifyError::ChallengeMismatch: return QStringLiteral("challenge mismatch");
    case VerifyError::OriginMismatch: return QStringLiteral("origin not accepted");
    case VerifyError::RpIdMismatch: return QStringLiteral("RP ID hash mismatch");
    case VerifyError::UserNotPresent: return QStringLiteral("user presence flag not set");
    case VerifyError::UserNotVerified: return QStringLiteral("user verification required but not performed");
    case VerifyError::MissingCredentialData: return QStringLiteral("no attested credential data");
    case VerifyError::UnsupportedAlgorithm: return QStringLiteral("unsupported public key algorithm");
    case VerifyError::InvalidPublicKey: return QStringLiteral("invalid credential public key");
    case VerifyError::UnsupportedAttestation: return QStringLiteral("unsupported attestation format");
    case VerifyError::InvalidAttestation: return QStringLiteral("invalid attestation statement");
    case VerifyError::BadSignature: return QStringLiteral("signature verification failed");
    case VerifyError::CounterNotIncreased: return QStringLiteral("signature counter did not increase");
    case VerifyError::InvalidBackupFlags: return QStringLiteral("backup state set without backup eligibility");
    }
    return QStringLiteral("unknown error");
}

std::optional<QByteArray> base64UrlDecode(QStringView text)
{
    qsizetype end = text.size();
    int padding = 0;
    while (end > 0 && text[end - 1] == QLatin1Char('=') && padding < 2) {
        --end;
        ++padding;
    }
    if (padding > 0 && text.size() % 4 != 0)
        return std::nullopt;
    if (end % 4 == 1)
        return std::nullopt;
    QByteArray ascii;
    ascii.reserve(end);
    for (qsizetype i = 0; i < end; ++i) {
        const char16_t c = text[i].unicode();
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok)
            return std::nullopt;
        ascii.append(char(c));
    }
    auto result = QByteArray::fromBase64Encoding(ascii, QByteArray::Base64UrlEncoding | QByteArray::AbortOnBase64DecodingErrors);
    if (!result)
        return std::nullopt;
    return result.decoded;
}

QString base64UrlEncode(QByteArrayView bytes)
{
    return QString::fromLatin1(bytes.toByteArray().toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals));
}

namespace {

template <typename Result>
Result failure(VerifyError error, const QString &detail = {})
{
    Result r;
    r.error = error;
    r.message = detail.isEmpty() ? errorString(error) : errorString(error) + QStringLiteral(": ") + detail;
    return r;
}

// clientDataJSON checks shared by both ceremonies. Returns None or the first failure.
VerifyError checkClientData(QByteArrayView clientDataJSON, const char *expectedType, const Expectations &expected,
                            QString *detail)
{
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(clientDataJSON.toByteArray(), &parseError);
    if (parseError.error != QJsonParseError::NoError || !doc.isObject()) {
        *detail = QStringLiteral("clientDataJSON is not a JSON object");
        return VerifyError::MalformedResponse;
    }
    const QJsonObject clientData = doc.object();
    const QJsonValue type = clientData.value(QStringLiteral("type"));
    const QJsonValue challenge = clientData.value(QStringLiteral("challenge"));
    const QJsonValue origin = clientData.value(QStringLiteral("origin"));
    if (!type.isString() || !challenge.isString() || !origin.isString()) {
        *detail = QStringLiteral("clientDataJSON lacks type, challenge or origin");
        return VerifyError::MalformedResponse;
    }
    if (type.toString() != QLatin1String(expectedType)) {
        *detail = type.toString();
        return VerifyError::WrongClientDataType;
    }
    const std::optional<QByteArray> got = base64UrlDecode(challenge.toString());
    const std::optional<QByteArray> want = base64UrlDecode(expected.challenge);
    if (!got || !want || want->isEmpty() || !Crypto::constantTimeEquals(*got, *want))
        return VerifyError::ChallengeMismatch;
    if (!expected.origins.contains(origin.toString())) {
        *detail = origin.toString();
        return VerifyError::OriginMismatch;
    }
    const QJsonValue tokenBinding = clientData.value(QStringLiteral("tokenBinding"));
    if (!tokenBinding.isUndefined() && !tokenBinding.isNull()) {
        static const QStringList statuses{QStringLiteral("present"), QStringLiteral("supported"),
                                          QStringLiteral("not-supported"), QStringLiteral("notSupported")};
        if (!tokenBinding.isObject() || !statuses.contains(tokenBinding.toObject().value(QStringLiteral("status")).toString())) {
            *detail = QStringLiteral("bad tokenBinding");
            return VerifyError::MalformedResponse;
        }
    }
    return VerifyError::None;
}

bool rpIdMatches(const QByteArray &rpIdHash, const QString &rpId)
{
    return !rpId.isEmpty() && Crypto::constantTimeEquals(rpIdHash, Crypto::sha256(rpId.toUtf8()));
}

// id / rawId / type of a PublicKeyCredential JSON; the decoded raw id on success.
VerifyError checkCredentialEnvelope(const QJsonObject &credential, QByteArray *rawId, QString *detail)
{
    const QJsonValue id = credential.value(QStringLiteral("id"));
    const QJsonValue raw = credential.value(QStringLiteral("rawId"));
    if (!id.isString() || id.toString().isEmpty()) {
        *detail = QStringLiteral("missing credential id");
        return VerifyError::MalformedResponse;
    }
    if (!raw.isString() || raw.toString() != id.toString())
        return VerifyError::CredentialIdMismatch;
    if (credential.value(QStringLiteral("type")).toString() != QLatin1String("public-key"))
        return VerifyError::WrongCredentialType;
    const std::optional<QByteArray> decoded = base64UrlDecode(id.toString());
    if (!decoded || decoded->isEmpty()) {
        *detail = QStringLiteral("credential id is not base64url");
        return VerifyError::MalformedResponse;
    }
    *rawId = *decoded;
    return VerifyError::None;
}

std::optional<QByteArray> base64UrlField(const QJsonObject &object, const char *name)
{
    const QJsonValue v = object.value(QLatin1String(name));
    if (!v.isString())
        return std::nullopt;
    return base64UrlDecode(v.toString());
}

} // namespace

RegistrationResult verifyRegistration(QByteArrayView attestationObject, QByteArrayView clientDataJSON,
                                      const Expectations &expected)
{
    using R = RegistrationResult;
    QString detail;
    if (const VerifyError e = checkClientData(clientDataJSON, "webauthn.create", expected, &detail); e != VerifyError::None)
        return failure<R>(e, detail);

    Cbor::Value object;
    if (const Cbor::Error e = Cbor::decode(attestationObject, &object); e != Cbor::Error::None)
        return failure<R>(VerifyError::MalformedResponse, QStringLiteral("attestationObject: ") + Cbor::errorString(e));
    const Cbor::Value *fmt = object.find("fmt");
    const Cbor::Value *attStmt = object.find("attStmt");
    const Cbor::Value *authDataValue = object.find("authData");
    if (!object.isMap() || !fmt || !fmt->isText() || !attStmt || !attStmt->isMap() || !authDataValue
        || !authDataValue->isBytes())
        return failure<R>(VerifyError::MalformedResponse, QStringLiteral("attestationObject needs fmt, attStmt and authData"));

    AuthenticatorData authData;
    if (!parseAuthenticatorData(authDataValue->bytes, &authData, &detail))
        return failure<R>(VerifyError::MalformedResponse, detail);
    if (!rpIdMatches(authData.rpIdHash, expected.rpId))
        return failure<R>(VerifyError::RpIdMismatch);
    if (!authData.userPresent())
        return failure<R>(VerifyError::UserNotPresent);
    if (expected.requireUserVerification && !authData.userVerified())
        return failure<R>(VerifyError::UserNotVerified);
    if (!authData.has(AuthenticatorData::AT) || authData.credentialId.isEmpty() || authData.credentialPublicKey.isEmpty())
        return failure<R>(VerifyError::MissingCredentialData);
    if (authData.backedUp() && !authData.backupEligible())
        return failure<R>(VerifyError::InvalidBackupFlags);

    Cbor::Value keyMap;
    if (Cbor::decode(authData.credentialPublicKey, &keyMap) != Cbor::Error::None)
        return failure<R>(VerifyError::InvalidPublicKey);
    const Cbor::Value *algValue = keyMap.find(qint64(3));
    if (!algValue || !algValue->isInteger() || !isSupportedAlgorithm(algValue->integer))
        return failure<R>(VerifyError::UnsupportedAlgorithm);
    CoseKey key;
    if (!parseCoseKey(keyMap, &key, &detail))
        return failure<R>(VerifyError::InvalidPublicKey, detail);

    const QString format = fmt->text();
    if (format == QLatin1String("none")) {
        if (!attStmt->entries.empty())
            return failure<R>(VerifyError::InvalidAttestation, QStringLiteral("none attestation with a statement"));
    } else if (format == QLatin1String("packed")) {
        if (attStmt->find("x5c") || attStmt->find("ecdaaKeyId"))
            return failure<R>(VerifyError::UnsupportedAttestation, QStringLiteral("packed attestation with a certificate chain"));
        const Cbor::Value *alg = attStmt->find("alg");
        const Cbor::Value *sig = attStmt->find("sig");
        if (!alg || !alg->isInteger() || !sig || !sig->isBytes() || attStmt->entries.size() != 2)
            return failure<R>(VerifyError::InvalidAttestation, QStringLiteral("packed statement needs exactly alg and sig"));
        if (alg->integer != key.alg)
            return failure<R>(VerifyError::InvalidAttestation, QStringLiteral("packed alg differs from the credential key alg"));
        const QByteArray signedData = authDataValue->bytes + Crypto::sha256(clientDataJSON);
        if (!verifySignature(key, signedData, sig->bytes))
            return failure<R>(VerifyError::BadSignature, QStringLiteral("packed self attestation"));
    } else {
        return failure<R>(VerifyError::UnsupportedAttestation, format);
    }

    R result;
    result.fmt = format;
    result.credentialId = authData.credentialId;
    result.publicKey = authData.credentialPublicKey;
    result.alg = key.alg;
    result.signCount = authData.signCount;
    result.aaguid = aaguidString(authData.aaguid);
    result.userVerified = authData.userVerified();
    result.backupEligible = authData.backupEligible();
    result.backedUp = authData.backedUp();
    return result;
}

RegistrationResult verifyRegistrationResponse(const QJsonObject &credential, const Expectations &expected)
{
    using R = RegistrationResult;
    QString detail;
    QByteArray rawId;
    if (const VerifyError e = checkCredentialEnvelope(credential, &rawId, &detail); e != VerifyError::None)
        return failure<R>(e, detail);
    const QJsonObject response = credential.value(QStringLiteral("response")).toObject();
    const std::optional<QByteArray> clientData = base64UrlField(response, "clientDataJSON");
    const std::optional<QByteArray> attestation = base64UrlField(response, "attestationObject");
    if (!clientData || !attestation)
        return failure<R>(VerifyError::MalformedResponse, QStringLiteral("clientDataJSON/attestationObject missing or not base64url"));
    R result = verifyRegistration(*attestation, *clientData, expected);
    if (result.ok() && result.credentialId != rawId)
        return failure<R>(VerifyError::CredentialIdMismatch, QStringLiteral("rawId is not the attested credential id"));
    return result;
}

AssertionResult verifyAssertion(QByteArrayView authenticatorData, QByteArrayView clientDataJSON,
                                QByteArrayView signature, const Expectations &expected,
                                const StoredCredential &stored)
{
    using R = AssertionResult;
    QString detail;
    if (const VerifyError e = checkClientData(clientDataJSON, "webauthn.get", expected, &detail); e != VerifyError::None)
        return failure<R>(e, detail);
    AuthenticatorData authData;
    if (!parseAuthenticatorData(authenticatorData, &authData, &detail))
        return failure<R>(VerifyError::MalformedResponse, detail);
    if (!rpIdMatches(authData.rpIdHash, expected.rpId))
        return failure<R>(VerifyError::RpIdMismatch);
    if (!authData.userPresent())
        return failure<R>(VerifyError::UserNotPresent);
    if (expected.requireUserVerification && !authData.userVerified())
        return failure<R>(VerifyError::UserNotVerified);
    if (authData.backedUp() && !authData.backupEligible())
        return failure<R>(VerifyError::InvalidBackupFlags);
    // WebAuthn L2 §7.2 step 21: if either counter is non-zero the new one must be greater.
    if ((authData.signCount > 0 || stored.counter > 0) && qint64(authData.signCount) <= stored.counter)
        return failure<R>(VerifyError::CounterNotIncreased,
                          QStringLiteral("got %1, stored %2").arg(authData.signCount).arg(stored.counter));

    CoseKey key;
    if (!parseCoseKey(QByteArrayView(stored.publicKey), &key, &detail))
        return failure<R>(VerifyError::InvalidPublicKey, detail);
    const QByteArray signedData = authenticatorData.toByteArray() + Crypto::sha256(clientDataJSON);
    if (!verifySignature(key, signedData, signature))
        return failure<R>(VerifyError::BadSignature);

    R result;
    result.newCounter = authData.signCount;
    result.userVerified = authData.userVerified();
    result.backupEligible = authData.backupEligible();
    result.backedUp = authData.backedUp();
    return result;
}

AssertionResult verifyAuthenticationResponse(const QJsonObject &credential, const Expectations &expected,
                                             const StoredCredential &stored)
{
    using R = AssertionResult;
    QString detail;
    QByteArray rawId;
    if (const VerifyError e = checkCredentialEnvelope(credential, &rawId, &detail); e != VerifyError::None)
        return failure<R>(e, detail);
    const QJsonObject response = credential.value(QStringLiteral("response")).toObject();
    const std::optional<QByteArray> clientData = base64UrlField(response, "clientDataJSON");
    const std::optional<QByteArray> authData = base64UrlField(response, "authenticatorData");
    const std::optional<QByteArray> signature = base64UrlField(response, "signature");
    if (!clientData || !authData || !signature)
        return failure<R>(VerifyError::MalformedResponse,
                          QStringLiteral("clientDataJSON/authenticatorData/signature missing or not base64url"));
    const QJsonValue userHandle = response.value(QStringLiteral("userHandle"));
    if (!userHandle.isUndefined() && !userHandle.isNull() && !userHandle.isString())
        return failure<R>(VerifyError::MalformedResponse, QStringLiteral("userHandle is not a string"));
    return verifyAssertion(*authData, *clientData, *signature, expected, stored);
}

} // namespace Kernia::Server::WebAuthn
