// The magic-link plugin (protocol endpoints.md §20, transcripts 06 and 09):
//   POST /sign-in/magic-link  mails a single-use link (login-CSRF rule applies);
//   GET  /magic-link/verify   consumes it and signs in (302 for mail clicks, JSON for APIs).
// Signing in goes through SessionManager::issue, so an anonymous caller is linked in the
// same transaction; bearer clients get `set-auth-token` on the JSON answer and the 302.
//
// Kernia differs from Better Auth for an existing user whose email is not verified yet:
// Better Auth deletes all of that user's accounts (the password too) and sessions; Kernia
// keeps the accounts, revokes the sessions and marks the email verified
// (docs/methods/magic-link.md explains why).
#pragma once

#include "auth/plugin.h"
#include "plugins/magic_link/magic_link_options.h"

#include <QLoggingCategory>

Q_DECLARE_LOGGING_CATEGORY(lcMagicLink)

namespace Kernia::Server {

struct Verification;

class MagicLinkPlugin final : public Plugin
{
public:
    explicit MagicLinkPlugin(MagicLinkOptions options = {});

    QString id() const override { return QStringLiteral("magic-link"); }
    void registerEndpoints(Router &router) override;
    // Better Auth's magic-link plugin rule: 5 requests per 60 s per client and path.
    QList<RateLimitRule> rateLimitRules() const override
    {
        return {{[](const QString &path) {
                     return path.startsWith(QLatin1String("/sign-in/magic-link"))
                         || path.startsWith(QLatin1String("/magic-link/verify"));
                 }, 60, 5}};
    }

    const MagicLinkOptions &options() const { return m_options; }

    // "magic-link:<token>" or, with StoreToken::Hashed, "magic-link:<base64url(sha256)>".
    QString identifierFor(const QString &token) const;

private:
    Response signInMagicLink(EndpointContext &context);
    Response verify(EndpointContext &context);

    MagicLinkOptions m_options;
};

} // namespace Kernia::Server
