// Compact JWS with HS256, as Better Auth (jose) signs its email-verification tokens:
// header {"alg":"HS256"}, the payload's own keys, then iat and exp (seconds).
//
//   QByteArray token = Jwt::signHs256({{"email", "a@example.com"}}, secret, 3600);
//   Jwt::Verified v = Jwt::verifyHs256(token, secret);
//   if (v.status == Jwt::Status::Valid) use(v.payload);
#pragma once

#include <QByteArray>
#include <QDateTime>
#include <QJsonObject>
#include <QList>

#include <utility>

namespace Kernia::Server::Jwt {

enum class Status { Valid, Invalid, Expired };

struct Verified
{
    Status status = Status::Invalid;
    QJsonObject payload;        // only set when Valid
};

// `now` defaults to the current time; tests pass their own. A QJsonObject keeps its keys
// sorted, so the payload lists the claims in that order.
QByteArray signHs256(const QJsonObject &claims, const QByteArray &secret, qint64 expiresInSeconds,
                     const QDateTime &now = QDateTime::currentDateTimeUtc());

// The same with the claims in the given order, for tokens whose payload must be
// byte-identical to Better Auth's (the change-email token lists email, updateTo,
// requestType, userId). Keys must be distinct.
using OrderedClaims = QList<std::pair<QString, QJsonValue>>;
QByteArray signHs256Ordered(const OrderedClaims &claims, const QByteArray &secret, qint64 expiresInSeconds,
                            const QDateTime &now = QDateTime::currentDateTimeUtc());

// Accepts only alg HS256 (never "none"), a matching signature (constant-time) and, when
// present, an exp in the future and an nbf in the past.
Verified verifyHs256(const QByteArray &token, const QByteArray &secret,
                     const QDateTime &now = QDateTime::currentDateTimeUtc());

} // namespace Kernia::Server::Jwt
