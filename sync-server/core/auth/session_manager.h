// Sessions as Better Auth keeps them (protocol README §2, §5): signed cookies, lookup,
// sliding refresh, and issuing a session together with the plugins' link hooks in one
// transaction.
#pragma once

#include "auth/json.h"
#include "auth/options.h"
#include "http/request.h"
#include "http/response.h"

#include <QMap>
#include <functional>
#include <optional>

namespace Kernia::Server {

class Store;
class EndpointContext;

class SessionManager
{
public:
    SessionManager(const AuthOptions &options, Store &store);

    QByteArray sessionTokenCookie() const { return m_tokenCookie; }
    QByteArray sessionDataCookie() const { return m_dataCookie; }
    QByteArray dontRememberCookie() const { return m_dontRememberCookie; }

    // The raw token of a correctly signed session cookie, if any.
    std::optional<QString> tokenFromCookies(const QMap<QByteArray, QByteArray> &cookies) const;
    bool hasValidDontRemember(const QMap<QByteArray, QByteArray> &cookies) const;

    struct Lookup
    {
        std::optional<SessionWithUser> live;
        bool dead = false; // a signed token that maps to no live session
    };
    // Expired rows found on the way are deleted.
    Lookup lookup(const QString &token);

    Session newSession(const QString &userId, bool rememberMe, const Request &request) const;

    // Runs `resolveUser` (finds or creates the user), writes a new session and runs every
    // plugin's onSessionIssued hook (the anonymous link) in ONE transaction. The caller then
    // answers with setSessionCookie().
    SessionWithUser issue(EndpointContext &context, const std::function<User()> &resolveUser,
                          bool rememberMe);
    // issue() for a user that is new, not yet written: when no plugin needs its
    // onSessionIssued hook for this request (Plugin::needsSessionIssued), the user and the
    // session are written by one Store::createUserWithSession.
    SessionWithUser issueForNewUser(EndpointContext &context, const User &user, bool rememberMe);

    void setSessionCookie(Response &response, const Session &session, bool rememberMe,
                          const QMap<QByteArray, QByteArray> &requestCookies) const;
    // Better Auth's deleteSessionCookie (protocol README §2.2): expires session_token,
    // session_data, every session_data chunk the request carries, then dont_remember.
    void clearSessionCookies(Response &response, const QMap<QByteArray, QByteArray> &requestCookies) const;
    // get-session with the cookie cache off, which Kernia always is (README §2.4): a
    // request that carries a session_data cookie (or chunks <name>.0, <name>.1, ... with a
    // value) gets each of them expired. Returns whether it did.
    bool clearLeftoverSessionData(Response &response, const QMap<QByteArray, QByteArray> &requestCookies) const;

    // Extends the session when it is at least updateAge old; returns true if it did.
    bool refreshIfDue(Session &session);

private:
    Cookies::CookieAttributes attributes(std::optional<qint64> maxAge) const;
    // The request's session_data cookie and its chunks (Better Auth splits a large cookie
    // cache into <name>.0, <name>.1, ...): the names present, the plain one first, then
    // the chunks by index.
    QList<QByteArray> sessionDataCookies(const QMap<QByteArray, QByteArray> &requestCookies) const;

    const AuthOptions &m_options;
    Store &m_store;
    QByteArray m_tokenCookie;
    QByteArray m_dataCookie;
    QByteArray m_dontRememberCookie;
};

} // namespace Kernia::Server
