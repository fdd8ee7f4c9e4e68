#include "credentials.h"

#include "auth/auth_server.h"
#include "auth/error_codes.h"
#include "auth/options.h"
#include "store/store.h"

namespace Kernia::Server {

void checkNewPasswordLength(const EndpointContext &context, const QString &password)
{
    if (password.size() < context.options().minPasswordLength)
        throw ApiError(400, CoreErrors::PASSWORD_TOO_SHORT);
    checkPasswordNotTooLong(context, password);
}

void checkPasswordNotTooLong(const EndpointContext &context, const QString &password)
{
    if (password.size() > context.options().maxPasswordLength)
        throw ApiError(400, CoreErrors::PASSWORD_TOO_LONG);
}

std::optional<Account> credentialAccount(Store &store, const QString &userId)
{
    for (const Account &account : store.accountsByUser(userId)) {
        if (account.providerId == QLatin1String(kCredentialProvider) && account.password)
            return account;
    }
    return std::nullopt;
}

Response signInWithPassword(EndpointContext &context, const std::optional<User> &user,
                            const QString &password, const ApiError &rejected)
{
    Store &store = context.store();
    PasswordHasher &hasher = context.server().passwords();
    const std::optional<Account> account = user ? credentialAccount(store, user->id) : std::nullopt;
    if (!account || account->accountId != user->id) {
        hasher.spendVerificationTime(password); // same cost as a real check: no user enumeration
        throw rejected;
    }
    if (!hasher.verify(*account->password, password))
        throw rejected;

    const QJsonObject &body = context.body;
    const bool rememberMe = body.value(QStringLiteral("rememberMe")).toBool(true);
    const SessionWithUser issued = context.sessions().issue(context, [&] {
        // Re-read inside the transaction: the user may have been deleted meanwhile.
        std::optional<User> current = store.userById(user->id);
        if (!current)
            throw rejected;
        return *current;
    }, rememberMe);

    QJsonObject json{{QStringLiteral("redirect"), false},
                     {QStringLiteral("token"), issued.session.token},
                     {QStringLiteral("user"), userJson(issued.user)}};
    const QString callbackUrl = body.value(QStringLiteral("callbackURL")).toString();
    if (!callbackUrl.isEmpty()) {
        json.insert(QStringLiteral("redirect"), true);
        json.insert(QStringLiteral("url"), callbackUrl);
    }
    Response response = Response::json(json);
    if (!callbackUrl.isEmpty())
        response.setHeader("location", callbackUrl.toUtf8());
    context.sessions().setSessionCookie(response, issued.session, rememberMe, context.cookies());
    return response;
}

} // namespace Kernia::Server
