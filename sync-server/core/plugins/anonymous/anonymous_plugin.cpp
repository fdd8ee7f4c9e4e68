#include "anonymous_plugin.h"

#include "auth/auth_server.h"
#include "auth/endpoint_context.h"
#include "auth/validation.h"
#include "crypto/crypto.h"
#include "plugins/anonymous/anonymous_errors.h"
#include "store/store.h"

Q_LOGGING_CATEGORY(lcAnonymous, "kernia.anonymous")

namespace Kernia::Server {

AnonymousPlugin::AnonymousPlugin(AnonymousOptions options)
    : m_options(std::move(options))
{
}

void AnonymousPlugin::registerEndpoints(Router &router)
{
    router.add({"POST", QStringLiteral("/sign-in/anonymous"), Endpoint::Body::Ignored, false, false,
                [this](EndpointContext &context) { return signInAnonymous(context); }});
    router.add({"POST", QStringLiteral("/delete-anonymous-user"), Endpoint::Body::Ignored, false, false,
                [this](EndpointContext &context) { return deleteAnonymousUser(context); }});
}

QString AnonymousPlugin::placeholderEmail() const
{
    if (m_options.generateRandomEmail) {
        const QString email = m_options.generateRandomEmail().toLower();
        if (!isValidEmail(email))
            throw ApiError(400, AnonymousErrors::INVALID_EMAIL_FORMAT);
        return email;
    }
    const QString id = Crypto::sortableId().toLower();
    if (!m_options.emailDomainName.isEmpty())
        return QStringLiteral("temp-%1@%2").arg(id, m_options.emailDomainName.toLower());
    return id + QStringLiteral("@anonymous.placeholder.invalid");
}

Response AnonymousPlugin::signInAnonymous(EndpointContext &context)
{
    const std::optional<SessionWithUser> caller = context.callerSession();
    if (caller && caller->user.isAnonymous)
        throw ApiError(400, AnonymousErrors::ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY);

    const QString email = placeholderEmail();
    const QString name = m_options.generateName ? m_options.generateName(context.request())
                                                : QStringLiteral("Anonymous");
    SessionWithUser issued;
    try {
        User user;
        user.id = Crypto::sortableId();
        user.name = name;
        user.email = email;
        user.isAnonymous = true;
        user.createdAt = user.updatedAt = nowUtc();
        issued = context.sessions().issueForNewUser(context, user, true);
    } catch (const StoreError &error) {
        // e.g. a custom generate_random_email that repeats itself
        qCWarning(lcAnonymous) << "could not create an anonymous user:" << error.what();
        throw ApiError(500, AnonymousErrors::FAILED_TO_CREATE_USER);
    }

    QByteArray body("{\"token\":");
    appendJsonString(body, issued.session.token);
    body += ",\"user\":";
    appendUserJson(body, issued.user);
    body += '}';
    Response response = Response::jsonText(body);
    context.sessions().setSessionCookie(response, issued.session, true, context.cookies());
    return response;
}

Response AnonymousPlugin::deleteAnonymousUser(EndpointContext &context)
{
    const SessionWithUser caller = context.requireSession();
    if (m_options.disableDeleteAnonymousUser)
        throw ApiError(400, AnonymousErrors::DELETE_ANONYMOUS_USER_DISABLED);
    if (!caller.user.isAnonymous)
        throw ApiError(403, AnonymousErrors::USER_IS_NOT_ANONYMOUS);
    context.store().deleteUser(caller.user.id);
    qCInfo(lcAnonymous) << "anonymous user" << caller.user.id << "deleted itself";
    Response response = Response::json(QJsonObject{{QStringLiteral("success"), true}});
    context.sessions().clearSessionCookies(response, context.cookies());
    return response;
}

bool AnonymousPlugin::needsSessionIssued(EndpointContext &context) const
{
    // Only a request that carries a session cookie can name a guest to link.
    return context.sessions().tokenFromCookies(context.cookies()).has_value();
}

void AnonymousPlugin::onSessionIssued(EndpointContext &context, const SessionWithUser &issued)
{
    // The guest is whoever the *incoming* credentials name. Read it again inside this
    // transaction: writers are serialised, so of two concurrent links from one guest the
    // second finds the guest already gone and signs in without linking.
    context.linkedGuestId.reset();   // PostgreSQL may run the sign-in transaction again
    context.linkFailure.reset();
    const std::optional<QString> token = context.sessions().tokenFromCookies(context.cookies());
    if (!token || *token == issued.session.token)
        return;
    Store &store = context.store();
    const std::optional<Session> guestSession = store.sessionByToken(*token);
    if (!guestSession || guestSession->expiresAt < nowUtc())
        return;
    const std::optional<User> guest = store.userById(guestSession->userId);
    if (!guest || !guest->isAnonymous)
        return;
    if (context.linkableGuestId && *context.linkableGuestId != guest->id) {
        // The sign-in was started by someone else (EndpointContext::linkableGuestId).
        store.afterCommit([&context] { context.linkedGuestId = QString(); });
        return;
    }

    const AnonymousLink link{{*guestSession, *guest}, issued, store, context.request(), context.path()};
    if (m_options.onLink) {
        QString failure;
        bool linked = false;
        try {
            linked = m_options.onLink(link, &failure);
        } catch (const std::exception &error) {
            failure = QString::fromUtf8(error.what());
        }
        if (!linked) {
            // Logged by onResponse if the sign-in fails: an attempt PostgreSQL runs again
            // after a serialization failure usually links.
            context.linkFailure = QStringLiteral("on_link failed for guest %1 -> %2 on %3; rolled back: %4")
                                      .arg(guest->id, issued.user.id, context.path(), failure);
            qCDebug(lcAnonymous).noquote() << *context.linkFailure;
            throw ApiError(500, AnonymousErrors::ACCOUNT_LINK_FAILED);
        }
    }

    const bool keepGuest = m_options.disableDeleteAnonymousUser || issued.user.id == guest->id
                           || issued.user.isAnonymous;
    if (!keepGuest)
        store.deleteUser(guest->id);
    store.afterCommit([&context, guestId = guest->id, userId = issued.user.id, path = context.path(), keepGuest] {
        context.linkedGuestId = guestId;   // runs before the sign-in's transaction() returns
        qCInfo(lcAnonymous).nospace() << "linked anonymous user " << guestId << " into " << userId << " via "
                                      << path << (keepGuest ? " (guest kept)" : "");
    });
}

void AnonymousPlugin::onResponse(EndpointContext &context, Response &response)
{
    // A header, not a JSON field: Better Auth's answers keep their shape. A native client
    // reads it to know whether its guest's data now belongs to the account (a magic link
    // links only the guest that asked for it): the linked guest's id, or `none` when the
    // guest at the sign-in was not linked.
    if (response.status() >= 400) {
        if (context.linkFailure)
            qCWarning(lcAnonymous).noquote() << *context.linkFailure;
        return;
    }
    if (!context.linkedGuestId)
        return;
    response.setHeader("kernia-linked-guest", context.linkedGuestId->isEmpty()
                                                  ? QByteArray("none") : context.linkedGuestId->toUtf8());
    QByteArray exposed = response.header("access-control-expose-headers");
    if (!exposed.contains("kernia-linked-guest"))
        exposed = exposed.isEmpty() ? QByteArray("kernia-linked-guest") : exposed + ", kernia-linked-guest";
    response.setHeader("access-control-expose-headers", exposed);
}

} // namespace Kernia::Server
