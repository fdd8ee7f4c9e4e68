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

    QString m_baseOrigin;
    QStringList m_exact;
    QList<QRegularExpression> m_patterns;
};

} // namespace Kernia::Server
