// The auth engine: Better Auth's request pipeline over plain Request/Response values.
//
//   AuthServer auth(options, store);
//   auth.addPlugin(std::make_unique<AnonymousPlugin>(anonymousOptions));
//   Response r = auth.handle(request);   // any thread; no sockets involved
//
// Serves the base path (/api/auth) and every mount registered with Router::addMounted()
// (/api/sync); both run the same pipeline.
// Pipeline per request: rate limit (when set) → size limit → route → plugin onRequest (bearer) → origin check →
// body parsing → redirect-URL checks → login-CSRF → endpoint → plugin onResponse.
#pragma once

#include "auth/options.h"
#include "auth/origin_policy.h"
#include "auth/password_hasher.h"
#include "auth/router.h"
#include "auth/session_manager.h"
#include "http/request.h"
#include "http/response.h"

#include <QLoggingCategory>
#include <memory>
#include <vector>

Q_DECLARE_LOGGING_CATEGORY(lcAuth)

namespace Kernia::Server {

class Plugin;
class Store;
class ApiError;
class Mailer;
class RateLimiter;

class AuthServer
{
public:
    AuthServer(AuthOptions options, std::shared_ptr<Store> store);
    ~AuthServer();
    AuthServer(const AuthServer &) = delete;
    AuthServer &operator=(const AuthServer &) = delete;

    // Where a request goes: its endpoint (null when none matches), the mount it is under
    // ("" for the auth base path) and its path below that.
    struct Route
    {
        const Endpoint *endpoint = nullptr;
        QString mount;
        QString path;
        // What would hold the thread that runs it (the HTTP layer picks a pool by it).
        Endpoint::Work work() const { return endpoint ? endpoint->work : Endpoint::Work::Quick; }
    };

    // Register plugins before the first request; handle() is then safe from any thread.
    void addPlugin(std::unique_ptr<Plugin> plugin);
    Route route(const Request &request) const;
    Response handle(const Request &request) { return handle(request, route(request)); }
    Response handle(const Request &request, const Route &route);   // `route` of this request

    const AuthOptions &options() const { return m_options; }
    Store &store() const { return *m_store; }
    SessionManager &sessions() { return m_sessions; }
    PasswordHasher &passwords() { return m_passwords; }
    const OriginPolicy &origins() const { return m_origins; }
    Router &router() { return m_router; }
    const QList<Plugin *> &plugins() const { return m_pluginView; }

    // Optional: without a mailer, mail-based features answer "not enabled" as Better Auth does.
    void setMailer(std::shared_ptr<Mailer> mailer) { m_mailer = std::move(mailer); }
    Mailer *mailer() const { return m_mailer.get(); }

    // Optional: without a rate limiter every request is let through (core/ratelimit).
    void setRateLimiter(std::shared_ptr<RateLimiter> limiter) { m_rateLimiter = std::move(limiter); }
    RateLimiter *rateLimiter() const { return m_rateLimiter.get(); }

    static Response errorResponse(const ApiError &error);

private:
    Response dispatch(const Endpoint &endpoint, EndpointContext &context);
    void parseBody(const Endpoint &endpoint, EndpointContext &context) const;

    AuthOptions m_options;
    std::shared_ptr<Store> m_store;
    std::shared_ptr<Mailer> m_mailer;
    std::shared_ptr<RateLimiter> m_rateLimiter;
    SessionManager m_sessions;
    PasswordHasher m_passwords;
    OriginPolicy m_origins;
    Router m_router;
    std::vector<std::unique_ptr<Plugin>> m_plugins;
    QList<Plugin *> m_pluginView;
};

} // namespace Kernia::Server
