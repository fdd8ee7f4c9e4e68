// Better Auth's origin / CSRF rules (protocol README §4): which origins are trusted, the
// check every cookie-carrying non-GET request gets, the extra login-CSRF rule, and the
// redirect-URL checks.
#pragma once

#include "auth/options.h"
#include "http/request.h"

#include <QJsonObject>
#include <QRegularExpression>

namespace Kernia::Server {

class OriginPolicy
{
public:
    explicit OriginPolicy(const AuthOptions &options);

    // `url` may be an origin or a full URL; its origin must be trusted.
    bool isTrusted(const QString &url) const;
    // A safe relative path ("/x", not "//x") or an absolute URL with a trusted origin.
    bool isSafeRedirect(const QString &url) const;

    // §4.1 step 1: only when the raw request carries a Cookie header.
    void checkCookieRequest(const Request &request) const;
    // §4.2: sign-up/email, sign-in/email, sign-in/magic-link.
    void checkLoginCsrf(const Request &request) const;
    // §4.1 step 2: callbackURL, redirectTo, errorCallbackURL, newUserCallbackURL.
    void checkRedirectFields(const QJsonObject &body, const QUrlQuery &query) const;

    static QString originOf(const QString &url);

private:
    void checkOriginHeader(const Request &request) const;

    // A trusted-origin entry with wildcards (`*`, `?`), matched as Better Auth 1.7.25
    // does: against the whole origin when it names a scheme ("https://*.example.com"),
    // else against the host and port ("*.example.com").
    struct Pattern
    {
        QRegularExpression regex;
        bool againstHost = false;   // no "://": the URL's host[:port], whatever its scheme
        bool ipv4Only = false;      // host made of digits, dots and wildcards: an IPv4 range
    };
    static Pattern compilePattern(const QString &entry);
    static bool matches(const Pattern &pattern, const QString &origin);

    QString m_baseOrigin;
    QStringList m_exact;
    QList<Pattern> m_patterns;
};

} // namespace Kernia::Server
