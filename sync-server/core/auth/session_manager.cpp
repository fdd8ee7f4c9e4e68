#include "session_manager.h"

#include "auth/auth_server.h"
#include "auth/endpoint_context.h"
#include "auth/plugin.h"
#include "crypto/crypto.h"
#include "store/store.h"

#include <algorithm>

namespace Kernia::Server {

SessionManager::SessionManager(const AuthOptions &options, Store &store)
    : m_options(options), m_store(store)
{
    const bool secure = options.secureCookies();
    m_tokenCookie = Cookies::cookieName(options.cookiePrefix, "session_token", secure);
    m_dataCookie = Cookies::cookieName(options.cookiePrefix, "session_data", secure);
    m_dontRememberCookie = Cookies::cookieName(options.cookiePrefix, "dont_remember", secure);
}

std::optional<QString> SessionManager::tokenFromCookies(const QMap<QByteArray, QByteArray> &cookies) const
{
    const auto it = cookies.constFind(m_tokenCookie);
    if (it == cookies.constEnd())
        return std::nullopt;
    const auto value = Cookies::verifySigned(it.value(), m_options.secret);
    if (!value || value->isEmpty())
        return std::nullopt;
    return QString::fromUtf8(*value);
}

bool SessionManager::hasValidDontRemember(const QMap<QByteArray, QByteArray> &cookies) const
{
    const auto it = cookies.constFind(m_dontRememberCookie);
    if (it == cookies.constEnd())
        return false;
    const auto value = Cookies::verifySigned(it.value(), m_options.secret);
    return value && *value == "true";
}

SessionManager::Lookup SessionManager::lookup(const QString &token)
{
    Lookup result;
    std::optional<std::pair<Session, User>> found = m_store.sessionWithUserByToken(token);
    if (!found) {
        result.dead = true;
        return result;
    }
    if (found->first.expiresAt < nowUtc()) {
        m_store.deleteSessionByToken(token);
        result.dead = true;
        return result;
    }
    result.live = SessionWithUser{std::move(found->first), std::move(found->second)};
    return result;
}

Session SessionManager::newSession(const QString &userId, bool rememberMe, const Request &request) const
{
    const QDateTime now = nowUtc();
    Session session;
    session.id = Crypto::sortableId();
    session.token = Crypto::randomId();
    session.userId = userId;
    session.createdAt = now;
    session.updatedAt = now;
    session.expiresAt = now.addSecs(rememberMe ? m_options.sessionExpiresIn : AuthOptions::kDontRememberExpiresIn);
    // Better Auth reads the client address from x-forwarded-for only; "" when absent.
    session.ipAddress = QString::fromUtf8(request.header("x-forwarded-for").split(',').value(0).trimmed());
    session.userAgent = QString::fromUtf8(request.header("user-agent"));
    return session;
}

SessionWithUser SessionManager::issue(EndpointContext &context, const std::function<User()> &resolveUser,
                                      bool rememberMe)
{
    SessionWithUser issued;
    m_store.transaction([&] {
        issued.user = resolveUser();
        issued.session = newSession(issued.user.id, rememberMe, context.request());
        m_store.createSession(issued.session);
        for (Plugin *plugin : context.server().plugins())
            plugin->onSessionIssued(context, issued);
    });
    return issued;
}

SessionWithUser SessionManager::issueForNewUser(EndpointContext &context, const User &user, bool rememberMe)
{
    const QList<Plugin *> &plugins = context.server().plugins();
    const bool hooked = std::any_of(plugins.cbegin(), plugins.cend(),
                                    [&](const Plugin *plugin) { return plugin->needsSessionIssued(context); });
    if (hooked) {
        return issue(context, [&] {
            m_store.createUser(user);
            return user;
        }, rememberMe);
    }
    SessionWithUser issued{newSession(user.id, rememberMe, context.request()), user};
    m_store.createUserWithSession(issued.user, issued.session);
    return issued;
}

Cookies::CookieAttributes SessionManager::attributes(std::optional<qint64> maxAge) const
{
    Cookies::CookieAttributes attrs;
    attrs.maxAge = maxAge;
    attrs.secure = m_options.secureCookies();
    return attrs;
}

void SessionManager::setSessionCookie(Response &response, const Session &session, bool rememberMe,
                                      const QMap<QByteArray, QByteArray> &requestCookies) const
{
    const QByteArray signedToken = Cookies::sign(session.token.toUtf8(), m_options.secret);
    response.setCookie(m_tokenCookie, Cookies::encodeURIComponent(signedToken),
                       attributes(rememberMe ? std::optional<qint64>(m_options.sessionExpiresIn) : std::nullopt));
    if (!rememberMe) {
        response.setCookie(m_dontRememberCookie,
                           Cookies::encodeURIComponent(Cookies::sign("true", m_options.secret)),
                           attributes(std::nullopt));
    } else if (requestCookies.contains(m_dontRememberCookie)) {
        response.setCookie(m_dontRememberCookie, QByteArray(), attributes(0));
    }
}

QList<QByteArray> SessionManager::sessionDataCookies(const QMap<QByteArray, QByteArray> &requestCookies) const
{
    QList<QByteArray> names;
    QMap<qint64, QByteArray> chunks;
    const QByteArray chunkPrefix = m_dataCookie + '.';
    // The map is sorted by name: the plain name and its chunks are one run of it.
    for (auto it = requestCookies.lowerBound(m_dataCookie);
         it != requestCookies.constEnd() && it.key().startsWith(m_dataCookie); ++it) {
        if (it.key() == m_dataCookie) {
            names.append(it.key());
            continue;
        }
        if (!it.key().startsWith(chunkPrefix))
            continue;
        // Better Auth's chunk index: a safe integer >= 0 written the canonical way ("0",
        // "12"; not "01", "+1" or "").
        const QByteArray index = it.key().mid(chunkPrefix.size());
        bool ok = false;
        const qint64 number = index.toLongLong(&ok);
        if (ok && number >= 0 && number <= (qint64(1) << 53) - 1 && QByteArray::number(number) == index)
            chunks.insert(number, it.key());
    }
    names.append(chunks.values());
    return names;
}

void SessionManager::clearSessionCookies(Response &response, const QMap<QByteArray, QByteArray> &requestCookies) const
{
    response.setCookie(m_tokenCookie, QByteArray(), attributes(0));
    response.setCookie(m_dataCookie, QByteArray(), attributes(0));
    for (const QByteArray &name : sessionDataCookies(requestCookies))
        response.setCookie(name, QByteArray(), attributes(0));   // the plain one moves here, once
    response.setCookie(m_dontRememberCookie, QByteArray(), attributes(0));
}

bool SessionManager::clearLeftoverSessionData(Response &response,
                                              const QMap<QByteArray, QByteArray> &requestCookies) const
{
    const QList<QByteArray> names = sessionDataCookies(requestCookies);
    // Better Auth reads the plain cookie, else the chunks joined: only a value counts.
    const bool hasValue = std::any_of(names.cbegin(), names.cend(),
                                      [&](const QByteArray &name) { return !requestCookies.value(name).isEmpty(); });
    if (!hasValue)
        return false;
    for (const QByteArray &name : names)
        response.setCookie(name, QByteArray(), attributes(0));
    return true;
}

bool SessionManager::refreshIfDue(Session &session)
{
    const QDateTime now = nowUtc();
    const QDateTime lastExtended = session.expiresAt.addSecs(-m_options.sessionExpiresIn);
    if (lastExtended.addSecs(m_options.sessionUpdateAge) > now)
        return false;
    session.expiresAt = now.addSecs(m_options.sessionExpiresIn);
    session.updatedAt = now;
    m_store.updateSession(session);
    return true;
}

} // namespace Kernia::Server
