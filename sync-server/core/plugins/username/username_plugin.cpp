#include "username_plugin.h"

#include "auth/auth_server.h"
#include "auth/endpoint_context.h"
#include "auth/endpoints/credentials.h"
#include "auth/validation.h"
#include "plugins/username/username_errors.h"
#include "store/store.h"

#include <QRegularExpression>

Q_LOGGING_CATEGORY(lcUsername, "kernia.username")

namespace Kernia::Server {

namespace {

const QString kUsername = QStringLiteral("username");
const QString kDisplayUsername = QStringLiteral("displayUsername");

bool defaultUsernameValidator(const QString &username)
{
    // JavaScript's /^[a-zA-Z0-9_.]+$/: \z, because PCRE's $ would also match before a final "\n".
    static const QRegularExpression pattern(QStringLiteral("\\A[a-zA-Z0-9_.]+\\z"));
    return pattern.match(username).hasMatch();
}

// Better Auth only acts on string values; null clears the field. Anything else is refused
// up front (Better Auth would hand it to the database unchecked).
void requireStringOrNull(const QJsonObject &body)
{
    BodySchema().nullableString(kUsername).nullableString(kDisplayUsername).validate(body);
}

} // namespace

UsernamePlugin::UsernamePlugin(UsernameOptions options)
    : m_options(std::move(options))
{
    if (m_options.minUsernameLength <= 0)
        m_options.minUsernameLength = 3;
    if (m_options.maxUsernameLength <= 0)
        m_options.maxUsernameLength = 30;
}

void UsernamePlugin::registerEndpoints(Router &router)
{
    router.add({"POST", QStringLiteral("/sign-in/username"), Endpoint::Body::Required, false, false,
                [this](EndpointContext &context) { return signInUsername(context); },
                Endpoint::Work::HashesPassword});
    router.add({"POST", QStringLiteral("/is-username-available"), Endpoint::Body::Required, false, false,
                [this](EndpointContext &context) { return isUsernameAvailable(context); }});
}

QString UsernamePlugin::normalizeUsername(const QString &username) const
{
    if (m_options.disableUsernameNormalization)
        return username;
    if (m_options.usernameNormalization)
        return m_options.usernameNormalization(username);
    return username.toLower();
}

QString UsernamePlugin::normalizeDisplayUsername(const QString &displayUsername) const
{
    return m_options.displayUsernameNormalization ? m_options.displayUsernameNormalization(displayUsername)
                                                  : displayUsername;
}

const ErrorCode *UsernamePlugin::usernameError(const QString &username) const
{
    const QString value = m_options.usernameValidationOrder == UsernameOptions::ValidationOrder::PostNormalization
        ? normalizeUsername(username) : username;
    if (value.size() < m_options.minUsernameLength)
        return &UsernameErrors::USERNAME_TOO_SHORT;
    if (value.size() > m_options.maxUsernameLength)
        return &UsernameErrors::USERNAME_TOO_LONG;
    const bool valid = m_options.usernameValidator ? m_options.usernameValidator(value)
                                                   : defaultUsernameValidator(value);
    if (!valid)
        return &UsernameErrors::INVALID_USERNAME;
    return nullptr;
}

void UsernamePlugin::checkDisplayUsername(const QJsonValue &displayUsername) const
{
    if (!m_options.displayUsername || !displayUsername.isString() || !m_options.displayUsernameValidator)
        return;
    const QString value = m_options.displayUsernameValidationOrder == UsernameOptions::ValidationOrder::PostNormalization
        ? normalizeDisplayUsername(displayUsername.toString()) : displayUsername.toString();
    if (!m_options.displayUsernameValidator(value))
        throw ApiError(400, UsernameErrors::INVALID_DISPLAY_USERNAME);
}

void UsernamePlugin::checkAvailable(Store &store, const QString &normalisedUsername, const QString &ownerId) const
{
    const std::optional<User> holder = store.userByUsername(normalisedUsername);
    if (holder && (ownerId.isEmpty() || holder->id != ownerId))
        throw ApiError(400, UsernameErrors::USERNAME_IS_ALREADY_TAKEN);
}

UsernamePlugin::NewUserFields UsernamePlugin::signUpFields(EndpointContext &context) const
{
    // Better Auth's three sign-up before-hooks, in their order.
    const QJsonObject &body = context.body;
    NewUserFields fields;
    if (!body.contains(kUsername) && !body.contains(kDisplayUsername))
        return fields;
    requireStringOrNull(body);

    QJsonValue username = body.value(kUsername);
    const QJsonValue sentDisplayUsername = body.value(kDisplayUsername);
    // 1. A displayUsername alone becomes the username too, if it is a valid one.
    if (sentDisplayUsername.isString() && username.isUndefined() && !usernameError(sentDisplayUsername.toString()))
        username = sentDisplayUsername;
    // 2. Validate the username as typed, then look the normalised value up.
    const QString rawUsername = username.toString();
    if (username.isString()) {
        if (const ErrorCode *error = usernameError(rawUsername))
            throw ApiError(400, *error);
        fields.username = normalizeUsername(rawUsername);
        checkAvailable(context.store(), *fields.username);
    }
    const QJsonValue displayUsername = m_options.displayUsername ? sentDisplayUsername : QJsonValue();
    checkDisplayUsername(displayUsername);
    // 3. No displayUsername given: the username as typed.
    if (!m_options.displayUsername)
        return fields;
    const QString display = displayUsername.toString();
    if (!rawUsername.isEmpty())
        fields.displayUsername = normalizeDisplayUsername(display.isEmpty() ? rawUsername : display);
    else if (displayUsername.isString())
        fields.displayUsername = normalizeDisplayUsername(display);
    return fields;
}

void UsernamePlugin::validateSignUp(EndpointContext &context)
{
    signUpFields(context);
}

void UsernamePlugin::prepareNewUser(EndpointContext &context, User &user)
{
    // The same checks again inside the transaction: a concurrent sign-up may have taken the
    // name meanwhile (writers are serialised, so this read sees what the insert will face).
    const NewUserFields fields = signUpFields(context);
    user.username = fields.username;
    user.displayUsername = fields.displayUsername;
}

bool UsernamePlugin::applyUserUpdate(EndpointContext &context, User &user)
{
    const QJsonObject &body = context.body;
    const bool hasUsername = body.contains(kUsername);
    const bool hasDisplayUsername = m_options.displayUsername && body.contains(kDisplayUsername);
    if (!hasUsername && !hasDisplayUsername)
        return false;
    requireStringOrNull(body);

    const QJsonValue username = body.value(kUsername);
    const QJsonValue displayUsername = hasDisplayUsername ? body.value(kDisplayUsername) : QJsonValue();
    std::optional<QString> normalised;
    if (username.isString()) {
        if (const ErrorCode *error = usernameError(username.toString()))
            throw ApiError(400, *error);
        normalised = normalizeUsername(username.toString());
    }
    if (hasUsername && m_options.immutableUsername && user.username && user.username != normalised)
        throw ApiError(400, UsernameErrors::USERNAME_IS_IMMUTABLE);
    if (normalised)
        checkAvailable(context.store(), *normalised, user.id);  // the caller's own name is fine
    checkDisplayUsername(displayUsername);

    if (hasUsername)
        user.username = normalised;   // null clears it, as in Better Auth
    // displayUsername changes only when it is sent.
    if (hasDisplayUsername) {
        user.displayUsername = displayUsername.isString()
            ? std::optional<QString>(normalizeDisplayUsername(displayUsername.toString())) : std::nullopt;
    }
    return true;
}

Response UsernamePlugin::signInUsername(EndpointContext &context)
{
    const QJsonObject &body = context.body;
    BodySchema().string(kUsername)
        .string(QStringLiteral("password"))
        .boolean(QStringLiteral("rememberMe"))
        .string(QStringLiteral("callbackURL"), BodySchema::Presence::Optional)
        .validate(body);
    const QString username = body.value(kUsername).toString();
    const QString password = body.value(QStringLiteral("password")).toString();
    const ApiError rejected(401, UsernameErrors::INVALID_USERNAME_OR_PASSWORD);
    if (username.isEmpty() || password.isEmpty())
        throw rejected;
    if (const ErrorCode *error = usernameError(username))
        throw ApiError(422, *error);
    checkPasswordNotTooLong(context, password);

    return signInWithPassword(context, context.store().userByUsername(normalizeUsername(username)),
                              password, rejected);
}

Response UsernamePlugin::isUsernameAvailable(EndpointContext &context)
{
    BodySchema().string(kUsername).validate(context.body);
    const QString username = context.body.value(kUsername).toString();
    if (username.isEmpty())
        throw ApiError(422, UsernameErrors::INVALID_USERNAME);
    if (const ErrorCode *error = usernameError(username))
        throw ApiError(422, *error);
    const bool taken = context.store().userByUsername(normalizeUsername(username)).has_value();
    return Response::json(QJsonObject{{QStringLiteral("available"), !taken}});
}

} // namespace Kernia::Server
