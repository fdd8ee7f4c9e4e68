// The username plugin's error codes (protocol endpoints.md §19), byte-identical to
// better-auth 1.7.25's USERNAME_ERROR_CODES.
#pragma once

#include "http/api_error.h"

namespace Kernia::Server::UsernameErrors {

inline constexpr ErrorCode INVALID_USERNAME_OR_PASSWORD{"INVALID_USERNAME_OR_PASSWORD", "Invalid username or password"};
inline constexpr ErrorCode EMAIL_NOT_VERIFIED{"EMAIL_NOT_VERIFIED", "Email not verified"};
inline constexpr ErrorCode UNEXPECTED_ERROR{"UNEXPECTED_ERROR", "Unexpected error"};
inline constexpr ErrorCode USERNAME_IS_ALREADY_TAKEN{"USERNAME_IS_ALREADY_TAKEN", "Username is already taken. Please try another."};
inline constexpr ErrorCode USERNAME_TOO_SHORT{"USERNAME_TOO_SHORT", "Username is too short"};
inline constexpr ErrorCode USERNAME_TOO_LONG{"USERNAME_TOO_LONG", "Username is too long"};
inline constexpr ErrorCode INVALID_USERNAME{"INVALID_USERNAME", "Username is invalid"};
inline constexpr ErrorCode INVALID_DISPLAY_USERNAME{"INVALID_DISPLAY_USERNAME", "Display username is invalid"};
inline constexpr ErrorCode USERNAME_IS_IMMUTABLE{"USERNAME_IS_IMMUTABLE", "Username cannot be updated"};

} // namespace Kernia::Server::UsernameErrors
