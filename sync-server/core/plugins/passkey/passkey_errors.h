// The passkey plugin's error codes (@better-auth/passkey 1.7.6, endpoints.md §21).
// Messages are byte-identical because apps match on them.
#pragma once

#include "http/api_error.h"

namespace Kernia::Server::PasskeyErrors {

inline constexpr ErrorCode CHALLENGE_NOT_FOUND{"CHALLENGE_NOT_FOUND", "Challenge not found"};
inline constexpr ErrorCode YOU_ARE_NOT_ALLOWED_TO_REGISTER_THIS_PASSKEY{"YOU_ARE_NOT_ALLOWED_TO_REGISTER_THIS_PASSKEY", "You are not allowed to register this passkey"};
inline constexpr ErrorCode FAILED_TO_VERIFY_REGISTRATION{"FAILED_TO_VERIFY_REGISTRATION", "Failed to verify registration"};
inline constexpr ErrorCode PASSKEY_NOT_FOUND{"PASSKEY_NOT_FOUND", "Passkey not found"};
inline constexpr ErrorCode AUTHENTICATION_FAILED{"AUTHENTICATION_FAILED", "Authentication failed"};
inline constexpr ErrorCode UNABLE_TO_CREATE_SESSION{"UNABLE_TO_CREATE_SESSION", "Unable to create session"};
inline constexpr ErrorCode USER_NOT_FOUND{"USER_NOT_FOUND", "User not found"};
inline constexpr ErrorCode FAILED_TO_UPDATE_PASSKEY{"FAILED_TO_UPDATE_PASSKEY", "Failed to update passkey"};
inline constexpr ErrorCode SESSION_REQUIRED{"SESSION_REQUIRED", "Passkey registration requires an authenticated session"};

} // namespace Kernia::Server::PasskeyErrors
