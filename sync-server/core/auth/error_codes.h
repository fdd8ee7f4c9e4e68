// Better Auth's core error codes (BASE_ERROR_CODES, 1.7.25) and the ad-hoc ones its
// endpoints use. Messages are byte-identical because apps match on them. Plugin codes live
// in their plugin's folder.
#pragma once

#include "http/api_error.h"

namespace Kernia::Server::CoreErrors {

inline constexpr ErrorCode USER_NOT_FOUND{"USER_NOT_FOUND", "User not found"};
inline constexpr ErrorCode FAILED_TO_CREATE_USER{"FAILED_TO_CREATE_USER", "Failed to create user"};
inline constexpr ErrorCode FAILED_TO_CREATE_SESSION{"FAILED_TO_CREATE_SESSION", "Failed to create session"};
inline constexpr ErrorCode FAILED_TO_UPDATE_USER{"FAILED_TO_UPDATE_USER", "Failed to update user"};
inline constexpr ErrorCode INVALID_PASSWORD{"INVALID_PASSWORD", "Invalid password"};
inline constexpr ErrorCode INVALID_EMAIL{"INVALID_EMAIL", "Invalid email"};
inline constexpr ErrorCode INVALID_EMAIL_OR_PASSWORD{"INVALID_EMAIL_OR_PASSWORD", "Invalid email or password"};
inline constexpr ErrorCode INVALID_TOKEN{"INVALID_TOKEN", "Invalid token"};
inline constexpr ErrorCode PASSWORD_TOO_SHORT{"PASSWORD_TOO_SHORT", "Password too short"};
inline constexpr ErrorCode PASSWORD_TOO_LONG{"PASSWORD_TOO_LONG", "Password too long"};
inline constexpr ErrorCode USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL{"USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", "User already exists. Use another email."};
inline constexpr ErrorCode EMAIL_CAN_NOT_BE_UPDATED{"EMAIL_CAN_NOT_BE_UPDATED", "Email can not be updated"};
inline constexpr ErrorCode CHANGE_EMAIL_DISABLED{"CHANGE_EMAIL_DISABLED", "Change email is disabled"};
inline constexpr ErrorCode CREDENTIAL_ACCOUNT_NOT_FOUND{"CREDENTIAL_ACCOUNT_NOT_FOUND", "Credential account not found"};
inline constexpr ErrorCode FAILED_TO_GET_USER_INFO{"FAILED_TO_GET_USER_INFO", "Failed to get user info"};
inline constexpr ErrorCode SESSION_EXPIRED{"SESSION_EXPIRED", "Session expired. Re-authenticate to perform this action."};
inline constexpr ErrorCode CROSS_SITE_NAVIGATION_LOGIN_BLOCKED{"CROSS_SITE_NAVIGATION_LOGIN_BLOCKED", "Cross-site navigation login blocked. This request appears to be a CSRF attack."};
inline constexpr ErrorCode SESSION_NOT_FRESH{"SESSION_NOT_FRESH", "Session is not fresh"};
inline constexpr ErrorCode INVALID_ORIGIN{"INVALID_ORIGIN", "Invalid origin"};
inline constexpr ErrorCode INVALID_CALLBACK_URL{"INVALID_CALLBACK_URL", "Invalid callbackURL"};
inline constexpr ErrorCode INVALID_REDIRECT_URL{"INVALID_REDIRECT_URL", "Invalid redirectURL"};
inline constexpr ErrorCode INVALID_ERROR_CALLBACK_URL{"INVALID_ERROR_CALLBACK_URL", "Invalid errorCallbackURL"};
inline constexpr ErrorCode INVALID_NEW_USER_CALLBACK_URL{"INVALID_NEW_USER_CALLBACK_URL", "Invalid newUserCallbackURL"};
inline constexpr ErrorCode MISSING_OR_NULL_ORIGIN{"MISSING_OR_NULL_ORIGIN", "Missing or null Origin"};
inline constexpr ErrorCode BODY_MUST_BE_AN_OBJECT{"BODY_MUST_BE_AN_OBJECT", "Body must be an object"};
inline constexpr ErrorCode METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED{"METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED", "POST method requires deferSessionRefresh to be enabled in session config"};

inline constexpr ErrorCode UNAUTHORIZED{"UNAUTHORIZED", "Unauthorized"};
inline constexpr ErrorCode BAD_JSON{"BAD_REQUEST", "Invalid JSON in request body"};
inline constexpr ErrorCode INTERNAL_SERVER_ERROR{"INTERNAL_SERVER_ERROR", "Internal Server Error"};

// Kernia's own (not in Better Auth): see docs/server.md.
inline constexpr ErrorCode PAYLOAD_TOO_LARGE{"PAYLOAD_TOO_LARGE", "Request body is too large"};
// Kernia's own: a guest's email is a placeholder; it gets a real one by signing up, which
// links its data (docs/mail.md, "Changing the email address"; docs/anonymous.md).
inline constexpr ErrorCode ANONYMOUS_USERS_CANNOT_CHANGE_EMAIL{"ANONYMOUS_USERS_CANNOT_CHANGE_EMAIL", "Anonymous users cannot change their email. Sign up instead."};

} // namespace Kernia::Server::CoreErrors
