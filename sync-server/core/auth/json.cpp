#include "json.h"

#include <QJsonDocument>

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

// RFC 8259 escaping as Qt writes it: quote, backslash and control characters escaped,
// everything else as UTF-8.
void appendJsonString(QByteArray &out, const QString &value)
{
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    for (const char c : value.toUtf8()) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (uchar(c) < 0x20) {
                out += "\\u00";
                out += hex[uchar(c) >> 4];
                out += hex[uchar(c) & 0xf];
            } else {
                out += c;
            }
        }
    }
    out += '"';
}

namespace {

// One compact JSON object, its members written in the order given: callers list them in
// QJsonObject's (sorted) key order so the text matches QJsonDocument's byte for byte.
class ObjectText
{
public:
    explicit ObjectText(QByteArray &out) : m_out(out) { m_out += '{'; }
    ~ObjectText() { m_out += '}'; }
    ObjectText(const ObjectText &) = delete;
    ObjectText &operator=(const ObjectText &) = delete;

    ObjectText &string(const char *key, const QString &value)
    {
        name(key);
        appendJsonString(m_out, value);
        return *this;
    }
    ObjectText &optionalString(const char *key, const std::optional<QString> &value)
    {
        if (!value) {
            name(key);
            m_out += "null";
            return *this;
        }
        return string(key, *value);
    }
    ObjectText &boolean(const char *key, bool value)
    {
        name(key);
        m_out += value ? "true" : "false";
        return *this;
    }

private:
    void name(const char *key)
    {
        if (!m_empty)
            m_out += ',';
        m_empty = false;
        m_out += '"';
        m_out += key;   // plain ASCII names: nothing to escape
        m_out += "\":";
    }

    QByteArray &m_out;
    bool m_empty = true;
};

QJsonObject parsed(const QByteArray &text)
{
    return QJsonDocument::fromJson(text).object();
}

} // namespace

void appendUserJson(QByteArray &out, const User &user)
{
    ObjectText object(out);
    object.string("createdAt", isoTimestamp(user.createdAt));
    // The username plugin's fields are absent until set, as in the reference.
    if (user.displayUsername)
        object.string("displayUsername", *user.displayUsername);
    object.string("email", user.email)
        .boolean("emailVerified", user.emailVerified)
        .string("id", user.id)
        .optionalString("image", user.image)
        .boolean("isAnonymous", user.isAnonymous)
        .string("name", user.name)
        .string("updatedAt", isoTimestamp(user.updatedAt));
    if (user.username)
        object.string("username", *user.username);
}

void appendSessionJson(QByteArray &out, const Session &session)
{
    ObjectText(out)
        .string("createdAt", isoTimestamp(session.createdAt))
        .string("expiresAt", isoTimestamp(session.expiresAt))
        .string("id", session.id)
        .string("ipAddress", session.ipAddress)
        .string("token", session.token)
        .string("updatedAt", isoTimestamp(session.updatedAt))
        .string("userAgent", session.userAgent)
        .string("userId", session.userId);
}

QJsonObject userJson(const User &user)
{
    QByteArray text;
    appendUserJson(text, user);
    return parsed(text);
}

QJsonObject sessionJson(const Session &session)
{
    QByteArray text;
    appendSessionJson(text, session);
    return parsed(text);
}

} // namespace Kernia::Server
