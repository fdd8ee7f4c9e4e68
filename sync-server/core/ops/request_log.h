// One structured log line per HTTP request (category kernia.http, info level) and the
// request id that ties a log line to a response (`x-request-id`).
//
//   RequestLogEntry entry{"POST", "/api/auth/sign-in/email", 401, 97.3, "10.0.0.7", id};
//   qCInfo(lcHttp).noquote() << formatRequestLog(entry);
//   // method=POST path=/api/auth/sign-in/email status=401 duration_ms=97.3 client=10.0.0.7 request_id=...
//
// Only these fields are logged: never headers, cookies, query strings or bodies, and path
// segments that carry a secret (/reset-password/<token>) are replaced by "[redacted]".
#pragma once

#include "http/request.h"

#include <QByteArray>
#include <QString>

namespace Kernia::Server {

struct RequestLogEntry
{
    QByteArray method;
    QString path;
    int status = 0;
    double durationMs = 0;
    QString client;
    QByteArray requestId;
};

// `key=value` pairs separated by spaces; a value with spaces, quotes, '=' or control
// characters is double-quoted with \" \\ and \xHH escapes, so one request is one line.
QString formatRequestLog(const RequestLogEntry &entry);

// The path with secret-bearing segments replaced (see above).
QString redactedPath(const QString &path);

// The caller's `x-request-id` when it is 1–64 characters of [A-Za-z0-9._:-] (a proxy's
// id), else a fresh random 20-character id.
QByteArray requestIdFor(const Request &request);

} // namespace Kernia::Server
