// The passkey plugin (@better-auth/passkey 1.7.6, endpoints.md §21): WebAuthn registration
// and sign-in with the same endpoints, JSON, cookies and error codes as Better Auth, so the
// official passkeyClient() works unchanged. WebAuthn checks live in webauthn/.
//
//   auth.addPlugin(std::make_unique<PasskeyPlugin>(options));
//
// Sign-in issues its session through SessionManager::issue, so a guest (anonymous user)
// signing in with a passkey is linked to the passkey's account in the same transaction.
#pragma once

#include "auth/plugin.h"
#include "plugins/passkey/passkey_options.h"

#include <QJsonObject>
#include <QLoggingCategory>

Q_DECLARE_LOGGING_CATEGORY(lcPasskey)

namespace Kernia::Server {

struct Passkey;

class PasskeyPlugin final : public Plugin
{
public:
    explicit PasskeyPlugin(PasskeyOptions options = {});

    QString id() const override { return QStringLiteral("passkey"); }
    void registerEndpoints(Router &router) override;

    const PasskeyOptions &options() const { return m_options; }

    static QJsonObject passkeyJson(const Passkey &passkey);

private:
    Response generateRegisterOptions(EndpointContext &context);
    Response verifyRegistration(EndpointContext &context);
    Response generateAuthenticateOptions(EndpointContext &context);
    Response verifyAuthentication(EndpointContext &context);
    Response listUserPasskeys(EndpointContext &context);
    Response deletePasskey(EndpointContext &context);
    Response updatePasskey(EndpointContext &context);

    QString rpId(const EndpointContext &context) const;
    QString rpName() const;
    // Accepted origins for this request; empty when none can be determined.
    QStringList expectedOrigins(const EndpointContext &context) const;
    QByteArray challengeCookieName(const EndpointContext &context) const;
    // Issues a challenge: verification row + signed cookie on `response`.
    void storeChallenge(EndpointContext &context, Response &response, const QJsonObject &data) const;
    // Reads the cookie, consumes the row and checks its type; throws CHALLENGE_NOT_FOUND.
    QJsonObject consumeChallenge(EndpointContext &context, const QString &ceremony) const;

    PasskeyOptions m_options;
};

} // namespace Kernia::Server
