#include "request_log.h"

#include "crypto/crypto.h"

#include <QStringList>

#include <algorithm>
#include <atomic>

namespace Kernia::Server {

namespace {

QString logValue(const QString &value)
{
    bool needsQuotes = value.isEmpty();
    for (const QChar c : value) {
        if (c.unicode() <= 0x20 || c == QLatin1Char('"') || c == QLatin1Char('=') || c == QLatin1Char('\\')
            || c.unicode() == 0x7f) {
            needsQuotes = true;
            break;
        }
    }
    if (!needsQuotes)
        return value;
    QString quoted = QStringLiteral("\"");
    for (const QChar c : value) {
        if (c == QLatin1Char('"') || c == QLatin1Char('\\'))
            quoted += QLatin1Char('\\') + QString(c);
        else if (c.unicode() < 0x20 || c.unicode() == 0x7f)
            quoted += QStringLiteral("\\x%1").arg(c.unicode(), 2, 16, QLatin1Char('0'));
        else
            quoted += c;
    }
    return quoted + QLatin1Char('"');
}

bool isIdCharacter(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_'
        || c == ':' || c == '-';
}

} // namespace

QString redactedPath(const QString &path)
{
    // Endpoints whose next path segment is a secret.
    static const QStringList secretPrefixes = {QStringLiteral("/reset-password/")};
    for (const QString &prefix : secretPrefixes) {
        const qsizetype at = path.indexOf(prefix);
        if (at >= 0 && path.size() > at + prefix.size())
            return path.left(at + prefix.size()) + QStringLiteral("[redacted]");
    }
    return path;
}

QString formatRequestLog(const RequestLogEntry &entry)
{
    // One arg() call for every field: chained calls would substitute into what an earlier
    // one inserted, so a "%1" in a client's path would move the fields after it.
    return QStringLiteral("method=%1 path=%2 status=%3 duration_ms=%4 client=%5 request_id=%6")
        .arg(logValue(QString::fromLatin1(entry.method)), logValue(redactedPath(entry.path)),
             QString::number(entry.status), QString::number(entry.durationMs, 'f', 1), logValue(entry.client),
             logValue(QString::fromLatin1(entry.requestId)));
}

QByteArray requestIdFor(const Request &request)
{
    const QByteArray given = request.header("x-request-id");
    if (!given.isEmpty() && given.size() <= 64 && std::all_of(given.cbegin(), given.cend(), isIdCharacter))
        return given;
    // 20 characters, unique without drawing on the CSPRNG per request (the id is no
    // secret): 8 random ones per process, so instances sharing a log stay apart, then a
    // counter as 12 base-36 digits.
    static const QByteArray processPrefix = Crypto::randomId().left(8).toLatin1();
    static std::atomic<quint64> counter{0};
    return processPrefix + QByteArray::number(++counter, 36).rightJustified(12, '0');
}

} // namespace Kernia::Server
