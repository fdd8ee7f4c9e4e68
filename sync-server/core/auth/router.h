// The endpoint table: exact method + path, as Better Auth matches them (a trailing slash is
// another path; a wrong method is a 404 like an unknown path). A few endpoints take one
// path parameter (`/reset-password/:token`): addPrefix() registers them. A unit that serves
// another API beside /api/auth (data sync under /api/sync) registers its endpoints under
// that mount with addMounted(); they run through the same pipeline.
#pragma once

#include <QByteArray>
#include <QHash>
#include <QSet>
#include <QString>
#include <QStringList>
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
    QString path;               // relative to the base path (or its mount), e.g. "/sign-in/email"
    Body body = Body::Ignored;
    bool acceptsForm = false;   // application/x-www-form-urlencoded allowed too
    bool formCsrfCheck = false; // Better Auth's extra login-CSRF rule (protocol README §4.2)
    std::function<Response(EndpointContext &)> handler;
    // What holds the handler's thread. Most answer in microseconds on the request loop that
    // read them; the two kinds that block for long each run on a worker pool of their own,
    // so they never hold up a loop's other connections (get-session) nor each other.
    enum class Work {
        Quick,
        HashesPassword,   // scrypt, ~60 ms
        SendsMail,        // the mailer: SMTP waits for the mail server, up to its timeout
    };
    Work work = Work::Quick;
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
    // The route `path` belongs to, whatever the method: `path` itself when an endpoint is
    // registered for it, the prefix route's path ("/reset-password/") when one takes it,
    // a null QString when no endpoint serves it (an unknown path).
    QString routeOf(const QString &path) const;
    int size() const { return int(m_endpoints.size() + m_prefixEndpoints.size() + m_mounted.size()); }

    // An endpoint served under another absolute mount path instead of the base path, e.g.
    // addMounted("/api/sync", {"POST", "/push", ...}) serves POST /api/sync/push. `mount`
    // starts with '/', does not end with one, and must not be the base path.
    void addMounted(const QString &mount, Endpoint endpoint);
    // The mount that `absolutePath` lies under ("" when none) and the endpoint there.
    QString mountOf(const QString &absolutePath) const;
    const Endpoint *findMounted(QByteArrayView method, const QString &mount, const QString &path) const;
    // routeOf() under a mount: `path` when an endpoint is mounted there for it, else null.
    QString mountedRouteOf(const QString &mount, const QString &path) const;

    // The segment after `prefix` in `path` ("" when `path` does not match `prefix`).
    static QString pathParameter(const QString &prefix, const QString &path);

private:
    static QString key(QByteArrayView method, const QString &path);
    QHash<QString, Endpoint> m_endpoints;
    QHash<QString, Endpoint> m_prefixEndpoints;
    QHash<QString, Endpoint> m_mounted;   // key: method + mount + path
    QStringList m_mounts;
    QSet<QString> m_paths;                // of m_endpoints, any method
    QSet<QString> m_prefixPaths;          // of m_prefixEndpoints
    QSet<QString> m_mountedPaths;         // mount + path of m_mounted
};

} // namespace Kernia::Server
