// What an endpoint handler sees of one request: the parsed body, the request's cookie view
// (which the bearer plugin may rewrite), and the caller's session, looked up once.
#pragma once

#include "auth/json.h"
#include "http/request.h"

#include <QJsonObject>
#include <QMap>
#include <optional>

namespace Kernia::Server {

class AuthServer;
class SessionManager;
class Store;
struct AuthOptions;

class EndpointContext
{
public:
    EndpointContext(AuthServer &server, const Request &request, QString path);

    AuthServer &server() const { return m_server; }
    const AuthOptions &options() const;
    Store &store() const;
    SessionManager &sessions() const;
    const Request &request() const { return m_request; }
    const QString &path() const { return m_path; }   // relative to the base path

    QJsonObject body;            // {} when the request had none
    bool hasBody = false;

    // Which guest a session issued for this request may take in (the anonymous plugin's
    // link). Unset: the caller's guest, whoever it is — its request passed the origin
    // checks. An endpoint that a cross-site top-level navigation can reach (a GET that
    // signs in: /magic-link/verify) sets it to the guest that started the sign-in, or to
    // an empty string for none, so a link that someone else asked for cannot carry the
    // browser's guest into their account (login CSRF). Another guest is then not linked:
    // it keeps its data, and the browser's cookie is replaced by the new session's.
    std::optional<QString> linkableGuestId;

    // Set by the anonymous plugin once a session issued for this request has committed
    // while the request's credentials named a live guest: that guest's id when it was
    // linked, an empty string when it was not (linkableGuestId). Unset: no guest was at the
    // sign-in. The plugin answers a success with `kernia-linked-guest` from it.
    std::optional<QString> linkedGuestId;
    // Why the last attempt's on_link failed, if it did. PostgreSQL may run the sign-in
    // again and link then, so the plugin logs it only when the request fails.
    std::optional<QString> linkFailure;

    // The request cookies as endpoints see them (bearer injects the session cookie here).
    QMap<QByteArray, QByteArray> &cookies() { return m_cookies; }
    const QMap<QByteArray, QByteArray> &cookies() const { return m_cookies; }

    // The caller's session from the incoming credentials, without refreshing it.
    std::optional<SessionWithUser> callerSession();
    // True when the request carried a correctly signed token that maps to no live session.
    bool callerSessionIsDead();

    // Middlewares of protocol README §5.4; throw 401 UNAUTHORIZED / 403 SESSION_NOT_FRESH.
    SessionWithUser requireSession();
    SessionWithUser requireFreshSession();
    bool isFresh(const Session &session) const;

    // Forget the cached caller session (after an endpoint changed it).
    void resetCallerSession();

private:
    void resolveCaller();

    AuthServer &m_server;
    const Request &m_request;
    QString m_path;
    QMap<QByteArray, QByteArray> m_cookies;
    bool m_callerResolved = false;
    bool m_callerDead = false;
    std::optional<SessionWithUser> m_caller;
};

} // namespace Kernia::Server
