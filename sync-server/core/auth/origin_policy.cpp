#include "origin_policy.h"

#include "auth/error_codes.h"

#include <QUrl>

namespace Kernia::Server {

namespace {

bool isSafeRelativePath(const QString &url)
{
    if (!url.startsWith(QLatin1Char('/')) || url.startsWith(QLatin1String("//")))
        return false;
    if (url.contains(QLatin1Char('\\')))
        return false;
    for (const QChar c : url) {
        if (c.unicode() < 0x20 || c.unicode() == 0x7f)
            return false;
    }
    const QString path = url.section(QLatin1Char('?'), 0, 0).toLower();
    return !path.contains(QLatin1String("%2f")) && !path.contains(QLatin1String("%5c"));
}

bool isWildcardPattern(const QString &entry)
{
    return entry.contains(QLatin1Char('*')) || entry.contains(QLatin1Char('?'));
}

// Better Auth's wildcardMatch without a separator: `*` any run of characters (dots and
// colons included), `?` exactly one, `\x` the character x; everything else literally.
QString wildcardToRegex(const QString &pattern)
{
    QString regex = QStringLiteral("\\A(?:");
    for (qsizetype i = 0; i < pattern.size(); ++i) {
        const QChar c = pattern.at(i);
        if (c == QLatin1Char('\\') && i + 1 < pattern.size())
            regex += QRegularExpression::escape(QString(pattern.at(++i)));
        else if (c == QLatin1Char('*'))
            regex += QStringLiteral(".*");
        else if (c == QLatin1Char('?'))
            regex += QLatin1Char('.');
        else if (c != QLatin1Char('\\'))
            regex += QRegularExpression::escape(QString(c));
    }
    return regex + QStringLiteral(")\\z");
}

// "host:port" -> "host" (Better Auth splits at the first ':' too; an IPv6 literal then
// yields "[", which is no IPv4 address).
QString hostPart(const QString &authority)
{
    return authority.section(QLatin1Char(':'), 0, 0);
}

// Dotted-quad IPv4 as zod's z.ipv4() accepts it: four decimal numbers 0-255, no leading zeros.
bool isIPv4Address(const QString &host)
{
    static const QRegularExpression ipv4(QStringLiteral(
        "\\A(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])\\.){3}"
        "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])\\z"));
    return ipv4.match(host).hasMatch();
}

} // namespace

OriginPolicy::Pattern OriginPolicy::compilePattern(const QString &entry)
{
    Pattern pattern;
    const qsizetype schemeEnd = entry.indexOf(QLatin1String("://"));
    pattern.againstHost = schemeEnd < 0;
    const QString authority = pattern.againstHost ? entry : entry.mid(schemeEnd + 3);
    // Better Auth's isAllowedIPv4Host: a wildcard host of digits, dots and wildcards
    // ("192.168.*.*", "10.*") names an address range, so it admits IPv4 addresses only;
    // otherwise `*` would cross dots and "192.168.attacker.com" would match.
    static const QRegularExpression ipWildcardHost(QStringLiteral("\\A(?=.*\\d)[\\d*?.]+\\z"));
    pattern.ipv4Only = ipWildcardHost.match(hostPart(authority)).hasMatch();
    pattern.regex = QRegularExpression(wildcardToRegex(entry));
    return pattern;
}

bool OriginPolicy::matches(const Pattern &pattern, const QString &origin)
{
    // `origin` is originOf()'s: scheme://host[:port], lower-case, no default port.
    const QString authority = origin.mid(origin.indexOf(QLatin1String("://")) + 3);
    if (!pattern.regex.match(pattern.againstHost ? authority : origin).hasMatch())
        return false;
    return !pattern.ipv4Only || isIPv4Address(hostPart(authority));
}

OriginPolicy::OriginPolicy(const AuthOptions &options)
    : m_baseOrigin(originOf(options.baseUrl.toString()))
{
    if (!m_baseOrigin.isEmpty())
        m_exact << m_baseOrigin;
    for (const QString &entry : options.trustedOrigins) {
        if (isWildcardPattern(entry)) {
            m_patterns << compilePattern(entry);
        } else {
            const QString origin = originOf(entry);
            if (!origin.isEmpty())
                m_exact << origin;
        }
    }
}

QString OriginPolicy::originOf(const QString &url)
{
    const QUrl parsed(url, QUrl::StrictMode);
    if (!parsed.isValid() || parsed.scheme().isEmpty() || parsed.host().isEmpty())
        return {};
    QString origin = parsed.scheme().toLower() + QLatin1String("://") + parsed.host().toLower();
    const int port = parsed.port();
    const bool defaultPort = (parsed.scheme() == QLatin1String("http") && port == 80)
                             || (parsed.scheme() == QLatin1String("https") && port == 443);
    if (port != -1 && !defaultPort)
        origin += QLatin1Char(':') + QString::number(port);
    return origin;
}

bool OriginPolicy::isTrusted(const QString &url) const
{
    const QString origin = originOf(url);
    if (origin.isEmpty())
        return false;
    if (m_exact.contains(origin))
        return true;
    for (const Pattern &pattern : m_patterns) {
        if (matches(pattern, origin))
            return true;
    }
    return false;
}

bool OriginPolicy::isSafeRedirect(const QString &url) const
{
    return isSafeRelativePath(url) || isTrusted(url);
}

void OriginPolicy::checkOriginHeader(const Request &request) const
{
    QString origin = QString::fromUtf8(request.header("origin"));
    if (origin.isEmpty())
        origin = QString::fromUtf8(request.header("referer"));
    if (origin == QLatin1String("null") && request.header("sec-fetch-site") == "same-origin")
        origin = m_baseOrigin;
    if (origin.isEmpty() || origin == QLatin1String("null"))
        throw ApiError(403, CoreErrors::MISSING_OR_NULL_ORIGIN);
    if (!isTrusted(origin))
        throw ApiError(403, CoreErrors::INVALID_ORIGIN);
}

void OriginPolicy::checkCookieRequest(const Request &request) const
{
    if (request.method == "GET" || request.method == "HEAD" || request.method == "OPTIONS")
        return;
    if (request.hasHeader("cookie"))
        checkOriginHeader(request);
}

void OriginPolicy::checkLoginCsrf(const Request &request) const
{
    if (request.hasHeader("cookie")) {
        checkOriginHeader(request);
        return;
    }
    const bool fetchMetadata = request.hasHeader("sec-fetch-site") || request.hasHeader("sec-fetch-mode")
                               || request.hasHeader("sec-fetch-dest");
    if (fetchMetadata) {
        if (request.header("sec-fetch-site") == "cross-site" && request.header("sec-fetch-mode") == "navigate")
            throw ApiError(403, CoreErrors::CROSS_SITE_NAVIGATION_LOGIN_BLOCKED);
        checkOriginHeader(request);
        return;
    }
    if (request.hasHeader("origin") || request.hasHeader("referer"))
        checkOriginHeader(request);
    // No cookie, no fetch metadata, no Origin: a server-to-server or native client.
}

void OriginPolicy::checkRedirectFields(const QJsonObject &body, const QUrlQuery &query) const
{
    struct Field { const char *name; const char *label; ErrorCode error; };
    static const Field fields[] = {
        {"callbackURL", "callbackURL", CoreErrors::INVALID_CALLBACK_URL},
        {"redirectTo", "redirectURL", CoreErrors::INVALID_REDIRECT_URL},
        {"errorCallbackURL", "errorCallbackURL", CoreErrors::INVALID_ERROR_CALLBACK_URL},
        {"newUserCallbackURL", "newUserCallbackURL", CoreErrors::INVALID_NEW_USER_CALLBACK_URL},
    };
    for (const Field &field : fields) {
        const QString name = QLatin1String(field.name);
        QJsonValue value = body.value(name);
        if (value.isUndefined() && query.hasQueryItem(name))
            value = query.queryItemValue(name, QUrl::FullyDecoded);
        if (value.isUndefined() || value.isNull())
            continue;
        if (!value.isString())
            throw ApiError(400, QString(), QStringLiteral("Invalid %1: expected a string").arg(QLatin1String(field.label)));
        const QString url = value.toString();
        if (!url.isEmpty() && !isSafeRedirect(url))
            throw ApiError(403, field.error);
    }
}

} // namespace Kernia::Server
