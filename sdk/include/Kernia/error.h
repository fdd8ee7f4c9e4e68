// Kernia::Error — what went wrong, as a value. Nothing in the Kernia API throws.
//
//   client.signInEmail(email, password).then(&app, [](const Kernia::Error &error) {
//       if (!error)                                   // success
//           return;
//       if (error.code() == QLatin1String("INVALID_EMAIL_OR_PASSWORD"))
//           showHint(error.message());                 // the server's own message
//       else if (error.isTransient())                  // timeout, 5xx, no network
//           offerRetry();
//   });
//
// code() is the server's UPPER_SNAKE code when the server answered with one
// (e.g. "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"), otherwise one of the SDK's own
// codes listed below. kind() groups codes into what an app can act on.
#pragma once

#include <Kernia/kernia_global.h>

#include <QtCore/QDebug>
#include <QtCore/QMetaType>
#include <QtCore/QObject>
#include <QtCore/QSharedDataPointer>
#include <QtCore/QString>

namespace Kernia {

class ErrorData;

class KERNIA_SDK_EXPORT Error
{
    Q_GADGET
    Q_PROPERTY(bool isError READ isError CONSTANT)
    Q_PROPERTY(Kernia::Error::Kind kind READ kind CONSTANT)
    Q_PROPERTY(QString code READ code CONSTANT)
    Q_PROPERTY(QString message READ message CONSTANT)
    Q_PROPERTY(int httpStatus READ httpStatus CONSTANT)
    Q_PROPERTY(bool isTransient READ isTransient CONSTANT)

public:
    enum class Kind {
        None,                // success: no error
        Network,             // NETWORK_ERROR: connection refused/reset, host unreachable (transient)
        Timeout,             // TIMEOUT: no complete answer within ClientOptions::requestTimeout (transient)
        Server,              // server failed (5xx); code is the server's or SERVER_ERROR (transient)
        BadResponse,         // BAD_RESPONSE: the answer was not the protocol (garbage, wrong shape) (transient)
        Rejected,            // the server refused the request (4xx); code/message are the server's
        SessionGone,         // SESSION_GONE: the server definitely no longer knows this session
        KeychainUnavailable, // KEYCHAIN_UNAVAILABLE: the OS keychain cannot be used
        LocalStore,          // LOCAL_STORE_ERROR: the local SQLite cache failed
        InvalidState,        // INVALID_STATE: the operation does not fit the current state
        InvalidArgument,     // INVALID_ARGUMENT: e.g. a magic link URL without a token
        Cancelled            // CANCELLED: superseded or the client was destroyed
    };
    Q_ENUM(Kind)

    // SDK codes (server codes are passed through unchanged).
    static constexpr const char *NetworkErrorCode = "NETWORK_ERROR";
    static constexpr const char *TimeoutCode = "TIMEOUT";
    static constexpr const char *ServerErrorCode = "SERVER_ERROR";
    static constexpr const char *BadResponseCode = "BAD_RESPONSE";
    static constexpr const char *SessionGoneCode = "SESSION_GONE";
    // Kind SessionGone: the server named another user than the cached one for the stored token.
    static constexpr const char *SessionUserMismatchCode = "SESSION_USER_MISMATCH";
    // Kind of the check's failure (Network, Timeout, Server or BadResponse: transient): the
    // stored session token awaits its check against the server (GET /get-session) before
    // it is used for anything else, and that check failed, e.g. offline.
    static constexpr const char *SessionUnconfirmedCode = "SESSION_UNCONFIRMED";
    static constexpr const char *KeychainUnavailableCode = "KEYCHAIN_UNAVAILABLE";
    static constexpr const char *LocalStoreErrorCode = "LOCAL_STORE_ERROR";
    static constexpr const char *InvalidStateCode = "INVALID_STATE";
    static constexpr const char *InvalidArgumentCode = "INVALID_ARGUMENT";
    static constexpr const char *CancelledCode = "CANCELLED";

    Error();   // no error
    Error(Kind kind, const QString &code, const QString &message, int httpStatus = 0);
    Error(const Error &other);
    Error(Error &&other) noexcept;
    Error &operator=(const Error &other);
    Error &operator=(Error &&other) noexcept;
    ~Error();

    // Convenience constructor for an SDK error with its default code for kind.
    static Error fromKind(Kind kind, const QString &message);

    bool isError() const;
    explicit operator bool() const { return isError(); }

    Kind kind() const;
    QString code() const;
    QString message() const;
    int httpStatus() const;   // 0 when no HTTP answer was involved

    // True for failures that may go away by themselves (timeout, 5xx, no network,
    // garbage from a proxy). A transient error never replaces a stored session.
    bool isTransient() const;

    QString toString() const;   // "CODE: message (HTTP n)" for logs

    bool operator==(const Error &other) const;
    bool operator!=(const Error &other) const { return !(*this == other); }

    void swap(Error &other) noexcept { d.swap(other.d); }

private:
    QSharedDataPointer<ErrorData> d;
};

KERNIA_SDK_EXPORT QDebug operator<<(QDebug debug, const Error &error);

} // namespace Kernia

Q_DECLARE_SHARED(Kernia::Error)
Q_DECLARE_METATYPE(Kernia::Error)
