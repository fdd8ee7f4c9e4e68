// The magic-link plugin's error codes. Better Auth's verify endpoint reports failures only
// as `?error=<code>` on its redirect (lower-case codes except INVALID_TOKEN); Kernia adds a
// JSON error for a server without a mailer.
#pragma once

#include "http/api_error.h"

namespace Kernia::Server::MagicLinkErrors {

// Redirect codes of GET /magic-link/verify.
inline constexpr auto INVALID_TOKEN = "INVALID_TOKEN";
inline constexpr auto NEW_USER_SIGNUP_DISABLED = "new_user_signup_disabled";
inline constexpr auto FAILED_TO_CREATE_USER = "failed_to_create_user";
// Kernia only: on_link failed; nothing changed and the link still works (try again).
inline constexpr auto ACCOUNT_LINK_FAILED = "ACCOUNT_LINK_FAILED";

// Kernia only: POST /sign-in/magic-link on a server that cannot send mail.
inline constexpr ErrorCode MAGIC_LINK_NOT_ENABLED{"MAGIC_LINK_NOT_ENABLED", "Magic link sign-in isn't enabled: the server has no mailer"};

} // namespace Kernia::Server::MagicLinkErrors
