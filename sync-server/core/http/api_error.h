// The error every endpoint and hook raises to answer with `{message, code}` and a status,
// like Better Auth's APIError. Thrown only inside the server core and always caught by the
// Router, which turns it into a Response; it never crosses a public API.
#pragma once

#include <QString>
#include <exception>

namespace Kernia::Server {

// A protocol error code and its human message, byte-identical to Better Auth's.
struct ErrorCode
{
    const char *code;
    const char *message;
};

class ApiError : public std::exception
{
public:
    ApiError(int status, const ErrorCode &error)
        : m_status(status), m_code(QString::fromLatin1(error.code)),
          m_message(QString::fromUtf8(error.message)) {}
    // `code` may be empty: a few Better Auth errors carry only a message.
    ApiError(int status, QString code, QString message)
        : m_status(status), m_code(std::move(code)), m_message(std::move(message)) {}

    int status() const { return m_status; }
    const QString &code() const { return m_code; }
    const QString &message() const { return m_message; }
    const char *what() const noexcept override { return "Kernia::Server::ApiError"; }

private:
    int m_status;
    QString m_code;
    QString m_message;
};

} // namespace Kernia::Server
