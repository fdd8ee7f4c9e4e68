// Email verification, email change and password reset (endpoints.md §12, §14, §15;
// transcript 07; Better Auth's change-email confirmation step):
//   POST /send-verification-email, GET /verify-email, POST /change-email,
//   POST /request-password-reset, GET /reset-password/:token, POST /reset-password.
// Without a mailer the sending endpoints answer Better Auth's "not enabled" errors.
// docs/mail.md describes the flows and where Kernia differs.
#include "auth/auth_server.h"
#include "auth/core_endpoints.h"
#include "auth/endpoint_context.h"
#include "auth/endpoints/credentials.h"
#include "auth/endpoints/mail_support.h"
#include "auth/error_codes.h"
#include "auth/session_manager.h"
#include "auth/validation.h"
#include "crypto/crypto.h"
#include "crypto/jwt.h"
#include "mail/mailer.h"
#include "store/store.h"

#include <QElapsedTimer>

#include <functional>

namespace Kernia::Server {

namespace {

namespace Errors {
inline constexpr ErrorCode VERIFICATION_EMAIL_NOT_ENABLED{"VERIFICATION_EMAIL_NOT_ENABLED", "Verification email isn't enabled"};
inline constexpr ErrorCode EMAIL_ALREADY_VERIFIED{"EMAIL_ALREADY_VERIFIED", "Email is already verified"};
inline constexpr ErrorCode EMAIL_MISMATCH{"EMAIL_MISMATCH", "Email mismatch"};
inline constexpr ErrorCode TOKEN_EXPIRED{"TOKEN_EXPIRED", "Token expired"};
inline constexpr ErrorCode INVALID_USER{"INVALID_USER", "Invalid user"};
inline constexpr ErrorCode RESET_PASSWORD_DISABLED{"RESET_PASSWORD_DISABLED", "Reset password isn't enabled"};
} // namespace Errors

constexpr qint64 kVerificationExpiresIn = 3600;   // emailVerification.expiresIn
constexpr qint64 kResetTokenExpiresIn = 3600;     // resetPasswordTokenExpiresIn
const QString kResetPrefix = QStringLiteral("/reset-password/");
const QString kResetIdentifier = QStringLiteral("reset-password:");
const QString kResetMessage = QStringLiteral("If this email exists in our system, check your email for the reset link");
// A change-email request's row: identifier "change-email:<SHA-256 of its token>", value
// the user's id. One per user, whichever step its link is for (confirmation or
// verification): a new request, or the next step, replaces it.
const QString kChangeEmailIdentifier = QStringLiteral("change-email:");

QString queryValue(const EndpointContext &context, const QString &name)
{
    return context.request().query.queryItemValue(name, QUrl::FullyDecoded);
}

// The GET endpoints check their redirect parameters themselves (protocol README §4.3).
void checkQueryRedirects(EndpointContext &context)
{
    context.server().origins().checkRedirectFields(QJsonObject(), context.request().query);
}

bool isLive(const std::optional<Verification> &verification)
{
    return verification && verification->expiresAt > nowUtc();
}

QString changeEmailIdentifier(const QString &token)
{
    return kChangeEmailIdentifier
           + QString::fromLatin1(Crypto::sha256(token.toUtf8())
                                     .toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals));
}

// --- email verification -------------------------------------------------------------------

void sendVerificationMail(EndpointContext &context, const User &user, bool quietly, bool *sent = nullptr)
{
    const QByteArray token = Jwt::signHs256(QJsonObject{{QStringLiteral("email"), user.email.toLower()},
                                                        {QStringLiteral("userId"), user.id}},
                                            context.options().secret, kVerificationExpiresIn);
    const QString url = verifyEmailUrl(context.options(), QString::fromLatin1(token),
                                       context.body.value(QStringLiteral("callbackURL")).toString());
    const MailMessage message = accountMail(
        QStringLiteral("verify-email"), user.email, user.id, QStringLiteral("Verify your email address"),
        QStringLiteral("Hello%1,\n\nopen this link to verify your email address:\n\n%2\n\n"
                       "The link is valid for one hour. If you did not ask for it, ignore this mail.\n")
            .arg(user.name.isEmpty() ? QString() : QLatin1Char(' ') + user.name, url),
        url, QString::fromLatin1(token));
    if (quietly) {
        const bool ok = deliverMailQuietly(context, message);
        if (sent)
            *sent = ok;
    } else {
        deliverMail(context, message);
    }
}

Response sendVerificationEmail(EndpointContext &context)
{
    if (!context.server().mailer())
        throw ApiError(400, Errors::VERIFICATION_EMAIL_NOT_ENABLED);
    BodySchema().email(QStringLiteral("email"))
        .string(QStringLiteral("callbackURL"), BodySchema::Presence::Optional)
        .validate(context.body);
    const QString email = context.body.value(QStringLiteral("email")).toString().toLower();
    const Response ok = Response::json(QJsonObject{{QStringLiteral("status"), true}});

    const std::optional<SessionWithUser> caller = context.callerSession();
    if (!caller) {
        // Same answer, same time, whether or not the address belongs to an unverified user.
        QElapsedTimer timer;
        timer.start();
        const std::optional<User> user = context.store().userByEmail(email);
        if (user && !user->emailVerified)
            sendVerificationMail(context, *user, true);
        return padResponseTime(ok, timer);
    }
    if (caller->user.email.toLower() != email)
        throw ApiError(400, Errors::EMAIL_MISMATCH);
    if (caller->user.emailVerified)
        throw ApiError(400, Errors::EMAIL_ALREADY_VERIFIED);
    sendVerificationMail(context, caller->user, false);
    return ok;
}

// --- email change -------------------------------------------------------------------------

// Makes `token` the user's only pending change-email link (any step). Inside a transaction.
void storeChangeRequest(Store &store, const QString &userId, const QString &token)
{
    // Only the newest request's link works: an earlier one (a mistyped address) is void.
    store.deleteVerificationsByValue(kChangeEmailIdentifier, userId);
    const QDateTime now = nowUtc();
    Verification pending;
    pending.id = Crypto::sortableId();
    pending.identifier = changeEmailIdentifier(token);
    pending.value = userId;
    pending.expiresAt = now.addSecs(kVerificationExpiresIn);
    pending.createdAt = pending.updatedAt = now;
    store.createVerification(pending);
}

// The change-email-verification link, to the new address; failures are logged only (the
// answer must not tell whether the address is taken, and those get no mail).
void mailChangeVerification(EndpointContext &context, const QString &userId, const QString &newEmail,
                            const QString &token, const QString &callbackUrl)
{
    const QString url = verifyEmailUrl(context.options(), token, callbackUrl);
    // Neither the name nor the current address: a mistyped address reaches a stranger.
    deliverMailQuietly(context, accountMail(
        QStringLiteral("verify-email"), // Better Auth sends it through sendVerificationEmail
        newEmail, userId, QStringLiteral("Confirm your new email address"),
        QStringLiteral("Hello,\n\nopen this link to make this address the email address of your account:\n\n%1\n\n"
                       "The link is valid for one hour. If you did not ask for it, ignore this mail: nothing changes.\n")
            .arg(url),
        url, token));
}

// The change-email-confirmation link, to the current address (a verified one: its owner
// must agree before the new address is even asked).
void mailChangeConfirmation(EndpointContext &context, const User &user, const QString &newEmail,
                            const QString &token, const QString &callbackUrl)
{
    const QString url = verifyEmailUrl(context.options(), token, callbackUrl);
    deliverMailQuietly(context, accountMail(
        QStringLiteral("change-email-confirmation"), user.email, user.id, QStringLiteral("Confirm the change of your email address"),
        QStringLiteral("Hello%1,\n\nsomeone signed in to your account asked to change its email address from this "
                       "one to %2. If it was you, open this link to confirm:\n\n%3\n\nA second link then goes to the "
                       "new address; the email changes once that one is followed too. The link is valid for one hour.\n\n"
                       "If it was not you, do not open the link: nothing changes. But someone can use your account: "
                       "change your password and sign out your other sessions.\n")
            .arg(user.name.isEmpty() ? QString() : QLatin1Char(' ') + user.name, maskEmail(newEmail), url),
        url, token));
}

// After a committed change, to the old address: no link (nothing that signs anyone in),
// the new address masked (the old mailbox may no longer be the owner's). A failure is
// logged (kernia.mail) and changes nothing: the change stands.
void mailEmailChangedNotice(EndpointContext &context, const User &updated, const QString &oldEmail)
{
    deliverMailQuietly(context, accountMail(
        QStringLiteral("email-changed"), oldEmail, updated.id, QStringLiteral("Your email address was changed"),
        QStringLiteral("Hello,\n\nthe sign-in email of your account was changed from this address to %1 on %2.\n\n"
                       "If this was you, there is nothing to do. If it was not, someone else controls your account: "
                       "this address no longer signs you in and receives no password reset links. Contact the "
                       "service's support at once.\n")
            .arg(maskEmail(updated.email), updated.updatedAt.toUTC().toString(QStringLiteral("yyyy-MM-dd HH:mm 'UTC'")))));
}

Response changeEmail(EndpointContext &context)
{
    BodySchema().email(QStringLiteral("newEmail"))
        .string(QStringLiteral("callbackURL"), BodySchema::Presence::Optional)
        .validate(context.body);
    const SessionWithUser caller = context.requireSession();
    if (!context.options().changeEmailEnabled)
        throw ApiError(400, CoreErrors::CHANGE_EMAIL_DISABLED);
    // A guest's email is a placeholder. Given a real one it would stay a guest (pruned when
    // idle, deleted when it signs in elsewhere) while holding the address against its owner's
    // sign-up; a guest gets an address by signing up, which links its data.
    if (caller.user.isAnonymous)
        throw ApiError(400, CoreErrors::ANONYMOUS_USERS_CANNOT_CHANGE_EMAIL);
    // Who holds a session can point the account at a mailbox of their own and then reset the
    // password: a stolen session must not be old.
    if (!context.isFresh(caller.session))
        throw ApiError(403, CoreErrors::SESSION_NOT_FRESH);
    const QString newEmail = context.body.value(QStringLiteral("newEmail")).toString().toLower();
    if (newEmail == caller.user.email)
        throw ApiError(400, QString(), QStringLiteral("Email is the same"));
    if (!context.server().mailer())
        throw ApiError(400, QString(), QStringLiteral("Verification email isn't enabled"));

    // From here on a taken address and a free one get the same answer, after the same
    // time, and the same bookkeeping: only the mail to the new address differs.
    QElapsedTimer timer;
    timer.start();
    // A verified address confirms first (Better Auth's sendChangeEmailConfirmation): a
    // stolen session alone can no longer move the account to another mailbox.
    const bool confirmFirst = context.options().changeEmailConfirmationEnabled && caller.user.emailVerified;
    const QString token = QString::fromLatin1(changeEmailToken(
        context.options().secret, confirmFirst ? ChangeEmailStep::Confirmation : ChangeEmailStep::Verification,
        caller.user.email, newEmail, caller.user.id, kVerificationExpiresIn));
    Store &store = context.store();
    store.transaction([&] { storeChangeRequest(store, caller.user.id, token); });
    const QString callbackUrl = context.body.value(QStringLiteral("callbackURL")).toString();
    if (confirmFirst) {
        // Whether or not the new address is taken: the current mailbox must not tell.
        mailChangeConfirmation(context, caller.user, newEmail, token, callbackUrl);
    } else if (store.userByEmail(newEmail)) {
        qCInfo(lcAuth).nospace().noquote() << "change-email for user " << caller.user.id
                                 << ": the new address belongs to another user; nothing mailed";
    } else {
        mailChangeVerification(context, caller.user.id, newEmail, token, callbackUrl);
    }
    return padResponseTime(Response::json(QJsonObject{{QStringLiteral("status"), true}}), timer);
}

// Why a change-email link was refused, thrown out of its transaction to roll it back.
struct ChangeRefused
{
    ErrorCode error;
};

using Fail = std::function<Response(const ErrorCode &)>;

// The confirmation link, mailed to the current address: it works once, only while it is
// its user's newest request and the email is still the one it was made for. Following it
// mails the verification link to the new address (which becomes the newest request), as
// Better Auth; a taken address gets the same answer, after the same time, without it.
Response confirmEmailChange(EndpointContext &context, const QString &token, const QString &email,
                            const QString &newEmail, const QString &userId, const Fail &fail)
{
    QElapsedTimer timer;
    timer.start();
    const QString next = QString::fromLatin1(changeEmailToken(context.options().secret, ChangeEmailStep::Verification,
                                                              email, newEmail, userId, kVerificationExpiresIn));
    Store &store = context.store();
    try {
        store.transaction([&] {
            const std::optional<Verification> pending = store.consumeVerification(changeEmailIdentifier(token));
            if (!isLive(pending) || pending->value != userId)
                throw ChangeRefused{CoreErrors::INVALID_TOKEN}; // used, replaced by a newer request, or not ours
            const std::optional<User> user = store.userById(userId);
            if (!user)
                throw ChangeRefused{CoreErrors::USER_NOT_FOUND};
            if (user->email != email)
                throw ChangeRefused{CoreErrors::INVALID_TOKEN};
            storeChangeRequest(store, userId, next);
        });
    } catch (const ChangeRefused &refused) {
        return fail(refused.error);
    }
    const bool hasCallback = context.request().query.hasQueryItem(QStringLiteral("callbackURL"));
    const QString callbackUrl = queryValue(context, QStringLiteral("callbackURL"));
    if (store.userByEmail(newEmail)) {
        qCInfo(lcAuth).nospace().noquote() << "change-email confirmed by user " << userId
                                 << ": the new address belongs to another user; nothing mailed";
    } else {
        mailChangeVerification(context, userId, newEmail, next, callbackUrl);
    }
    // Better Auth: {status:true} or the callback; no session cookie.
    return padResponseTime(hasCallback && !callbackUrl.isEmpty()
                               ? redirectTo(callbackUrl)
                               : Response::json(QJsonObject{{QStringLiteral("status"), true}}),
                           timer);
}

// GET /verify-email with a token that carries updateTo (endpoints.md §12): a link that
// /change-email mailed, to the current address (confirmation) or to the new one
// (verification). The verification link works once, only while it is its user's newest
// request and the user's email is still the one it was made for; the new address must
// still be free. The change is told to the old address.
Response verifyEmailChange(EndpointContext &context, const QString &token, const QJsonObject &claims,
                           const Fail &fail)
{
    const QString email = claims.value(QStringLiteral("email")).toString();
    const QJsonValue updateTo = claims.value(QStringLiteral("updateTo"));
    const QJsonValue userId = claims.value(QStringLiteral("userId"));
    const QJsonValue requestType = claims.value(QStringLiteral("requestType"));
    if (!updateTo.isString() || !isValidEmail(updateTo.toString()) || !userId.isString()
        || (!requestType.isUndefined() && !requestType.isString()))
        return fail(CoreErrors::INVALID_TOKEN);
    const QString newEmail = updateTo.toString().toLower();

    Store &store = context.store();
    const std::optional<User> bound = store.userById(userId.toString());
    if (!bound)
        return fail(CoreErrors::USER_NOT_FOUND);
    if (bound->email.toLower() != email)
        return fail(CoreErrors::INVALID_TOKEN); // the email changed since: the link is spent
    const std::optional<SessionWithUser> caller = context.callerSession();
    if (caller && caller->user.id != bound->id)
        return fail(Errors::INVALID_USER);
    if (requestType.toString() == changeEmailRequestType(ChangeEmailStep::Confirmation))
        return confirmEmailChange(context, token, email, newEmail, bound->id, fail);
    // Not Better Auth's legacy tokens without a requestType, which changed the email at once.
    if (requestType.toString() != changeEmailRequestType(ChangeEmailStep::Verification))
        return fail(CoreErrors::INVALID_TOKEN);

    User updated;
    try {
        store.transaction([&] {
            const std::optional<Verification> pending = store.consumeVerification(changeEmailIdentifier(token));
            if (!isLive(pending) || pending->value != bound->id)
                throw ChangeRefused{CoreErrors::INVALID_TOKEN}; // used, replaced by a newer request, or not ours
            std::optional<User> user = store.userById(bound->id);
            if (!user)
                throw ChangeRefused{CoreErrors::USER_NOT_FOUND};
            if (user->email != email)
                throw ChangeRefused{CoreErrors::INVALID_TOKEN};
            // Someone signed up with the address since the request: one address, one user.
            const std::optional<User> holder = store.userByEmail(newEmail);
            if (holder && holder->id != user->id)
                throw ChangeRefused{CoreErrors::USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL};
            user->email = newEmail; // emailVerified stays as it was (Better Auth)
            user->updatedAt = nowUtc();
            store.updateUser(*user);
            // Reset links mailed to the old address must not outlive the change.
            store.deleteVerificationsByValue(kResetIdentifier, user->id);
            updated = *user;
        });
    } catch (const ChangeRefused &refused) {
        return fail(refused.error);
    } catch (const StoreError &error) {
        if (!error.isUniqueViolation())
            throw;
        return fail(CoreErrors::USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL); // a sign-up won the race
    }
    qCInfo(lcAuth).nospace().noquote() << "user " << updated.id << " changed its email through a change-email link";
    mailEmailChangedNotice(context, updated, email);

    const bool hasCallback = context.request().query.hasQueryItem(QStringLiteral("callbackURL"));
    const QString callbackUrl = queryValue(context, QStringLiteral("callbackURL"));
    Response response = hasCallback && !callbackUrl.isEmpty()
        ? redirectTo(callbackUrl)
        : Response::json(QJsonObject{{QStringLiteral("status"), true}, {QStringLiteral("user"), userJson(updated)}});
    if (caller) {
        // As Better Auth: the caller's session cookie is set again (bearer clients get
        // set-auth-token); the session itself is unchanged, and so are the user's others.
        const bool rememberMe = !context.sessions().hasValidDontRemember(context.cookies());
        context.sessions().setSessionCookie(response, caller->session, rememberMe, context.cookies());
    }
    return response;
}

Response verifyEmail(EndpointContext &context)
{
    if (!context.request().query.hasQueryItem(QStringLiteral("token")))
        throwMissingQueryField(QStringLiteral("token"));
    checkQueryRedirects(context);
    const QString token = queryValue(context, QStringLiteral("token"));
    const bool hasCallback = context.request().query.hasQueryItem(QStringLiteral("callbackURL"));
    const QString callbackUrl = queryValue(context, QStringLiteral("callbackURL"));

    // Errors: 401 {code} for API callers, a redirect with ?error=CODE for mail clicks.
    auto fail = [&](const ErrorCode &error) -> Response {
        if (hasCallback && !callbackUrl.isEmpty())
            return redirectTo(withQueryItem(callbackUrl, QStringLiteral("error"), QString::fromLatin1(error.code)));
        throw ApiError(401, error);
    };
    auto succeed = [&]() -> Response {
        if (hasCallback && !callbackUrl.isEmpty())
            return redirectTo(callbackUrl);
        return Response::json(QJsonObject{{QStringLiteral("status"), true},
                                          {QStringLiteral("user"), QJsonValue(QJsonValue::Null)}});
    };

    const Jwt::Verified verified = Jwt::verifyHs256(token.toUtf8(), context.options().secret);
    if (verified.status == Jwt::Status::Expired)
        return fail(Errors::TOKEN_EXPIRED);
    if (verified.status != Jwt::Status::Valid)
        return fail(CoreErrors::INVALID_TOKEN);
    const QJsonObject &claims = verified.payload;
    const QString email = claims.value(QStringLiteral("email")).toString();
    const QJsonValue userIdClaim = claims.value(QStringLiteral("userId"));
    if (!isValidEmail(email) || (!userIdClaim.isUndefined() && !userIdClaim.isString()))
        return fail(CoreErrors::INVALID_TOKEN);
    Store &store = context.store();
    if (claims.contains(QStringLiteral("updateTo")))
        return verifyEmailChange(context, token, claims, fail);

    std::optional<User> user = store.userByEmail(email.toLower());
    if (!user)
        return fail(CoreErrors::USER_NOT_FOUND);
    if (userIdClaim.isString() && userIdClaim.toString() != user->id)
        return fail(CoreErrors::INVALID_TOKEN); // the address now belongs to another user
    if (!user->emailVerified) {
        user->emailVerified = true;
        user->updatedAt = nowUtc();
        store.updateUser(*user);
    }
    return succeed();
}

// --- password reset -----------------------------------------------------------------------

Response requestPasswordReset(EndpointContext &context)
{
    if (!context.server().mailer())
        throw ApiError(400, Errors::RESET_PASSWORD_DISABLED);
    BodySchema().email(QStringLiteral("email"))
        .string(QStringLiteral("redirectTo"), BodySchema::Presence::Optional)
        .validate(context.body);
    const QString email = context.body.value(QStringLiteral("email")).toString().toLower();
    const QString redirect = context.body.value(QStringLiteral("redirectTo")).toString();

    QElapsedTimer timer;
    timer.start();
    Store &store = context.store();
    if (const std::optional<User> user = store.userByEmail(email)) {
        const QString token = Crypto::randomId().left(24);
        const QDateTime now = nowUtc();
        Verification verification;
        verification.id = Crypto::sortableId();
        verification.identifier = kResetIdentifier + token;
        verification.value = user->id;
        verification.expiresAt = now.addSecs(kResetTokenExpiresIn);
        verification.createdAt = verification.updatedAt = now;
        store.createVerification(verification);

        const QString url = authBaseUrl(context.options()) + kResetPrefix + token + QStringLiteral("?callbackURL=")
                            + QString::fromLatin1(Cookies::encodeURIComponent(redirect.toUtf8()));
        // A failure is logged; the answer must not differ.
        deliverMailQuietly(context, accountMail(
            QStringLiteral("reset-password"), user->email, user->id, QStringLiteral("Reset your password"),
            QStringLiteral("Hello%1,\n\nopen this link to choose a new password:\n\n%2\n\n"
                           "The link is valid for one hour and works once. If you did not ask for it, "
                           "ignore this mail: your password stays as it is.\n")
                .arg(user->name.isEmpty() ? QString() : QLatin1Char(' ') + user->name, url),
            url, token));
    }
    return padResponseTime(
        Response::json(QJsonObject{{QStringLiteral("status"), true}, {QStringLiteral("message"), kResetMessage}}), timer);
}

Response resetPasswordCallback(EndpointContext &context)
{
    const QString token = Router::pathParameter(kResetPrefix, context.path());
    if (!context.request().query.hasQueryItem(QStringLiteral("callbackURL")))
        throwMissingQueryField(QStringLiteral("callbackURL"));
    checkQueryRedirects(context);
    const QString callbackUrl = queryValue(context, QStringLiteral("callbackURL"));
    const QString errorTarget = callbackUrl.isEmpty() ? authBaseUrl(context.options()) + QStringLiteral("/error")
                                                      : resolveAgainstBase(context.options(), callbackUrl);
    if (token.isEmpty() || callbackUrl.isEmpty()
        || !isLive(context.store().verificationByIdentifier(kResetIdentifier + token)))
        return redirectTo(withQueryItem(errorTarget, QStringLiteral("error"), QStringLiteral("INVALID_TOKEN")));
    // Not consumed here: POST /reset-password does that.
    return redirectTo(withQueryItem(resolveAgainstBase(context.options(), callbackUrl), QStringLiteral("token"), token));
}

Response resetPassword(EndpointContext &context)
{
    BodySchema().string(QStringLiteral("newPassword"))
        .string(QStringLiteral("token"), BodySchema::Presence::Optional)
        .validate(context.body);
    QString token = context.body.value(QStringLiteral("token")).toString();
    if (token.isEmpty())
        token = queryValue(context, QStringLiteral("token"));
    if (token.isEmpty())
        throw ApiError(400, CoreErrors::INVALID_TOKEN);
    const QString newPassword = context.body.value(QStringLiteral("newPassword")).toString();
    checkNewPasswordLength(context, newPassword);

    Store &store = context.store();
    const QString identifier = kResetIdentifier + token;
    const std::optional<Verification> pending = store.verificationByIdentifier(identifier);
    if (!isLive(pending))
        throw ApiError(400, CoreErrors::INVALID_TOKEN);
    if (!store.userById(pending->value))
        throw ApiError(400, CoreErrors::USER_NOT_FOUND);
    // Hash outside the transaction: it is slow and must not hold the write lock.
    const QString passwordHash = context.server().passwords().hash(newPassword);

    QString userId;
    bool provedAddress = false;
    UnprovenAccess removed;
    store.transaction([&] {
        // Consumed in the same transaction as the new password: of two concurrent resets
        // with one token exactly one wins, and a failed write leaves the token usable.
        const std::optional<Verification> consumed = store.consumeVerification(identifier);
        if (!isLive(consumed))
            throw ApiError(400, CoreErrors::INVALID_TOKEN);
        userId = consumed->value;
        std::optional<User> user = store.userById(userId);
        if (!user)
            throw ApiError(400, CoreErrors::USER_NOT_FOUND);
        provedAddress = !user->emailVerified;
        removed = UnprovenAccess();
        if (provedAddress) {
            // The mailed link proves the mailbox, like a magic link: whoever signed up with
            // this address before its owner (account pre-hijacking) loses every session,
            // account and passkey opened without that proof, and the email is verified.
            removed = endUnprovenAccess(store, *user);
        } else if (context.options().revokeSessionsOnPasswordReset) {
            // A reset is how an owner takes an account back: nobody stays signed in with
            // what the old password let in.
            removed.sessions = store.deleteSessionsByUser(userId);
        }
        const QDateTime now = nowUtc();
        if (std::optional<Account> existing = credentialAccount(store, userId)) {
            existing->password = passwordHash;
            existing->updatedAt = now;
            store.updateAccount(*existing);
        } else {
            Account account;
            account.id = Crypto::sortableId();
            account.accountId = userId;
            account.providerId = QLatin1String(kCredentialProvider);
            account.userId = userId;
            account.password = passwordHash;
            account.createdAt = account.updatedAt = now;
            store.createAccount(account);
        }
    });
    if (provedAddress && (removed.sessions > 0 || removed.accounts > 0 || removed.passkeys > 0)) {
        qCInfo(lcAuth).nospace() << "password reset verified " << userId << "'s email; removed " << removed.sessions
                                 << " session(s), " << removed.accounts << " account(s) and " << removed.passkeys
                                 << " passkey(s) opened before the proof";
    }
    return Response::json(QJsonObject{{QStringLiteral("status"), true}});
}

} // namespace

void registerMailEndpoints(Router &router)
{
    router.add({"POST", QStringLiteral("/send-verification-email"), Endpoint::Body::Required, false, false,
                sendVerificationEmail, Endpoint::Work::SendsMail});
    // A change-email link mails: the confirmation sends the verification link, the change
    // a notice to the old address.
    router.add({"GET", QStringLiteral("/verify-email"), Endpoint::Body::Ignored, false, false, verifyEmail,
                Endpoint::Work::SendsMail});
    router.add({"POST", QStringLiteral("/change-email"), Endpoint::Body::Required, false, false, changeEmail,
                Endpoint::Work::SendsMail});
    router.add({"POST", QStringLiteral("/request-password-reset"), Endpoint::Body::Required, false, false,
                requestPasswordReset, Endpoint::Work::SendsMail});
    router.addPrefix({"GET", kResetPrefix, Endpoint::Body::Ignored, false, false, resetPasswordCallback});
    router.add({"POST", QStringLiteral("/reset-password"), Endpoint::Body::Required, false, false, resetPassword,
                Endpoint::Work::HashesPassword});
}

} // namespace Kernia::Server
