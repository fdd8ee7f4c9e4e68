// The username plugin (protocol endpoints.md §1, §9, §19; better-auth 1.7.25 username()):
// a unique, normalised `username` and a free-form `displayUsername` on the user, set at
// sign-up/email and update-user, plus POST /sign-in/username and POST /is-username-available.
// sign-in/username issues its session through SessionManager::issue, so an anonymous caller
// is linked exactly as with sign-in/email.
#pragma once

#include "auth/plugin.h"
#include "plugins/username/username_options.h"

#include <QJsonObject>
#include <QLoggingCategory>
#include <optional>

Q_DECLARE_LOGGING_CATEGORY(lcUsername)

namespace Kernia::Server {

class Store;
struct ErrorCode;

class UsernamePlugin final : public Plugin
{
public:
    explicit UsernamePlugin(UsernameOptions options = {});

    QString id() const override { return QStringLiteral("username"); }
    void registerEndpoints(Router &router) override;
    void validateSignUp(EndpointContext &context) override;
    void prepareNewUser(EndpointContext &context, User &user) override;
    bool applyUserUpdate(EndpointContext &context, User &user) override;

    const UsernameOptions &options() const { return m_options; }

    // The rules, public for tests and for other code that creates users.
    // nullptr when `username` passes length and validator, else the error to answer with.
    const ErrorCode *usernameError(const QString &username) const;
    QString normalizeUsername(const QString &username) const;
    QString normalizeDisplayUsername(const QString &displayUsername) const;

private:
    // The username fields a sign-up body asks for, after Better Auth's sign-up rules
    // (displayUsername → username copy, username → displayUsername copy). Throws the 400s,
    // including USERNAME_IS_ALREADY_TAKEN.
    struct NewUserFields
    {
        std::optional<QString> username;          // normalised
        std::optional<QString> displayUsername;   // normalised with displayUsernameNormalization
    };
    NewUserFields signUpFields(EndpointContext &context) const;
    void checkDisplayUsername(const QJsonValue &displayUsername) const;
    // 400 USERNAME_IS_ALREADY_TAKEN when another user (not `ownerId`) holds the name.
    void checkAvailable(Store &store, const QString &normalisedUsername, const QString &ownerId = {}) const;

    Response signInUsername(EndpointContext &context);
    Response isUsernameAvailable(EndpointContext &context);

    UsernameOptions m_options;
};

} // namespace Kernia::Server
