#include "credentials.h"

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

} // namespace Kernia::Server
