#include "magic_link_plugin.h"

#include "auth/auth_server.h"
#include "auth/endpoint_context.h"
#include "auth/endpoints/mail_support.h"
#include "auth/validation.h"
#include "crypto/crypto.h"
#include "mail/mailer.h"
#include "plugins/magic_link/magic_link_errors.h"
#include "store/store.h"

#include <QJsonDocument>

Q_LOGGING_CATEGORY(lcMagicLink, "kernia.magiclink")

namespace Kernia::Server {

namespace {

const QString kIdentifierPrefix = QStringLiteral("magic-link:");

// Thrown inside the sign-in transaction to roll it back and answer with a redirect.
struct VerifyFailure : std::exception
{
    explicit VerifyFailure(const char *code) : code(code) {}
    const char *what() const noexcept override { return "magic-link verification failed"; }
    const char *code;
};

struct Record
{
    QString email;   // as typed in the request
    QString name;
    QString anonymousUserId;   // the guest that asked for the link; "" when none did
};

// The stored value: {"type":"magic-link","email":…,"name"?:…} (Better Auth 1.7.25; a value
// without "type", as older servers wrote, is accepted too), plus Kernia's
// "anonymousUserId" when a guest asked for the link.
std::optional<Record> parseRecord(const QString &value)
{
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(value.toUtf8(), &error);
    if (error.error != QJsonParseError::NoError || !document.isObject())
        return std::nullopt;
    const QJsonObject object = document.object();
    const QJsonValue type = object.value(QStringLiteral("type"));
    const QJsonValue email = object.value(QStringLiteral("email"));
    const QJsonValue name = object.value(QStringLiteral("name"));
    const QJsonValue guest = object.value(QStringLiteral("anonymousUserId"));
    if ((!type.isUndefined() && type.toString() != QLatin1String("magic-link")) || !email.isString()
        || !isValidEmail(email.toString()) || (!name.isUndefined() && !name.isString())
        || (!guest.isUndefined() && !guest.isString()))
        return std::nullopt;
    return Record{email.toString(), name.toString(), guest.toString()};
}

bool isLive(const std::optional<Verification> &verification)
{
    return verification && verification->expiresAt > nowUtc();
}

void checkOptionalString(const QJsonObject &body, const char *field, QStringList *issues)
{
    const QJsonValue value = body.value(QLatin1String(field));
    if (!value.isUndefined() && !value.isString())
        *issues << QStringLiteral("[body.%1] Invalid input: expected string, received %2")
                       .arg(QLatin1String(field), jsTypeName(value));
}

} // namespace

MagicLinkPlugin::MagicLinkPlugin(MagicLinkOptions options)
    : m_options(std::move(options))
{
}

void MagicLinkPlugin::registerEndpoints(Router &router)
{
    router.add({"POST", QStringLiteral("/sign-in/magic-link"), Endpoint::Body::Required, false, true,
                [this](EndpointContext &context) { return signInMagicLink(context); },
                Endpoint::Work::SendsMail});
    router.add({"GET", QStringLiteral("/magic-link/verify"), Endpoint::Body::Ignored, false, false,
                [this](EndpointContext &context) { return verify(context); }});
}

QString MagicLinkPlugin::identifierFor(const QString &token) const
{
    if (m_options.storeToken == MagicLinkOptions::StoreToken::Hashed) {
        return kIdentifierPrefix + QString::fromLatin1(Crypto::sha256(token.toUtf8())
                                                           .toBase64(QByteArray::Base64UrlEncoding
                                                                     | QByteArray::OmitTrailingEquals));
    }
    return kIdentifierPrefix + token;
}

Response MagicLinkPlugin::signInMagicLink(EndpointContext &context)
{
    const QJsonObject &body = context.body;
    // zod's order: email, name, callbackURL, newUserCallbackURL, errorCallbackURL, metadata.
    QStringList issues;
    const QJsonValue email = body.value(QStringLiteral("email"));
    if (email.isUndefined() || !email.isString())
        issues << QStringLiteral("[body.email] Invalid input: expected string, received %1").arg(jsTypeName(email));
    else if (!isValidEmail(email.toString()))
        issues << QStringLiteral("[body.email] Invalid email address");
    for (const char *field : {"name", "callbackURL", "newUserCallbackURL", "errorCallbackURL"})
        checkOptionalString(body, field, &issues);
    const QJsonValue metadata = body.value(QStringLiteral("metadata"));
    if (!metadata.isUndefined() && !metadata.isObject())
        issues << QStringLiteral("[body.metadata] Invalid input: expected record, received %1").arg(jsTypeName(metadata));
    if (!issues.isEmpty())
        throwValidationError(issues);
    if (!context.server().mailer())
        throw ApiError(400, MagicLinkErrors::MAGIC_LINK_NOT_ENABLED);

    const QString address = email.toString();
    const QString token = m_options.generateToken
        ? m_options.generateToken(address)
        : Crypto::randomString(32, u"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
    QJsonObject record{{QStringLiteral("type"), QStringLiteral("magic-link")}, {QStringLiteral("email"), address}};
    if (body.contains(QStringLiteral("name")))
        record.insert(QStringLiteral("name"), body.value(QStringLiteral("name")));
    // The link may take in only the guest that asks for it (see verify()). This request
    // passed the login-CSRF rule, so a cookie here was sent by a trusted origin.
    if (const std::optional<SessionWithUser> caller = context.callerSession(); caller && caller->user.isAnonymous)
        record.insert(QStringLiteral("anonymousUserId"), caller->user.id);
    const QDateTime now = nowUtc();
    Verification verification;
    verification.id = Crypto::sortableId();
    verification.identifier = identifierFor(token);
    verification.value = QString::fromUtf8(QJsonDocument(record).toJson(QJsonDocument::Compact));
    verification.expiresAt = now.addSecs(m_options.expiresIn);
    verification.createdAt = verification.updatedAt = now;
    context.store().createVerification(verification);

    auto param = [&](const char *name, const QString &value) {
        return QLatin1Char('&') + QLatin1String(name) + QLatin1Char('=') + QString::fromLatin1(formEncode(value));
    };
    const QString callbackUrl = body.value(QStringLiteral("callbackURL")).toString();
    QString url = authBaseUrl(context.options()) + QStringLiteral("/magic-link/verify?token=")
                  + QString::fromLatin1(formEncode(token))
                  + param("callbackURL", callbackUrl.isEmpty() ? QStringLiteral("/") : callbackUrl);
    for (const char *name : {"newUserCallbackURL", "errorCallbackURL"}) {
        const QString value = body.value(QLatin1String(name)).toString();
        if (!value.isEmpty())
            url += param(name, value);
    }

    const qint64 minutes = qMax<qint64>(1, (m_options.expiresIn + 59) / 60);
    MailMessage message;
    message.kind = QStringLiteral("magic-link");
    message.email = address;
    message.url = url;
    message.token = token;
    message.subject = QStringLiteral("Your sign-in link");
    message.text = QStringLiteral("Hello,\n\nopen this link to sign in:\n\n%1\n\n"
                                  "It works once, within %2 minute%3. If you did not ask for it, ignore this mail.\n")
                       .arg(url, QString::number(minutes), minutes == 1 ? QString() : QStringLiteral("s"));
    message.extra.insert(QStringLiteral("metadata"), metadata.isObject() ? metadata : QJsonValue(QJsonValue::Null));
    deliverMail(context, message);
    return Response::json(QJsonObject{{QStringLiteral("status"), true}});
}

Response MagicLinkPlugin::verify(EndpointContext &context)
{
    const QUrlQuery &query = context.request().query;
    if (!query.hasQueryItem(QStringLiteral("token")))
        throwMissingQueryField(QStringLiteral("token"));
    // callbackURL, newUserCallbackURL and errorCallbackURL: safe relative paths or trusted
    // origins only (403 otherwise), checked before anything is consumed.
    context.server().origins().checkRedirectFields(QJsonObject(), query);

    const AuthOptions &options = context.options();
    auto param = [&](const char *name) { return query.queryItemValue(QLatin1String(name), QUrl::FullyDecoded); };
    const QString token = param("token");
    const QString callbackParam = param("callbackURL");
    const QString callbackUrl = resolveAgainstBase(options, callbackParam.isEmpty() ? QStringLiteral("/") : callbackParam);
    const QString errorParam = param("errorCallbackURL");
    const QString errorUrl = errorParam.isEmpty() ? callbackUrl : resolveAgainstBase(options, errorParam);
    const QString newUserParam = param("newUserCallbackURL");
    const QString newUserUrl = newUserParam.isEmpty() ? callbackUrl : resolveAgainstBase(options, newUserParam);
    auto redirectWithError = [&](const QString &code) {
        return redirectTo(withQueryItem(errorUrl, QStringLiteral("error"), code));
    };

    // A GET: any site can navigate a browser here, and its SameSite=Lax guest cookie comes
    // along. So only the guest that asked for the link is linked (set below from the
    // stored record), never a guest that merely follows it.
    context.linkableGuestId = QString();

    Store &store = context.store();
    const QString identifier = identifierFor(token);
    if (token.isEmpty() || !isLive(store.verificationByIdentifier(identifier))) {
        store.consumeVerification(identifier); // an expired row is of no further use
        return redirectWithError(QLatin1String(MagicLinkErrors::INVALID_TOKEN));
    }

    bool isNewUser = false;
    UnprovenAccess removed;
    SessionWithUser issued;
    try {
        issued = context.sessions().issue(context, [&] {
            // Consumed inside the sign-in transaction: two clicks on one link never both
            // sign in, and if on_link fails the rollback leaves the link usable.
            const std::optional<Verification> consumed = store.consumeVerification(identifier);
            if (!isLive(consumed))
                throw VerifyFailure(MagicLinkErrors::INVALID_TOKEN);
            const std::optional<Record> record = parseRecord(consumed->value);
            if (!record)
                throw VerifyFailure(MagicLinkErrors::INVALID_TOKEN);
            context.linkableGuestId = record->anonymousUserId;

            const QDateTime now = nowUtc();
            const QString email = record->email.toLower();
            std::optional<User> user = store.userByEmail(email);
            if (!user) {
                if (m_options.disableSignUp)
                    throw VerifyFailure(MagicLinkErrors::NEW_USER_SIGNUP_DISABLED);
                User created;
                created.id = Crypto::sortableId();
                created.name = record->name;
                created.email = email;
                created.emailVerified = true; // following the link proved the address
                created.createdAt = created.updatedAt = now;
                store.createUser(created);
                isNewUser = true;
                return created;
            }
            removed = UnprovenAccess();
            if (!user->emailVerified) {
                // Whoever registered this address before did not prove it (account
                // pre-hijacking): every way in opened without that proof ends here, as in
                // Better Auth (transcript 06) — sessions, accounts (the password included)
                // and, beyond Better Auth, passkeys. A password reset does the same.
                removed = endUnprovenAccess(store, *user);
            }
            return *user;
        }, true);
    } catch (const VerifyFailure &failure) {
        store.consumeVerification(identifier); // single use, even when it led nowhere
        return redirectWithError(QLatin1String(failure.code));
    } catch (const StoreError &error) {
        if (!error.isUniqueViolation())
            throw;
        // Lost a race with a concurrent sign-up for the same address; the link is intact.
        qCWarning(lcMagicLink) << "user creation raced for a magic link:" << error.what();
        return redirectWithError(QLatin1String(MagicLinkErrors::FAILED_TO_CREATE_USER));
    } catch (const ApiError &error) {
        // on_link refused: everything was rolled back. A mail click lands on the error page
        // with the code; an API caller gets the JSON error.
        if (callbackParam.isEmpty() || error.code().isEmpty())
            throw;
        return redirectWithError(error.code());
    }
    if (const std::optional<SessionWithUser> caller = context.callerSession();
        caller && caller->user.isAnonymous && caller->user.id != context.linkableGuestId.value_or(QString())
        && caller->user.id != issued.user.id) {
        qCInfo(lcMagicLink).nospace() << "guest " << caller->user.id << " followed a magic link it did not ask for; "
                                      << "signed in as " << issued.user.id << " without linking the guest";
    }
    if (removed.sessions > 0 || removed.accounts > 0 || removed.passkeys > 0)
        qCInfo(lcMagicLink).nospace() << "magic link verified " << issued.user.id << "'s email; removed "
                                      << removed.sessions << " session(s), " << removed.accounts
                                      << " account(s) and " << removed.passkeys
                                      << " passkey(s) opened before the proof";

    Response response = callbackParam.isEmpty()
        ? Response::json(QJsonObject{{QStringLiteral("token"), issued.session.token},
                                     {QStringLiteral("user"), userJson(issued.user)},
                                     {QStringLiteral("session"), sessionJson(issued.session)}})
        : redirectTo(isNewUser ? newUserUrl : callbackUrl);
    context.sessions().setSessionCookie(response, issued.session, true, context.cookies());
    return response;
}

} // namespace Kernia::Server
