#include "passkey_plugin.h"

#include "auth/auth_server.h"
#include "auth/endpoint_context.h"
#include "auth/error_codes.h"
#include "auth/origin_policy.h"
#include "auth/validation.h"
#include "crypto/crypto.h"
#include "plugins/passkey/passkey_errors.h"
#include "store/store.h"
#include "webauthn/cose.h"
#include "webauthn/webauthn.h"

#include <QJsonArray>
#include <QJsonDocument>

Q_LOGGING_CATEGORY(lcPasskey, "kernia.passkey")

namespace Kernia::Server {

namespace {

const QString kRegistration = QStringLiteral("registration");
const QString kAuthentication = QStringLiteral("authentication");

// better-auth's generateRandomString(32): [A-Za-z0-9_-]
QString verificationToken()
{
    return Crypto::randomString(32, u"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
}

QJsonArray credentialDescriptors(const QList<Passkey> &passkeys)
{
    QJsonArray list;
    for (const Passkey &passkey : passkeys) {
        QJsonObject descriptor{{QStringLiteral("id"), passkey.credentialID}};
        // JS: passkey.transports?.split(",") — "" gives [""], null gives nothing.
        if (passkey.transports)
            descriptor.insert(QStringLiteral("transports"), QJsonArray::fromStringList(passkey.transports->split(QLatin1Char(','))));
        descriptor.insert(QStringLiteral("type"), QStringLiteral("public-key"));
        list.append(descriptor);
    }
    return list;
}

QString queryValue(const EndpointContext &context, const QString &name)
{
    return context.request().query.queryItemValue(name, QUrl::FullyDecoded);
}

} // namespace

PasskeyPlugin::PasskeyPlugin(PasskeyOptions options)
    : m_options(std::move(options))
{
}

void PasskeyPlugin::registerEndpoints(Router &router)
{
    router.add({"GET", QStringLiteral("/passkey/generate-register-options"), Endpoint::Body::Ignored, false, false,
                [this](EndpointContext &c) { return generateRegisterOptions(c); }});
    router.add({"POST", QStringLiteral("/passkey/verify-registration"), Endpoint::Body::Required, false, false,
                [this](EndpointContext &c) { return verifyRegistration(c); }});
    router.add({"GET", QStringLiteral("/passkey/generate-authenticate-options"), Endpoint::Body::Ignored, false, false,
                [this](EndpointContext &c) { return generateAuthenticateOptions(c); }});
    router.add({"POST", QStringLiteral("/passkey/verify-authentication"), Endpoint::Body::Required, false, false,
                [this](EndpointContext &c) { return verifyAuthentication(c); }});
    router.add({"GET", QStringLiteral("/passkey/list-user-passkeys"), Endpoint::Body::Ignored, false, false,
                [this](EndpointContext &c) { return listUserPasskeys(c); }});
    router.add({"POST", QStringLiteral("/passkey/delete-passkey"), Endpoint::Body::Required, false, false,
                [this](EndpointContext &c) { return deletePasskey(c); }});
    router.add({"POST", QStringLiteral("/passkey/update-passkey"), Endpoint::Body::Required, false, false,
                [this](EndpointContext &c) { return updatePasskey(c); }});
}

QJsonObject PasskeyPlugin::passkeyJson(const Passkey &p)
{
    auto optional = [](const std::optional<QString> &v) { return v ? QJsonValue(*v) : QJsonValue(QJsonValue::Null); };
    return {
        {QStringLiteral("name"), optional(p.name)},
        {QStringLiteral("publicKey"), p.publicKey},
        {QStringLiteral("userId"), p.userId},
        {QStringLiteral("credentialID"), p.credentialID},
        {QStringLiteral("counter"), p.counter},
        {QStringLiteral("deviceType"), p.deviceType},
        {QStringLiteral("backedUp"), p.backedUp},
        {QStringLiteral("transports"), optional(p.transports)},
        {QStringLiteral("createdAt"), p.createdAt.isValid() ? QJsonValue(isoTimestamp(p.createdAt)) : QJsonValue(QJsonValue::Null)},
        {QStringLiteral("aaguid"), optional(p.aaguid)},
        {QStringLiteral("id"), p.id},
    };
}

QString PasskeyPlugin::rpId(const EndpointContext &context) const
{
    if (!m_options.rpId.isEmpty())
        return m_options.rpId;
    const QString host = context.options().baseUrl.host();
    return host.isEmpty() ? QStringLiteral("localhost") : host;
}

QString PasskeyPlugin::rpName() const
{
    return m_options.rpName.isEmpty() ? QStringLiteral("Kernia") : m_options.rpName;
}

QStringList PasskeyPlugin::expectedOrigins(const EndpointContext &context) const
{
    if (!m_options.origins.isEmpty())
        return m_options.origins;
    // Better Auth without an `origin` option: the request's Origin header is the expected
    // WebAuthn origin; Kernia also accepts the base URL's origin then.
    const QString header = QString::fromUtf8(context.request().header("origin"));
    if (header.isEmpty())
        return {};
    QStringList origins{header};
    const QString base = OriginPolicy::originOf(context.options().baseUrl.toString());
    if (!base.isEmpty() && base != header)
        origins.append(base);
    return origins;
}

QByteArray PasskeyPlugin::challengeCookieName(const EndpointContext &context) const
{
    return Cookies::cookieName(context.options().cookiePrefix, "better-auth-passkey", context.options().secureCookies());
}

void PasskeyPlugin::storeChallenge(EndpointContext &context, Response &response, const QJsonObject &data) const
{
    const QString token = verificationToken();
    const QDateTime now = nowUtc();
    Verification row;
    row.id = Crypto::sortableId();
    row.identifier = token;
    row.value = QString::fromUtf8(QJsonDocument(data).toJson(QJsonDocument::Compact));
    row.expiresAt = now.addSecs(m_options.challengeMaxAge);
    row.createdAt = row.updatedAt = now;
    context.store().createVerification(row);

    Cookies::CookieAttributes attrs;
    attrs.maxAge = m_options.challengeMaxAge;
    attrs.secure = context.options().secureCookies();
    response.setCookie(challengeCookieName(context),
                       Cookies::encodeURIComponent(Cookies::sign(token.toUtf8(), context.options().secret)), attrs);
}

QJsonObject PasskeyPlugin::consumeChallenge(EndpointContext &context, const QString &ceremony) const
{
    const auto cookie = context.cookies().constFind(challengeCookieName(context));
    if (cookie == context.cookies().constEnd())
        throw ApiError(400, PasskeyErrors::CHALLENGE_NOT_FOUND);
    const std::optional<QByteArray> token = Cookies::verifySigned(cookie.value(), context.options().secret);
    if (!token || token->isEmpty())
        throw ApiError(400, PasskeyErrors::CHALLENGE_NOT_FOUND);
    // Single use: the row is deleted by the same statement that reads it.
    const std::optional<Verification> row = context.store().consumeVerification(QString::fromUtf8(*token));
    if (!row || row->expiresAt < nowUtc())
        throw ApiError(400, PasskeyErrors::CHALLENGE_NOT_FOUND);
    const QJsonObject data = QJsonDocument::fromJson(row->value.toUtf8()).object();
    if (data.value(QStringLiteral("type")).toString() != ceremony
        || !data.value(QStringLiteral("expectedChallenge")).isString())
        throw ApiError(400, PasskeyErrors::CHALLENGE_NOT_FOUND);
    return data;
}

// GET /passkey/generate-register-options ---------------------------------------------------

Response PasskeyPlugin::generateRegisterOptions(EndpointContext &context)
{
    const QString attachment = queryValue(context, QStringLiteral("authenticatorAttachment"));
    const bool hasAttachment = context.request().query.hasQueryItem(QStringLiteral("authenticatorAttachment"));
    if (hasAttachment && attachment != QLatin1String("platform") && attachment != QLatin1String("cross-platform")) {
        throwValidationError({QStringLiteral("[query.authenticatorAttachment] Invalid option: expected one of "
                                             "\"platform\"|\"cross-platform\"")});
    }
    const SessionWithUser caller = context.requireFreshSession();
    const QString userName = caller.user.email.isEmpty() ? caller.user.id : caller.user.email;
    const QString queryName = queryValue(context, QStringLiteral("name"));
    const bool hasContext = context.request().query.hasQueryItem(QStringLiteral("context"));

    const QString challenge = WebAuthn::base64UrlEncode(Crypto::randomBytes(32));
    // WebAuthn user.id: a throw-away random handle, not the account id (as Better Auth).
    const QByteArray userHandle = Crypto::randomString(32, u"abcdefghijklmnopqrstuvwxyz0123456789").toLatin1();

    QJsonObject selection{{QStringLiteral("residentKey"), QStringLiteral("preferred")},
                          {QStringLiteral("userVerification"), QStringLiteral("preferred")}};
    if (hasAttachment)
        selection.insert(QStringLiteral("authenticatorAttachment"), attachment);
    selection.insert(QStringLiteral("requireResidentKey"), false);

    QJsonArray params;
    for (qint64 alg : {WebAuthn::CoseAlg::EdDSA, WebAuthn::CoseAlg::ES256, WebAuthn::CoseAlg::RS256})
        params.append(QJsonObject{{QStringLiteral("alg"), alg}, {QStringLiteral("type"), QStringLiteral("public-key")}});

    const QJsonObject options{
        {QStringLiteral("challenge"), challenge},
        {QStringLiteral("rp"), QJsonObject{{QStringLiteral("name"), rpName()}, {QStringLiteral("id"), rpId(context)}}},
        {QStringLiteral("user"), QJsonObject{{QStringLiteral("id"), WebAuthn::base64UrlEncode(userHandle)},
                                             {QStringLiteral("name"), queryName.isEmpty() ? userName : queryName},
                                             {QStringLiteral("displayName"), userName}}},
        {QStringLiteral("pubKeyCredParams"), params},
        {QStringLiteral("timeout"), m_options.timeoutMs},
        {QStringLiteral("attestation"), QStringLiteral("none")},
        {QStringLiteral("excludeCredentials"), credentialDescriptors(context.store().passkeysByUser(caller.user.id))},
        {QStringLiteral("authenticatorSelection"), selection},
        {QStringLiteral("extensions"), QJsonObject{{QStringLiteral("credProps"), true}}},
        {QStringLiteral("hints"), QJsonArray()},
    };

    Response response = Response::json(options);
    storeChallenge(context, response, QJsonObject{
        {QStringLiteral("type"), kRegistration},
        {QStringLiteral("expectedChallenge"), challenge},
        {QStringLiteral("userData"), QJsonObject{{QStringLiteral("id"), caller.user.id},
                                                 {QStringLiteral("name"), userName},
                                                 {QStringLiteral("displayName"), userName}}},
        {QStringLiteral("context"), hasContext ? QJsonValue(queryValue(context, QStringLiteral("context")))
                                               : QJsonValue(QJsonValue::Null)},
    });
    return response;
}

// POST /passkey/verify-registration ---------------------------------------------------------

Response PasskeyPlugin::verifyRegistration(EndpointContext &context)
{
    BodySchema()
        .string(QStringLiteral("name"), BodySchema::Presence::Optional)
        .boolean(QStringLiteral("createSession"), BodySchema::Presence::Optional)
        .validate(context.body);
    const SessionWithUser caller = context.requireFreshSession();

    const QStringList origins = expectedOrigins(context);
    if (origins.isEmpty())
        throw ApiError(400, PasskeyErrors::FAILED_TO_VERIFY_REGISTRATION);
    const QJsonObject data = consumeChallenge(context, kRegistration);
    const QString ownerId = data.value(QStringLiteral("userData")).toObject().value(QStringLiteral("id")).toString();
    if (ownerId != caller.user.id)
        throw ApiError(401, PasskeyErrors::YOU_ARE_NOT_ALLOWED_TO_REGISTER_THIS_PASSKEY);

    const QJsonValue credential = context.body.value(QStringLiteral("response"));
    const WebAuthn::Expectations expected{data.value(QStringLiteral("expectedChallenge")).toString(), origins,
                                          rpId(context), m_options.requireUserVerification};
    WebAuthn::RegistrationResult result;
    if (credential.isObject()) {
        result = WebAuthn::verifyRegistrationResponse(credential.toObject(), expected);
    } else {
        result.error = WebAuthn::VerifyError::MalformedResponse;
        result.message = QStringLiteral("response is not an object");
    }
    if (!result.ok()) {
        qCInfo(lcPasskey).noquote() << "registration for" << caller.user.id << "rejected:" << result.message;
        // Better Auth answers 500 when SimpleWebAuthn throws; Kernia keeps every
        // verification failure a 400 (docs/methods/passkey.md).
        throw ApiError(400, PasskeyErrors::FAILED_TO_VERIFY_REGISTRATION);
    }

    const QJsonObject responseObject = credential.toObject().value(QStringLiteral("response")).toObject();
    QStringList transports;
    for (const QJsonValue &t : responseObject.value(QStringLiteral("transports")).toArray()) {
        if (t.isString())
            transports << t.toString();
    }
    const QString name = context.body.value(QStringLiteral("name")).toString().trimmed();

    Passkey passkey;
    passkey.id = Crypto::sortableId();
    if (!name.isEmpty())
        passkey.name = name;
    passkey.publicKey = QString::fromLatin1(result.publicKey.toBase64());
    passkey.userId = caller.user.id;
    passkey.credentialID = WebAuthn::base64UrlEncode(result.credentialId);
    passkey.counter = result.signCount;
    passkey.deviceType = result.deviceType();
    passkey.backedUp = result.backedUp;
    passkey.transports = transports.join(QLatin1Char(','));
    passkey.createdAt = nowUtc();
    passkey.aaguid = result.aaguid;

    const bool createSession = context.body.value(QStringLiteral("createSession")).toBool(false);
    SessionWithUser issued;
    Store &store = context.store();
    store.transaction([&] {
        if (store.passkeyByCredentialId(passkey.credentialID)) {
            // A credential id names one passkey; re-registering it must not fork the counter.
            throw ApiError(400, PasskeyErrors::FAILED_TO_VERIFY_REGISTRATION);
        }
        std::optional<User> user;
        if (createSession) {
            user = store.userById(caller.user.id);
            if (!user)
                throw ApiError(500, PasskeyErrors::USER_NOT_FOUND);
        }
        store.createPasskey(passkey);
        if (createSession) {
            // Not SessionManager::issue: registration never links a guest (anonymous.md §5.1).
            issued.user = *user;
            issued.session = context.sessions().newSession(user->id, true, context.request());
            store.createSession(issued.session);
        }
    });
    qCInfo(lcPasskey).noquote() << "passkey" << passkey.id << "registered for" << caller.user.id << "(" << result.fmt << ")";

    QJsonObject json = passkeyJson(passkey);
    if (!createSession)
        return Response::json(json);
    json.insert(QStringLiteral("session"), sessionJson(issued.session));
    json.insert(QStringLiteral("user"), userJson(issued.user));
    Response response = Response::json(json);
    context.sessions().setSessionCookie(response, issued.session, true, context.cookies());
    return response;
}

// GET /passkey/generate-authenticate-options -------------------------------------------------

Response PasskeyPlugin::generateAuthenticateOptions(EndpointContext &context)
{
    const std::optional<SessionWithUser> caller = context.callerSession();
    const QList<Passkey> passkeys = caller ? context.store().passkeysByUser(caller->user.id) : QList<Passkey>();
    const QString challenge = WebAuthn::base64UrlEncode(Crypto::randomBytes(32));

    QJsonObject options{
        {QStringLiteral("rpId"), rpId(context)},
        {QStringLiteral("challenge"), challenge},
        {QStringLiteral("timeout"), m_options.timeoutMs},
        {QStringLiteral("userVerification"), QStringLiteral("preferred")},
    };
    if (!passkeys.isEmpty())
        options.insert(QStringLiteral("allowCredentials"), credentialDescriptors(passkeys));

    Response response = Response::json(options);
    storeChallenge(context, response, QJsonObject{
        {QStringLiteral("type"), kAuthentication},
        {QStringLiteral("expectedChallenge"), challenge},
        {QStringLiteral("userData"), QJsonObject{{QStringLiteral("id"), caller ? caller->user.id : QString(QLatin1String(""))}}},
    });
    return response;
}

// POST /passkey/verify-authentication --------------------------------------------------------

Response PasskeyPlugin::verifyAuthentication(EndpointContext &context)
{
    const QJsonValue credentialValue = context.body.value(QStringLiteral("response"));
    if (!credentialValue.isObject()) {
        throwValidationError({QStringLiteral("[body.response] Invalid input: expected record, received ")
                              + jsTypeName(credentialValue)});
    }
    const QJsonObject credential = credentialValue.toObject();

    const QStringList origins = expectedOrigins(context);
    if (origins.isEmpty())
        throw ApiError(400, QString(), QStringLiteral("origin missing"));
    const QJsonObject data = consumeChallenge(context, kAuthentication);

    const QString credentialId = credential.value(QStringLiteral("id")).toString();
    const std::optional<Passkey> passkey = credentialId.isEmpty()
        ? std::nullopt : context.store().passkeyByCredentialId(credentialId);
    if (!passkey)
        throw ApiError(401, PasskeyErrors::PASSKEY_NOT_FOUND);

    const WebAuthn::Expectations expected{data.value(QStringLiteral("expectedChallenge")).toString(), origins,
                                          rpId(context), m_options.requireUserVerification};
    const std::optional<QByteArray> publicKey = [&]() -> std::optional<QByteArray> {
        auto decoded = QByteArray::fromBase64Encoding(passkey->publicKey.toLatin1(), QByteArray::AbortOnBase64DecodingErrors);
        return decoded ? std::optional<QByteArray>(decoded.decoded) : std::nullopt;
    }();
    WebAuthn::AssertionResult result;
    if (publicKey) {
        result = WebAuthn::verifyAuthenticationResponse(credential, expected, {*publicKey, passkey->counter});
    } else {
        result.error = WebAuthn::VerifyError::InvalidPublicKey;
        result.message = QStringLiteral("stored key is not base64");
    }
    if (!result.ok()) {
        qCInfo(lcPasskey).noquote() << "authentication with passkey" << passkey->id << "rejected:" << result.message;
        // SimpleWebAuthn: a signature that does not verify is "not verified" (401); every
        // other failure is an exception (400).
        throw ApiError(result.error == WebAuthn::VerifyError::BadSignature ? 401 : 400,
                       PasskeyErrors::AUTHENTICATION_FAILED);
    }

    Store &store = context.store();
    const SessionWithUser issued = context.sessions().issue(context, [&] {
        // Inside the issuing transaction (writers serialised): re-check the counter so two
        // concurrent assertions with one counter value cannot both succeed.
        std::optional<Passkey> current = store.passkeyById(passkey->id);
        if (!current)
            throw ApiError(401, PasskeyErrors::PASSKEY_NOT_FOUND);
        if ((result.newCounter > 0 || current->counter > 0) && qint64(result.newCounter) <= current->counter)
            throw ApiError(400, PasskeyErrors::AUTHENTICATION_FAILED);
        current->counter = result.newCounter;
        store.updatePasskey(*current);
        const std::optional<User> user = store.userById(current->userId);
        if (!user)
            throw ApiError(500, QString(), QStringLiteral("User not found"));
        return *user;
    }, true);

    Response response = Response::json(QJsonObject{{QStringLiteral("session"), sessionJson(issued.session)},
                                                   {QStringLiteral("user"), userJson(issued.user)}});
    context.sessions().setSessionCookie(response, issued.session, true, context.cookies());
    return response;
}

// Passkey management -------------------------------------------------------------------------

Response PasskeyPlugin::listUserPasskeys(EndpointContext &context)
{
    const SessionWithUser caller = context.requireSession();
    QJsonArray list;
    for (const Passkey &passkey : context.store().passkeysByUser(caller.user.id))
        list.append(passkeyJson(passkey));
    return Response::json(list);
}

Response PasskeyPlugin::deletePasskey(EndpointContext &context)
{
    BodySchema().string(QStringLiteral("id")).validate(context.body);
    const SessionWithUser caller = context.requireSession();
    const QString id = context.body.value(QStringLiteral("id")).toString();
    if (id.isEmpty())
        throw ApiError(400, QString(), QStringLiteral("Missing required parameter: id"));
    const std::optional<Passkey> passkey = context.store().passkeyById(id);
    if (!passkey)
        throw ApiError(404, PasskeyErrors::PASSKEY_NOT_FOUND);
    if (passkey->userId != caller.user.id)
        throw ApiError(401, CoreErrors::UNAUTHORIZED);
    context.store().deletePasskey(id);
    return Response::json(QJsonObject{{QStringLiteral("status"), true}});
}

Response PasskeyPlugin::updatePasskey(EndpointContext &context)
{
    BodySchema().string(QStringLiteral("id")).string(QStringLiteral("name")).validate(context.body);
    const QString name = context.body.value(QStringLiteral("name")).toString().trimmed();
    if (name.isEmpty())
        throwValidationError({QStringLiteral("[body.name] Too small: expected string to have >=1 characters")});
    const SessionWithUser caller = context.requireSession();
    const QString id = context.body.value(QStringLiteral("id")).toString();
    if (id.isEmpty())
        throw ApiError(400, QString(), QStringLiteral("Missing required parameter: id"));
    std::optional<Passkey> passkey = context.store().passkeyById(id);
    if (!passkey)
        throw ApiError(404, PasskeyErrors::PASSKEY_NOT_FOUND);
    if (passkey->userId != caller.user.id)
        throw ApiError(401, PasskeyErrors::YOU_ARE_NOT_ALLOWED_TO_REGISTER_THIS_PASSKEY);
    passkey->name = name;
    context.store().updatePasskey(*passkey);
    return Response::json(QJsonObject{{QStringLiteral("passkey"), passkeyJson(*passkey)}});
}

} // namespace Kernia::Server
