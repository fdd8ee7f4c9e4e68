// The sync API's error codes (docs/sync-protocol.md §Errors). Every one answers HTTP 400
// except where the protocol doc says otherwise; 401 UNAUTHORIZED, 413 PAYLOAD_TOO_LARGE,
// 415 UNSUPPORTED_MEDIA_TYPE and 400 VALIDATION_ERROR / BAD_REQUEST come from the shared
// pipeline (auth/auth_server.cpp) exactly as for /api/auth.
#pragma once

#include "http/api_error.h"

#include <QString>
#include <stdexcept>

namespace Kernia::Server {

namespace SyncErrors {

inline constexpr ErrorCode INVALID_CLIENT_ID{"INVALID_CLIENT_ID", "clientId must be a string of 1-128 characters [A-Za-z0-9._:-]"};
inline constexpr ErrorCode INVALID_MUTATIONS{"INVALID_MUTATIONS", "mutations must be an array of mutation objects"};
inline constexpr ErrorCode TOO_MANY_MUTATIONS{"TOO_MANY_MUTATIONS", "Too many mutations in one push"};
inline constexpr ErrorCode INVALID_MID{"INVALID_MID", "mid must be a positive integer, increasing within the push"};
inline constexpr ErrorCode INVALID_OP{"INVALID_OP", "op must be \"put\", \"patch\" or \"delete\""};
inline constexpr ErrorCode INVALID_COLLECTION{"INVALID_COLLECTION", "collection must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,63}"};
inline constexpr ErrorCode INVALID_RECORD_ID{"INVALID_RECORD_ID", "id must be a string of 1-256 characters without control characters"};
inline constexpr ErrorCode INVALID_DATA{"INVALID_DATA", "data must be a JSON object for put and patch, and absent for delete"};
inline constexpr ErrorCode RECORD_TOO_LARGE{"RECORD_TOO_LARGE", "A record exceeds the size limit"};
inline constexpr ErrorCode SYNC_QUOTA_EXCEEDED{"SYNC_QUOTA_EXCEEDED", "The push would exceed the user's storage quota"};
inline constexpr ErrorCode INVALID_SINCE{"INVALID_SINCE", "since must be a non-negative integer"};
inline constexpr ErrorCode INVALID_LIMIT{"INVALID_LIMIT", "limit is out of range"};

} // namespace SyncErrors

// Raised by SyncService (which knows nothing of HTTP) for a request the protocol refuses;
// the sync endpoints answer it as 400 {code, message}.
class SyncError : public std::runtime_error
{
public:
    SyncError(const ErrorCode &error, const QString &detail = {})
        : std::runtime_error(error.code), m_code(QString::fromLatin1(error.code)),
          m_message(detail.isEmpty() ? QString::fromUtf8(error.message) : detail) {}

    const QString &code() const { return m_code; }
    const QString &message() const { return m_message; }

private:
    QString m_code;
    QString m_message;
};

} // namespace Kernia::Server
