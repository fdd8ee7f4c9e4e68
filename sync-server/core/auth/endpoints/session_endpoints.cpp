// get-session, sign-out, list-sessions, revoke-session(s), revoke-other-sessions,
// update-session (endpoints.md §3–8, §10).
#include "auth/auth_server.h"
#include "auth/core_endpoints.h"
#include "auth/endpoint_context.h"
#include "auth/error_codes.h"
#include "auth/validation.h"
#include "store/store.h"

#include <QJsonArray>

namespace Kernia::Server {

namespace {

const QJsonObject kStatusTrue{{QStringLiteral("status"), true}};

Response getSession(EndpointContext &context)
{
    SessionManager &sessions = context.sessions();
    std::optional<SessionWithUser> caller = context.callerSession();
    bool refreshed = false;
    if (caller) {
        const bool dontRemember = sessions.hasValidDontRemember(context.cookies());
        const bool refreshDisabled =
            context.request().query.queryItemValue(QStringLiteral("disableRefresh")) == QLatin1String("true");
        refreshed = !dontRemember && !refreshDisabled && sessions.refreshIfDue(caller->session);
    }

    QByteArray body("null");   // Better Auth answers a literal null without a session
    if (caller) {
        body = QByteArrayLiteral("{\"session\":");
        appendSessionJson(body, caller->session);
        body += ",\"user\":";
        appendUserJson(body, caller->user);
        body += '}';
    }
    Response response = Response::jsonText(body);
    response.setHeader("cache-control", "no-store");
    response.setHeader("pragma", "no-cache");
    // First, as Better Auth does before it even looks at the session cookie.
    sessions.clearLeftoverSessionData(response, context.cookies());
    if (refreshed)
        sessions.setSessionCookie(response, caller->session, true, context.cookies());
    else if (!caller && context.callerSessionIsDead())
        sessions.clearSessionCookies(response, context.cookies());
    return response;
}

Response signOut(EndpointContext &context)
{
    if (const std::optional<QString> token = context.sessions().tokenFromCookies(context.cookies()))
        context.store().deleteSessionByToken(*token);
    Response response = Response::json(QJsonObject{{QStringLiteral("success"), true}});
    context.sessions().clearSessionCookies(response, context.cookies());
    return response;
}

Response listSessions(EndpointContext &context)
{
    const SessionWithUser caller = context.requireFreshSession();
    const QDateTime now = nowUtc();
    QJsonArray list;
    for (const Session &session : context.store().sessionsByUser(caller.user.id)) {
        if (session.expiresAt > now)
            list.append(sessionJson(session));
    }
    return Response::json(list);
}

Response revokeSession(EndpointContext &context)
{
    const SessionWithUser caller = context.requireSession();
    BodySchema().string(QStringLiteral("token")).validate(context.body);
    const QString token = context.body.value(QStringLiteral("token")).toString();
    Response response = Response::json(kStatusTrue);
    // Unknown and foreign tokens get the same answer, so tokens cannot be probed.
    const std::optional<Session> target = context.store().sessionByToken(token);
    if (target && target->userId == caller.user.id) {
        context.store().deleteSessionByToken(token);
        if (token == caller.session.token)
            context.sessions().clearSessionCookies(response, context.cookies());
    }
    return response;
}

Response revokeSessions(EndpointContext &context)
{
    const SessionWithUser caller = context.requireSession();
    context.store().deleteSessionsByUser(caller.user.id);
    Response response = Response::json(kStatusTrue);
    context.sessions().clearSessionCookies(response, context.cookies());
    return response;
}

Response revokeOtherSessions(EndpointContext &context)
{
    const SessionWithUser caller = context.requireSession();
    context.store().deleteSessionsByUserExcept(caller.user.id, caller.session.token);
    return Response::json(kStatusTrue);
}

Response updateSession(EndpointContext &context)
{
    context.requireSession();
    // Kernia declares no additional session fields, so there is never anything to update.
    throw ApiError(400, QString(), QStringLiteral("No fields to update"));
}

} // namespace

void registerSessionEndpoints(Router &router)
{
    router.add({"GET", QStringLiteral("/get-session"), Endpoint::Body::Ignored, false, false, getSession});
    router.add({"POST", QStringLiteral("/sign-out"), Endpoint::Body::Optional, false, false, signOut});
    router.add({"GET", QStringLiteral("/list-sessions"), Endpoint::Body::Ignored, false, false, listSessions});
    router.add({"POST", QStringLiteral("/revoke-session"), Endpoint::Body::Required, false, false, revokeSession});
    router.add({"POST", QStringLiteral("/revoke-sessions"), Endpoint::Body::Ignored, false, false, revokeSessions});
    router.add({"POST", QStringLiteral("/revoke-other-sessions"), Endpoint::Body::Ignored, false, false, revokeOtherSessions});
    router.add({"POST", QStringLiteral("/update-session"), Endpoint::Body::Optional, false, false, updateSession});
}

void registerCoreEndpoints(Router &router)
{
    registerSessionEndpoints(router);
    registerUserEndpoints(router);
    registerEmailPasswordEndpoints(router);
    registerMailEndpoints(router);
}

} // namespace Kernia::Server
