// sign-up/email and sign-in/email (endpoints.md §1–2). Both issue the session through
// SessionManager::issue, so an anonymous caller is linked in the same transaction.
#include "auth/auth_server.h"
#include "auth/core_endpoints.h"
#include "auth/endpoint_context.h"
#include "auth/endpoints/credentials.h"
#include "auth/error_codes.h"
#include "auth/plugin.h"
#include "auth/validation.h"
#include "crypto/crypto.h"
#include "store/store.h"

namespace Kernia::Server {

namespace {

Response signUpEmail(EndpointContext &context)
{
    const QJsonObject &body = context.body;
    BodySchema().string(QStringLiteral("name"))
        .email(QStringLiteral("email"))
        .nonEmptyString(QStringLiteral("password"))
        .string(QStringLiteral("image"), BodySchema::Presence::Optional)
        .string(QStringLiteral("callbackURL"), BodySchema::Presence::Optional)
        .boolean(QStringLiteral("rememberMe"))
        .validate(body);
    const QString password = body.value(QStringLiteral("password")).toString();
    const QList<Plugin *> &plugins = context.server().plugins();
    for (Plugin *plugin : plugins)
        plugin->validateSignUp(context);
    checkNewPasswordLength(context, password);

    const QString email = body.value(QStringLiteral("email")).toString().toLower();
    Store &store = context.store();
    const ApiError taken(422, CoreErrors::USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL);
    if (store.userByEmail(email))
        throw taken; // answered before paying for a hash

    // Hash outside the transaction: it takes ~60 ms and must not hold the write lock.
    const QString passwordHash = context.server().passwords().hash(password);
    const bool rememberMe = body.value(QStringLiteral("rememberMe")).toBool(true);

    SessionWithUser issued;
    try {
        issued = context.sessions().issue(context, [&] {
            if (store.userByEmail(email))
                throw taken;
            const QDateTime now = nowUtc();
            User user;
            user.id = Crypto::sortableId();
            user.name = body.value(QStringLiteral("name")).toString();
            user.email = email;
            if (body.contains(QStringLiteral("image")))
                user.image = body.value(QStringLiteral("image")).toString();
            user.createdAt = user.updatedAt = now;
            for (Plugin *plugin : plugins)
                plugin->prepareNewUser(context, user);
            store.createUser(user);

            Account account;
            account.id = Crypto::sortableId();
            account.accountId = user.id;
            account.providerId = QLatin1String(kCredentialProvider);
            account.userId = user.id;
            account.password = passwordHash;
            account.createdAt = account.updatedAt = now;
            store.createAccount(account);
            return user;
        }, rememberMe);
    } catch (const StoreError &error) {
        if (!error.isUniqueViolation())
            throw;
        // Lost a race with a concurrent sign-up. Re-run the plugins' checks, which now see
        // the winner's row (a taken username answers with its own code); else the email.
        for (Plugin *plugin : plugins)
            plugin->validateSignUp(context);
        throw taken;
    }

    Response response = Response::json(QJsonObject{{QStringLiteral("token"), issued.session.token},
                                                    {QStringLiteral("user"), userJson(issued.user)}});
    context.sessions().setSessionCookie(response, issued.session, rememberMe, context.cookies());
    return response;
}

Response signInEmail(EndpointContext &context)
{
    const QJsonObject &body = context.body;
    BodySchema().string(QStringLiteral("email"))
        .string(QStringLiteral("password"))
        .string(QStringLiteral("callbackURL"), BodySchema::Presence::Optional)
        .boolean(QStringLiteral("rememberMe"))
        .validate(body);
    const QString email = body.value(QStringLiteral("email")).toString().toLower();
    const QString password = body.value(QStringLiteral("password")).toString();
    if (!isValidEmail(email))
        throw ApiError(400, CoreErrors::INVALID_EMAIL);
    checkPasswordNotTooLong(context, password);

    const ApiError rejected(401, CoreErrors::INVALID_EMAIL_OR_PASSWORD);
    return signInWithPassword(context, context.store().userByEmail(email), password, rejected);
}

} // namespace

void registerEmailPasswordEndpoints(Router &router)
{
    router.add({"POST", QStringLiteral("/sign-up/email"), Endpoint::Body::Required, true, true, signUpEmail,
                Endpoint::Work::HashesPassword});
    router.add({"POST", QStringLiteral("/sign-in/email"), Endpoint::Body::Required, true, true, signInEmail,
                Endpoint::Work::HashesPassword});
}

} // namespace Kernia::Server
