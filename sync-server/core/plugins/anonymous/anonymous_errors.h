// The anonymous plugin's error codes (protocol anonymous.md §3) plus Kernia's link failure.
#pragma once

#include "http/api_error.h"

namespace Kernia::Server::AnonymousErrors {

inline constexpr ErrorCode INVALID_EMAIL_FORMAT{"INVALID_EMAIL_FORMAT", "Email was not generated in a valid format"};
inline constexpr ErrorCode FAILED_TO_CREATE_USER{"FAILED_TO_CREATE_USER", "Failed to create user"};
inline constexpr ErrorCode COULD_NOT_CREATE_SESSION{"COULD_NOT_CREATE_SESSION", "Could not create session"};
inline constexpr ErrorCode ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY{"ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY", "Anonymous users cannot sign in again anonymously"};
inline constexpr ErrorCode FAILED_TO_DELETE_ANONYMOUS_USER{"FAILED_TO_DELETE_ANONYMOUS_USER", "Failed to delete anonymous user"};
inline constexpr ErrorCode USER_IS_NOT_ANONYMOUS{"USER_IS_NOT_ANONYMOUS", "User is not anonymous"};
inline constexpr ErrorCode DELETE_ANONYMOUS_USER_DISABLED{"DELETE_ANONYMOUS_USER_DISABLED", "Deleting anonymous users is disabled"};

// Kernia only: on_link failed, so the whole sign-in was rolled back and the guest is intact.
inline constexpr ErrorCode ACCOUNT_LINK_FAILED{"ACCOUNT_LINK_FAILED", "Linking the anonymous user to the account failed. Nothing was changed; try again."};

} // namespace Kernia::Server::AnonymousErrors
