// The anonymous plugin (protocol anonymous.md): guests get a real user and session at once;
// when a guest's request issues a session by any real sign-in method, the plugin runs
// on_link and deletes the guest — all inside the transaction that issues the session, so a
// failing on_link leaves the guest exactly as it was (Kernia's atomic link).
#pragma once

#include "auth/plugin.h"
#include "plugins/anonymous/anonymous_options.h"

#include <QLoggingCategory>

Q_DECLARE_LOGGING_CATEGORY(lcAnonymous)

namespace Kernia::Server {

class AnonymousPlugin final : public Plugin
{
public:
    explicit AnonymousPlugin(AnonymousOptions options = {});

    QString id() const override { return QStringLiteral("anonymous"); }
    void registerEndpoints(Router &router) override;
    void onSessionIssued(EndpointContext &context, const SessionWithUser &issued) override;
    bool needsSessionIssued(EndpointContext &context) const override;
    // A success that linked a guest says which: `kernia-linked-guest: <guest id>`; a
    // failed sign-in whose on_link failed logs why.
    void onResponse(EndpointContext &context, Response &response) override;

    const AnonymousOptions &options() const { return m_options; }

private:
    Response signInAnonymous(EndpointContext &context);
    Response deleteAnonymousUser(EndpointContext &context);
    QString placeholderEmail() const;

    AnonymousOptions m_options;
};

} // namespace Kernia::Server
