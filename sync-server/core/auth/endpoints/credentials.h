// Shared password rules of the email+password endpoints.
#pragma once

#include "auth/endpoint_context.h"
#include "http/api_error.h"
#include "http/response.h"
#include "store/models.h"

#include <optional>

namespace Kernia::Server {

// 400 PASSWORD_TOO_SHORT / PASSWORD_TOO_LONG, lengths in UTF-16 units as in JavaScript.
void checkNewPasswordLength(const EndpointContext &context, const QString &password);
void checkPasswordNotTooLong(const EndpointContext &context, const QString &password);

// The user's "credential" account that holds a password, if any.
std::optional<Account> credentialAccount(Store &store, const QString &userId);

// The shared end of sign-in/email and sign-in/username: checks `password` against the
// found user's credential (an unknown user costs the same scrypt run), issues the session
// (linking an anonymous caller), and answers {redirect, token, [url], user} with the
// cookie and, for a callbackURL in the body, a location header. Failures throw `rejected`.
Response signInWithPassword(EndpointContext &context, const std::optional<User> &user,
                            const QString &password, const ApiError &rejected);

} // namespace Kernia::Server
