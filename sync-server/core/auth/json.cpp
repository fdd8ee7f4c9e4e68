#include "json.h"

namespace Kernia::Server {

QString isoTimestamp(const QDateTime &time)
{
    return time.toUTC().toString(Qt::ISODateWithMs);
}

QDateTime nowUtc()
{
    return QDateTime::fromMSecsSinceEpoch(QDateTime::currentMSecsSinceEpoch(), Qt::UTC);
}

QJsonObject userJson(const User &user)
{
    QJsonObject json{
        {QStringLiteral("name"), user.name},
        {QStringLiteral("email"), user.email},
        {QStringLiteral("emailVerified"), user.emailVerified},
        {QStringLiteral("image"), user.image ? QJsonValue(*user.image) : QJsonValue(QJsonValue::Null)},
        {QStringLiteral("createdAt"), isoTimestamp(user.createdAt)},
        {QStringLiteral("updatedAt"), isoTimestamp(user.updatedAt)},
        {QStringLiteral("isAnonymous"), user.isAnonymous},
        {QStringLiteral("id"), user.id},
    };
    // The username plugin's fields are absent until set, as in the reference.
    if (user.username)
        json.insert(QStringLiteral("username"), *user.username);
    if (user.displayUsername)
        json.insert(QStringLiteral("displayUsername"), *user.displayUsername);
    return json;
}

QJsonObject sessionJson(const Session &session)
{
    return {
        {QStringLiteral("expiresAt"), isoTimestamp(session.expiresAt)},
        {QStringLiteral("token"), session.token},
        {QStringLiteral("createdAt"), isoTimestamp(session.createdAt)},
        {QStringLiteral("updatedAt"), isoTimestamp(session.updatedAt)},
        {QStringLiteral("ipAddress"), session.ipAddress},
        {QStringLiteral("userAgent"), session.userAgent},
        {QStringLiteral("userId"), session.userId},
        {QStringLiteral("id"), session.id},
    };
}

} // namespace Kernia::Server
