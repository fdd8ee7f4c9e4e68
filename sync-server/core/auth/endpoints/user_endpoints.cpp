// update-user, change-password, delete-user, list-accounts, ok, error
// (endpoints.md §9, §11, §13, §16, §17).
#include "auth/auth_server.h"
#include "auth/core_endpoints.h"
#include "auth/endpoint_context.h"
#include "auth/endpoints/credentials.h"
#include "auth/error_codes.h"
#include "auth/plugin.h"
#include "auth/validation.h"
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
    Response response = Response::json(QJsonObject{
        {QStringLiteral("token"), replacement ? QJsonValue(replacement->token) : QJsonValue(QJsonValue::Null)},
        {QStringLiteral("user"), userJson(caller.user)}});
    if (replacement)
        context.sessions().setSessionCookie(response, *replacement, true, context.cookies());
    return response;
}

Response deleteUser(EndpointContext &context)
{
    if (!context.options().deleteUserEnabled)
        return Response::empty(404);
    const SessionWithUser caller = context.requireSession();
    BodySchema().string(QStringLiteral("password"), BodySchema::Presence::Optional)
        .string(QStringLiteral("callbackURL"), BodySchema::Presence::Optional)
        .validate(context.body);

    Store &store = context.store();
    if (context.body.contains(QStringLiteral("password"))) {
        const std::optional<Account> account = credentialAccount(store, caller.user.id);
        if (!account)
            throw ApiError(400, CoreErrors::CREDENTIAL_ACCOUNT_NOT_FOUND);
        if (!context.server().passwords().verify(*account->password,
                                                 context.body.value(QStringLiteral("password")).toString()))
            throw ApiError(400, CoreErrors::INVALID_PASSWORD);
    } else if (!context.isFresh(caller.session)) {
        throw ApiError(400, CoreErrors::SESSION_EXPIRED);
    }

    store.deleteUser(caller.user.id);
    Response response = Response::json(QJsonObject{{QStringLiteral("success"), true},
                                                   {QStringLiteral("message"), QStringLiteral("User deleted")}});
    context.sessions().clearSessionCookies(response, context.cookies());
    return response;
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
    router.add({"POST", QStringLiteral("/change-password"), Endpoint::Body::Required, false, false, changePassword,
                Endpoint::Work::HashesPassword});
    router.add({"POST", QStringLiteral("/delete-user"), Endpoint::Body::Optional, false, false, deleteUser,
                Endpoint::Work::HashesPassword});
    router.add({"GET", QStringLiteral("/list-accounts"), Endpoint::Body::Ignored, false, false, listAccounts});
    router.add({"GET", QStringLiteral("/ok"), Endpoint::Body::Ignored, false, false, ok});
    router.add({"GET", QStringLiteral("/error"), Endpoint::Body::Ignored, false, false, errorPage});
}

} // namespace Kernia::Server
