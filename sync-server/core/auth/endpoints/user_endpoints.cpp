// update-user, change-password, delete-user (with its mailed confirmation link,
// /delete-user/callback), list-accounts, ok, error (endpoints.md §9, §11, §13, §16, §17).
#include "auth/auth_server.h"
#include "auth/core_endpoints.h"
#include "auth/endpoint_context.h"
#include "auth/endpoints/credentials.h"
#include "auth/endpoints/mail_support.h"
#include "auth/error_codes.h"
#include "auth/plugin.h"
#include "auth/session_manager.h"
#include "auth/validation.h"
#include "crypto/crypto.h"
#include "mail/mailer.h"
#include "store/store.h"

#include <QJsonArray>

namespace Kernia::Server {

namespace {

Response updateUser(EndpointContext &context)
{
    SessionWithUser caller = context.requireSession();
    if (!context.hasBody)
        throw ApiError(400, CoreErrors::BODY_MUST_BE_AN_OBJECT);
    const QJsonObject &body = context.body;
    if (body.contains(QStringLiteral("email")))
        throw ApiError(400, CoreErrors::EMAIL_CAN_NOT_BE_UPDATED);
    BodySchema().string(QStringLiteral("name"), BodySchema::Presence::Optional)
        .nullableString(QStringLiteral("image"))
        .validate(body);

    User &user = caller.user;
    bool changed = false;
    if (body.contains(QStringLiteral("name"))) {
        user.name = body.value(QStringLiteral("name")).toString();
        changed = true;
    }
    if (body.contains(QStringLiteral("image"))) {
        const QJsonValue image = body.value(QStringLiteral("image"));
        user.image = image.isNull() ? std::nullopt : std::optional<QString>(image.toString());
        changed = true;
    }
    for (Plugin *plugin : context.server().plugins())
        changed = plugin->applyUserUpdate(context, user) || changed;
    if (!changed)
        throw ApiError(400, QString(), QStringLiteral("No fields to update"));

    user.updatedAt = nowUtc();
    try {
        context.store().updateUser(user);
    } catch (const StoreError &error) {
        if (!error.isUniqueViolation())
            throw;
        // Lost a race for a unique plugin field (username): re-run the plugins' checks, which
        // now see the winner's row and answer with their own code.
        User current = context.store().userById(user.id).value_or(caller.user);
        for (Plugin *plugin : context.server().plugins())
            plugin->applyUserUpdate(context, current);
        throw;
    }
    Response response = Response::json(QJsonObject{{QStringLiteral("status"), true}});
    // Better Auth re-issues the session cookie here (so bearer clients get set-auth-token).
    const bool rememberMe = !context.sessions().hasValidDontRemember(context.cookies());
    context.sessions().setSessionCookie(response, caller.session, rememberMe, context.cookies());
    return response;
}

Response changePassword(EndpointContext &context)
{
    const SessionWithUser caller = context.requireSession();
    BodySchema().string(QStringLiteral("newPassword"))
        .string(QStringLiteral("currentPassword"))
        .boolean(QStringLiteral("revokeOtherSessions"))
        .validate(context.body);
    const QString newPassword = context.body.value(QStringLiteral("newPassword")).toString();
    const QString currentPassword = context.body.value(QStringLiteral("currentPassword")).toString();
    const bool revokeOthers = context.body.value(QStringLiteral("revokeOtherSessions")).toBool(false);
    checkNewPasswordLength(context, newPassword);
    checkPasswordNotTooLong(context, currentPassword);

    Store &store = context.store();
    std::optional<Account> account = credentialAccount(store, caller.user.id);
    if (!account)
        throw ApiError(400, CoreErrors::CREDENTIAL_ACCOUNT_NOT_FOUND);
    PasswordHasher &hasher = context.server().passwords();
    if (!hasher.verify(*account->password, currentPassword))
        throw ApiError(400, CoreErrors::INVALID_PASSWORD);
    account->password = hasher.hash(newPassword);
    account->updatedAt = nowUtc();

    std::optional<Session> replacement;
    store.transaction([&] {
        store.updateAccount(*account);
        if (revokeOthers) {
            store.deleteSessionsByUser(caller.user.id);
            replacement = context.sessions().newSession(caller.user.id, true, context.request());
            store.createSession(*replacement);
        }
    });
    // Who holds a session and the password could lock the owner out: the owner's mailbox
    // hears of it (a proven address only; a failure is logged, the change stands).
    if (context.server().mailer() && caller.user.emailVerified) {
        deliverMailQuietly(context, accountMail(
            QStringLiteral("password-changed"), caller.user.email, caller.user.id,
            QStringLiteral("Your password was changed"),
            QStringLiteral("Hello%1,\n\nthe password of your account was changed on %2.\n\nIf this was you, there is "
                           "nothing to do. If it was not, someone else can use your account: reset your password "
                           "with \"Forgot password\" at once, which also signs everyone else out.\n")
                .arg(caller.user.name.isEmpty() ? QString() : QLatin1Char(' ') + caller.user.name,
                     account->updatedAt.toUTC().toString(QStringLiteral("yyyy-MM-dd HH:mm 'UTC'")))));
    }
    Response response = Response::json(QJsonObject{
        {QStringLiteral("token"), replacement ? QJsonValue(replacement->token) : QJsonValue(QJsonValue::Null)},
        {QStringLiteral("user"), userJson(caller.user)}});
    if (replacement)
        context.sessions().setSessionCookie(response, *replacement, true, context.cookies());
    return response;
}

// --- delete-user ---------------------------------------------------------------------------

constexpr qint64 kDeleteTokenExpiresIn = 86400;   // Better Auth's deleteUser.deleteTokenExpiresIn
// A deletion link's row: identifier "delete-account-<SHA-256 of its token>" (Better Auth
// stores the token itself), value the user's id. One per user: a new request replaces it.
const QString kDeleteAccountIdentifier = QStringLiteral("delete-account-");
const QString kTokenAlphabet = QStringLiteral("0123456789abcdefghijklmnopqrstuvwxyz");

QString deleteAccountIdentifier(const QString &token)
{
    return kDeleteAccountIdentifier
           + QString::fromLatin1(Crypto::sha256(token.toUtf8())
                                     .toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals));
}

// Better Auth asks the mailbox (sendDeleteAccountVerification) where that is configured;
// Kernia does whenever a mailer is, unless turned off. A guest has no mailbox, and a link to
// an address never proven may never arrive: those users delete as Better Auth does without
// the option (a password, or a fresh session).
bool confirmsByMail(EndpointContext &context, const User &user)
{
    return context.options().deleteUserConfirmationEnabled && context.server().mailer() && !user.isAnonymous
           && user.emailVerified;
}

// Better Auth's "User deleted" answer, or a redirect to `callbackUrl`; the session cookies
// are cleared either way.
Response userDeleted(EndpointContext &context, const QString &callbackUrl = QString())
{
    Response response = !callbackUrl.isEmpty()
        ? redirectTo(callbackUrl)
        : Response::json(QJsonObject{{QStringLiteral("success"), true},
                                     {QStringLiteral("message"), QStringLiteral("User deleted")}});
    context.sessions().clearSessionCookies(response, context.cookies());
    return response;
}

// Deletes `user` with its mailed link: the link must be the user's newest, live and not
// used yet; otherwise 404 INVALID_TOKEN (Better Auth) and nothing changes.
void deleteWithToken(EndpointContext &context, const User &user, const QString &token)
{
    struct Refused {};
    Store &store = context.store();
    try {
        store.transaction([&] {
            const std::optional<Verification> link = store.consumeVerification(deleteAccountIdentifier(token));
            if (!link || link->expiresAt <= nowUtc() || link->value != user.id)
                throw Refused{};   // rolled back: someone else's link stays theirs
            store.deleteUser(user.id);
        });
    } catch (const Refused &) {
        throw ApiError(404, CoreErrors::INVALID_TOKEN);
    }
    qCInfo(lcAuth).noquote() << "user" << user.id << "deleted itself with the link mailed to it";
}

Response mailDeletionLink(EndpointContext &context, const User &user)
{
    const QString token = Crypto::randomString(32, kTokenAlphabet);
    Store &store = context.store();
    store.transaction([&] {
        store.deleteVerificationsByValue(kDeleteAccountIdentifier, user.id);   // only the newest link works
        const QDateTime now = nowUtc();
        Verification link;
        link.id = Crypto::sortableId();
        link.identifier = deleteAccountIdentifier(token);
        link.value = user.id;
        link.expiresAt = now.addSecs(kDeleteTokenExpiresIn);
        link.createdAt = link.updatedAt = now;
        store.createVerification(link);
    });
    const QString url = mailedLinkUrl(context.options(), QStringLiteral("/delete-user/callback"), token,
                                      context.body.value(QStringLiteral("callbackURL")).toString());
    const MailMessage message = accountMail(
        QStringLiteral("delete-account"), user.email, user.id, QStringLiteral("Confirm deleting your account"),
        QStringLiteral("Hello%1,\n\nsomeone signed in to your account asked to delete it, with all its data. If that "
                       "was you, open this link while signed in to confirm:\n\n%2\n\nThe link is valid for 24 hours. "
                       "If it was not you, ignore this mail and change your password: nothing is deleted without "
                       "the link.\n")
            .arg(user.name.isEmpty() ? QString() : QLatin1Char(' ') + user.name, url),
        url, token);
    deliverMail(context, message);   // 500 FAILED_TO_SEND_EMAIL: the user asks again
    return Response::json(QJsonObject{{QStringLiteral("success"), true},
                                      {QStringLiteral("message"), QStringLiteral("Verification email sent")}});
}

Response deleteUser(EndpointContext &context)
{
    if (!context.options().deleteUserEnabled)
        return Response::empty(404);
    const SessionWithUser caller = context.requireSession();
    BodySchema().string(QStringLiteral("password"), BodySchema::Presence::Optional)
        .string(QStringLiteral("token"), BodySchema::Presence::Optional)
        .string(QStringLiteral("callbackURL"), BodySchema::Presence::Optional)
        .validate(context.body);

    const bool hasPassword = context.body.contains(QStringLiteral("password"));
    if (hasPassword) {
        const std::optional<Account> account = credentialAccount(context.store(), caller.user.id);
        if (!account)
            throw ApiError(400, CoreErrors::CREDENTIAL_ACCOUNT_NOT_FOUND);
        if (!context.server().passwords().verify(*account->password,
                                                 context.body.value(QStringLiteral("password")).toString()))
            throw ApiError(400, CoreErrors::INVALID_PASSWORD);
    }
    if (context.body.contains(QStringLiteral("token"))) {
        deleteWithToken(context, caller.user, context.body.value(QStringLiteral("token")).toString());
        return userDeleted(context);
    }
    if (confirmsByMail(context, caller.user))
        return mailDeletionLink(context, caller.user);
    if (!hasPassword && !context.isFresh(caller.session))
        throw ApiError(400, CoreErrors::SESSION_EXPIRED);

    context.store().deleteUser(caller.user.id);
    return userDeleted(context);
}

// GET /delete-user/callback?token=…&callbackURL=…: the link mailed by /delete-user, opened
// by the signed-in user. Errors are JSON (404), as Better Auth's; success redirects.
Response deleteUserCallback(EndpointContext &context)
{
    if (!context.options().deleteUserEnabled)
        throw ApiError(404, QStringLiteral("NOT_FOUND"), QStringLiteral("Not found"));
    const QUrlQuery &query = context.request().query;
    if (!query.hasQueryItem(QStringLiteral("token")))
        throwMissingQueryField(QStringLiteral("token"));
    context.server().origins().checkRedirectFields(QJsonObject(), query);
    const std::optional<SessionWithUser> caller = context.callerSession();
    if (!caller)
        throw ApiError(404, CoreErrors::FAILED_TO_GET_USER_INFO);
    deleteWithToken(context, caller->user, query.queryItemValue(QStringLiteral("token"), QUrl::FullyDecoded));
    const QString callbackUrl = query.queryItemValue(QStringLiteral("callbackURL"), QUrl::FullyDecoded);
    return userDeleted(context, callbackUrl);
}

Response listAccounts(EndpointContext &context)
{
    const SessionWithUser caller = context.requireSession();
    QJsonArray list;
    for (const Account &account : context.store().accountsByUser(caller.user.id)) {
        QJsonArray scopes;
        for (const QString &scope : account.scope.value_or(QString()).split(QLatin1Char(','), Qt::SkipEmptyParts))
            scopes.append(scope.trimmed());
        list.append(QJsonObject{
            {QStringLiteral("id"), account.id},
            {QStringLiteral("providerId"), account.providerId},
            {QStringLiteral("accountId"), account.accountId},
            {QStringLiteral("userId"), account.userId},
            {QStringLiteral("createdAt"), isoTimestamp(account.createdAt)},
            {QStringLiteral("updatedAt"), isoTimestamp(account.updatedAt)},
            {QStringLiteral("scopes"), scopes},
        });
    }
    return Response::json(list);
}

Response ok(EndpointContext &)
{
    return Response::json(QJsonObject{{QStringLiteral("ok"), true}});
}

Response errorPage(EndpointContext &context)
{
    const QString code = context.request().query.queryItemValue(QStringLiteral("error")).toHtmlEscaped();
    const QByteArray page = QStringLiteral(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Error</title></head>"
        "<body><h1>Something went wrong</h1><p>%1</p></body></html>")
        .arg(code.isEmpty() ? QStringLiteral("Unknown error") : code).toUtf8();
    return Response::html(page);
}

} // namespace

void registerUserEndpoints(Router &router)
{
    router.add({"POST", QStringLiteral("/update-user"), Endpoint::Body::Ignored, false, false, updateUser});
    // Both may mail (a notice, a confirmation link), so they run where mail may wait for the
    // SMTP server; their password checks wait for a hash helper like any other.
    router.add({"POST", QStringLiteral("/change-password"), Endpoint::Body::Required, false, false, changePassword,
                Endpoint::Work::SendsMail});
    router.add({"POST", QStringLiteral("/delete-user"), Endpoint::Body::Optional, false, false, deleteUser,
                Endpoint::Work::SendsMail});
    router.add({"GET", QStringLiteral("/delete-user/callback"), Endpoint::Body::Ignored, false, false,
                deleteUserCallback});
    router.add({"GET", QStringLiteral("/list-accounts"), Endpoint::Body::Ignored, false, false, listAccounts});
    router.add({"GET", QStringLiteral("/ok"), Endpoint::Body::Ignored, false, false, ok});
    router.add({"GET", QStringLiteral("/error"), Endpoint::Body::Ignored, false, false, errorPage});
}

} // namespace Kernia::Server
