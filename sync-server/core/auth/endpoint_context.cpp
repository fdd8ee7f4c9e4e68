#include "endpoint_context.h"

#include "auth/auth_server.h"
#include "auth/error_codes.h"
#include "auth/session_manager.h"
#include "auth/cookies.h"

namespace Kernia::Server {

EndpointContext::EndpointContext(AuthServer &server, const Request &request, QString path)
    : m_server(server), m_request(request), m_path(std::move(path)),
      m_cookies(Cookies::parseCookieHeader(request.header("cookie")))
{
}

const AuthOptions &EndpointContext::options() const { return m_server.options(); }
Store &EndpointContext::store() const { return m_server.store(); }
SessionManager &EndpointContext::sessions() const { return m_server.sessions(); }

void EndpointContext::resolveCaller()
{
    if (m_callerResolved)
        return;
    m_callerResolved = true;
    const std::optional<QString> token = sessions().tokenFromCookies(m_cookies);
    if (!token)
        return;
    SessionManager::Lookup lookup = sessions().lookup(*token);
    m_caller = std::move(lookup.live);
    m_callerDead = lookup.dead;
}

std::optional<SessionWithUser> EndpointContext::callerSession()
{
    resolveCaller();
    return m_caller;
}

bool EndpointContext::callerSessionIsDead()
{
    resolveCaller();
    return m_callerDead;
}

void EndpointContext::resetCallerSession()
{
    m_callerResolved = false;
    m_callerDead = false;
    m_caller.reset();
}

SessionWithUser EndpointContext::requireSession()
{
    const std::optional<SessionWithUser> caller = callerSession();
    if (!caller)
        throw ApiError(401, CoreErrors::UNAUTHORIZED);
    return *caller;
}

bool EndpointContext::isFresh(const Session &session) const
{
    const qint64 freshAge = options().sessionFreshAge;
    return freshAge == 0 || session.createdAt.secsTo(nowUtc()) < freshAge;
}

SessionWithUser EndpointContext::requireFreshSession()
{
    SessionWithUser caller = requireSession();
    if (!isFresh(caller.session))
        throw ApiError(403, CoreErrors::SESSION_NOT_FRESH);
    return caller;
}

} // namespace Kernia::Server
