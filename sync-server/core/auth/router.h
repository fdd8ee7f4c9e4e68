// The endpoint table: exact method + path, as Better Auth matches them (a trailing slash is
// another path; a wrong method is a 404 like an unknown path). A few endpoints take one
// path parameter (`/reset-password/:token`): addPrefix() registers them.
#pragma once

#include <QByteArray>
#include <QHash>
#include <QString>
#include <functional>

namespace Kernia::Server {

class EndpointContext;
class Response;

struct Endpoint
{
    enum class Body {
        Ignored,        // no body schema: any JSON body is accepted and unused
        Optional,       // an object if present
        Required,       // an object is required (VALIDATION_ERROR otherwise)
    };

    QByteArray method;          // "GET" or "POST"
    QString path;               // relative to the base path, e.g. "/sign-in/email"
    Body body = Body::Ignored;
    bool acceptsForm = false;   // application/x-www-form-urlencoded allowed too
    bool formCsrfCheck = false; // Better Auth's extra login-CSRF rule (protocol README §4.2)
    std::function<Response(EndpointContext &)> handler;
};

class Router
{
public:
    void add(Endpoint endpoint);
    // `endpoint.path` ends with '/' (e.g. "/reset-password/") and matches that prefix
    // followed by exactly one non-empty segment; the handler reads it with
    // pathParameter(). Exact routes win over prefix routes.
    void addPrefix(Endpoint endpoint);
    const Endpoint *find(QByteArrayView method, const QString &path) const;
    int size() const { return int(m_endpoints.size() + m_prefixEndpoints.size()); }

    // The segment after `prefix` in `path` ("" when `path` does not match `prefix`).
    static QString pathParameter(const QString &prefix, const QString &path);

private:
    static QString key(QByteArrayView method, const QString &path);
    QHash<QString, Endpoint> m_endpoints;
    QHash<QString, Endpoint> m_prefixEndpoints;
};

} // namespace Kernia::Server
