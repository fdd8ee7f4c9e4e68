// Shared password rules of the email+password endpoints.
#pragma once

#include "auth/endpoint_context.h"
#include "store/models.h"

#include <optional>

namespace Kernia::Server {

// 400 PASSWORD_TOO_SHORT / PASSWORD_TOO_LONG, lengths in UTF-16 units as in JavaScript.
void checkNewPasswordLength(const EndpointContext &context, const QString &password);
void checkPasswordNotTooLong(const EndpointContext &context, const QString &password);

// The user's "credential" account that holds a password, if any.
std::optional<Account> credentialAccount(Store &store, const QString &userId);

} // namespace Kernia::Server
