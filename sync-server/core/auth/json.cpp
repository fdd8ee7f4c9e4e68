#include "json.h"

namespace Kernia::Server {

QString isoTimestamp(const QDateTime &time)
{
    // What QDateTime::toString(Qt::ISODateWithMs) gives in UTC, without its locale and
    // printf machinery: every user and session object carries two or three of these.
    constexpr qint64 msPerDay = 86400000;
    constexpr qint64 endOfYear9999 = 253402300800000;   // 10000-01-01T00:00:00Z
    const qint64 ms = time.isValid() ? time.toMSecsSinceEpoch() : -1;
    if (ms < 0 || ms >= endOfYear9999)   // before 1970 or past four-digit years: Qt's form
        return time.toUTC().toString(Qt::ISODateWithMs);

    // Days since 1970-01-01 to year/month/day (H. Hinnant's civil_from_days, non-negative
    // days only).
    const qint64 days = ms / msPerDay;
    const qint64 z = days + 719468;
    const qint64 era = z / 146097;
    const qint64 dayOfEra = z - era * 146097;
    const qint64 yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365;
    const qint64 dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100);
    const qint64 monthIndex = (5 * dayOfYear + 2) / 153;   // March = 0
    const int day = int(dayOfYear - (153 * monthIndex + 2) / 5 + 1);
    const int month = int(monthIndex < 10 ? monthIndex + 3 : monthIndex - 9);
    const int year = int(yearOfEra + era * 400 + (month <= 2 ? 1 : 0));
    const int msOfDay = int(ms - days * msPerDay);

    char text[] = "0000-00-00T00:00:00.000Z";
    const auto put = [&text](int at, int value, int width) {
        for (int i = at + width - 1; i >= at; --i, value /= 10)
            text[i] = char('0' + value % 10);
    };
    put(0, year, 4);
    put(5, month, 2);
    put(8, day, 2);
    put(11, msOfDay / 3600000, 2);
    put(14, msOfDay / 60000 % 60, 2);
    put(17, msOfDay / 1000 % 60, 2);
    put(20, msOfDay % 1000, 3);
    return QString::fromLatin1(text, qsizetype(sizeof text - 1));
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
