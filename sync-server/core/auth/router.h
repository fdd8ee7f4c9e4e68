// The endpoint table: exact method + path, as Better Auth matches them (a trailing slash is
// another path; a wrong method is a 404 like an unknown path).
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
    const Endpoint *find(QByteArrayView method, const QString &path) const;
    int size() const { return int(m_endpoints.size()); }

private:
    static QString key(QByteArrayView method, const QString &path);
    QHash<QString, Endpoint> m_endpoints;
};

} // namespace Kernia::Server
