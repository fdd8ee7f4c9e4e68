#include "server_config.h"

#include "config/templates.h"
#include "crypto/crypto.h"
#include "mail/smtp_mailer.h"
#include "plugins/magic_link/magic_link_options.h"
#include "plugins/anonymous/anonymous_options.h"
#include "ops/maintenance.h"
#include "ratelimit/rate_limit_config.h"
#include "store/store.h"
#include "sync/sync_options.h"

#include <QCommandLineParser>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>

namespace Kernia::Server {

namespace {

const char *const kSecretFile = "secret";
// A number that may come from a flag or from the config file: one range for both.
struct IntegerSetting
{
    const char *flag;   // without "--"
    const char *key;    // in the config file
    qint64 minimum;
    qint64 maximum;
    const char *unit;   // for the config file's message: "" or " seconds"
};
constexpr IntegerSetting kWorkerThreads{"worker-threads", "worker_threads", 1, 256, ""};
// Polling longer than this only burns CPU: a client that has not sent its next request
// by then is not in a tight request chain.
constexpr IntegerSetting kIdleSpin{"idle-spin-us", "idle_spin_us", 0, 10000, " microseconds"};
// sync.max_user_bytes / --sync-max-user-bytes: 0 (unlimited) .. 1 TiB.
constexpr qint64 kMaxUserBytes = qint64(1) << 40;
constexpr IntegerSetting kShutdownTimeout{"shutdown-timeout", "shutdown_timeout", 0, 3600, " seconds"};
// Session lifetimes: config file only (no flags).
constexpr qint64 kTenYears = qint64(10) * 365 * 24 * 3600;
constexpr IntegerSetting kSessionExpiresIn{"", "session.expires_in", 1, kTenYears, " seconds"};
constexpr IntegerSetting kSessionUpdateAge{"", "session.update_age", 0, kTenYears, " seconds"};
constexpr IntegerSetting kSessionFreshAge{"", "session.fresh_age", 0, kTenYears, " seconds"};

// The check for a value that came from the config file (a flag's value is checked as it is
// parsed, and may have replaced it).
bool inRange(const IntegerSetting &setting, qint64 value, QString *error)
{
    if (value >= setting.minimum && value <= setting.maximum)
        return true;
    *error = QStringLiteral("%1 must be between %2 and %3%4")
                 .arg(QLatin1String(setting.key)).arg(setting.minimum).arg(setting.maximum).arg(QLatin1String(setting.unit));
    return false;
}

QStringList stringList(const QJsonValue &value)
{
    QStringList list;
    for (const QJsonValue &entry : value.toArray())
        list << entry.toString();
    return list;
}

// Applies the JSON config file's keys (snake_case, as in the seeds) onto `config`.
bool applyConfigFile(const QString &path, ServerConfig &config, QString *error)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("cannot read config file %1: %2").arg(path, file.errorString());
        return false;
    }
    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(file.readAll(), &parseError);
    if (parseError.error != QJsonParseError::NoError || !document.isObject()) {
        *error = QStringLiteral("config file %1 is not a JSON object: %2").arg(path, parseError.errorString());
        return false;
    }
    const QJsonObject root = document.object();
    static const QStringList known = {
        QStringLiteral("host"), QStringLiteral("port"), QStringLiteral("data_dir"), QStringLiteral("database"),
        QStringLiteral("secret"), QStringLiteral("base_url"), QStringLiteral("trusted_origins"),
        QStringLiteral("delete_user_confirmation_enabled"),
        QStringLiteral("mail_outbox"), QStringLiteral("max_body_bytes"), QStringLiteral("worker_threads"),
        QStringLiteral("idle_spin_us"), QStringLiteral("hash_priority"), QStringLiteral("revoke_sessions_on_password_reset"),
        QStringLiteral("change_email_enabled"), QStringLiteral("change_email_confirmation_enabled"),
        QStringLiteral("anonymous"), QStringLiteral("smtp"), QStringLiteral("magic_link"), QStringLiteral("passkey"),
        QStringLiteral("sync"), QStringLiteral("rate_limit"), QStringLiteral("shutdown_timeout"), QStringLiteral("session")};
    for (const QString &key : root.keys()) {
        if (!known.contains(key)) {
            *error = QStringLiteral("unknown key \"%1\" in config file %2").arg(key, path);
            return false;
        }
    }
    config.host = root.value(QStringLiteral("host")).toString(config.host);
    config.port = root.value(QStringLiteral("port")).toInt(config.port);
    config.dataDir = root.value(QStringLiteral("data_dir")).toString(config.dataDir);
    config.database = root.value(QStringLiteral("database")).toString(config.database);
    if (root.contains(QStringLiteral("secret")))
        config.secret = root.value(QStringLiteral("secret")).toString().toUtf8();
    if (root.contains(QStringLiteral("base_url")))
        config.baseUrl = QUrl(root.value(QStringLiteral("base_url")).toString());
    config.trustedOrigins += stringList(root.value(QStringLiteral("trusted_origins")));
    config.mailOutbox = root.value(QStringLiteral("mail_outbox")).toString(config.mailOutbox);
    config.maxBodyBytes = root.value(QStringLiteral("max_body_bytes")).toInteger(config.maxBodyBytes);
    config.workerThreads = root.value(QStringLiteral("worker_threads")).toInt(config.workerThreads);
    config.idleSpinMicroseconds = root.value(QStringLiteral("idle_spin_us")).toInt(config.idleSpinMicroseconds);
    if (root.contains(QStringLiteral("hash_priority"))) {
        const QString name = root.value(QStringLiteral("hash_priority")).toString();
        const std::optional<ScryptHelper::Priority> priority = ScryptHelper::priorityFromName(name.toStdString());
        if (!priority) {
            *error = QStringLiteral("hash_priority in config file %1 must be idle, low or normal, got \"%2\"").arg(path, name);
            return false;
        }
        config.hashPriority = *priority;
    }

    config.deleteUserConfirmationEnabled = root.value(QStringLiteral("delete_user_confirmation_enabled"))
                                               .toBool(config.deleteUserConfirmationEnabled);
    config.revokeSessionsOnPasswordReset = root.value(QStringLiteral("revoke_sessions_on_password_reset"))
                                               .toBool(config.revokeSessionsOnPasswordReset);
    config.changeEmailEnabled = root.value(QStringLiteral("change_email_enabled")).toBool(config.changeEmailEnabled);
    config.changeEmailConfirmationEnabled = root.value(QStringLiteral("change_email_confirmation_enabled"))
                                                .toBool(config.changeEmailConfirmationEnabled);

    const QJsonValue session = root.value(QStringLiteral("session"));
    if (!session.isUndefined() && !session.isObject()) {
        *error = QStringLiteral("session must be an object in config file %1").arg(path);
        return false;
    }
    const QJsonObject sessionObject = session.toObject();
    for (const QString &key : sessionObject.keys()) {
        static const QStringList sessionKeys = {QStringLiteral("expires_in"), QStringLiteral("update_age"),
                                                QStringLiteral("fresh_age")};
        if (!sessionKeys.contains(key)) {
            *error = QStringLiteral("unknown key \"session.%1\" in config file %2").arg(key, path);
            return false;
        }
        // whole seconds; the ranges are checked with the other settings
        const QJsonValue value = sessionObject.value(key);
        if (!value.isDouble() || value.toDouble() != double(qint64(value.toDouble()))) {
            *error = QStringLiteral("session.%1 in config file %2 must be a whole number of seconds").arg(key, path);
            return false;
        }
        qint64 &target = key == QLatin1String("expires_in") ? config.session.expiresIn
            : key == QLatin1String("update_age")            ? config.session.updateAge
                                                             : config.session.freshAge;
        target = qint64(value.toDouble());
    }

    const QJsonObject anonymous = root.value(QStringLiteral("anonymous")).toObject();
    AnonymousConfig &a = config.anonymous;
    a.emailDomainName = anonymous.value(QStringLiteral("email_domain_name")).toString(a.emailDomainName);
    a.nameTemplate = anonymous.value(QStringLiteral("generate_name")).toString(a.nameTemplate);
    a.emailTemplate = anonymous.value(QStringLiteral("generate_random_email")).toString(a.emailTemplate);
    a.disableDeleteAnonymousUser = anonymous.value(QStringLiteral("disable_delete_anonymous_user"))
                                       .toBool(a.disableDeleteAnonymousUser);
    a.onLinkSql += stringList(anonymous.value(QStringLiteral("on_link")).toObject().value(QStringLiteral("sql")));

    const QJsonObject smtp = root.value(QStringLiteral("smtp")).toObject();
    for (const QString &key : smtp.keys()) {
        static const QStringList smtpKeys = {QStringLiteral("url"), QStringLiteral("user"), QStringLiteral("password"),
                                             QStringLiteral("from"), QStringLiteral("tls"), QStringLiteral("ca_file"),
                                             QStringLiteral("timeout")};
        if (!smtpKeys.contains(key)) {
            *error = QStringLiteral("unknown key \"smtp.%1\" in config file %2").arg(key, path);
            return false;
        }
    }
    SmtpConfig &m = config.smtp;
    m.url = smtp.value(QStringLiteral("url")).toString(m.url);
    m.user = smtp.value(QStringLiteral("user")).toString(m.user);
    m.password = smtp.value(QStringLiteral("password")).toString(m.password);
    m.from = smtp.value(QStringLiteral("from")).toString(m.from);
    m.tls = smtp.value(QStringLiteral("tls")).toString(m.tls);
    m.caFile = smtp.value(QStringLiteral("ca_file")).toString(m.caFile);
    m.timeoutSeconds = smtp.value(QStringLiteral("timeout")).toInt(m.timeoutSeconds);

    const QJsonObject magicLink = root.value(QStringLiteral("magic_link")).toObject();
    MagicLinkConfig &ml = config.magicLink;
    ml.expiresIn = magicLink.value(QStringLiteral("expires_in")).toInteger(ml.expiresIn);
    ml.disableSignUp = magicLink.value(QStringLiteral("disable_sign_up")).toBool(ml.disableSignUp);
    ml.storeToken = magicLink.value(QStringLiteral("store_token")).toString(ml.storeToken);

    const QJsonObject passkey = root.value(QStringLiteral("passkey")).toObject();
    config.passkey.rpId = passkey.value(QStringLiteral("rp_id")).toString(config.passkey.rpId);
    config.passkey.rpName = passkey.value(QStringLiteral("rp_name")).toString(config.passkey.rpName);
    config.passkey.origins += stringList(passkey.value(QStringLiteral("origins")));

    const QJsonObject sync = root.value(QStringLiteral("sync")).toObject();
    for (const QString &key : sync.keys()) {
        static const QStringList syncKeys = {QStringLiteral("merge_policies"), QStringLiteral("max_mutations_per_push"),
                                             QStringLiteral("max_record_bytes"), QStringLiteral("max_pull_bytes"),
                                             QStringLiteral("max_user_bytes")};
        if (!syncKeys.contains(key)) {
            *error = QStringLiteral("unknown key \"sync.%1\" in config file %2").arg(key, path);
            return false;
        }
    }
    const QJsonObject policies = sync.value(QStringLiteral("merge_policies")).toObject();
    for (auto it = policies.constBegin(); it != policies.constEnd(); ++it)
        config.sync.mergePolicies.insert(it.key(), it.value().toString());
    config.sync.maxMutationsPerPush = sync.value(QStringLiteral("max_mutations_per_push")).toInt(config.sync.maxMutationsPerPush);
    config.sync.maxRecordBytes = sync.value(QStringLiteral("max_record_bytes")).toInteger(config.sync.maxRecordBytes);
    config.sync.maxPullBytes = sync.value(QStringLiteral("max_pull_bytes")).toInteger(config.sync.maxPullBytes);
    config.sync.maxUserBytes = sync.value(QStringLiteral("max_user_bytes")).toInteger(config.sync.maxUserBytes);

    config.shutdownTimeoutSeconds = root.value(QStringLiteral("shutdown_timeout")).toInt(config.shutdownTimeoutSeconds);
    const QJsonValue rateLimit = root.value(QStringLiteral("rate_limit"));
    if (!rateLimit.isUndefined() && !rateLimit.isObject()) {
        *error = QStringLiteral("rate_limit must be an object in config file %1").arg(path);
        return false;
    }
    if (!applyRateLimitJson(rateLimit.toObject(), path, config.rateLimit, error))
        return false;
    return true;
}

void addOptions(QCommandLineParser &parser)
{
    parser.setApplicationDescription(QStringLiteral(
        "Kernia's auth and sync server. Speaks the Better Auth protocol under /api/auth and Kernia data sync under /api/sync."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addOptions({
        {QStringLiteral("config"), QStringLiteral("JSON config file (snake_case keys; flags override it)."), QStringLiteral("file")},
        {QStringLiteral("host"), QStringLiteral("Address to listen on (default 127.0.0.1)."), QStringLiteral("host")},
        {QStringLiteral("port"), QStringLiteral("Port to listen on; 0 picks a free one (default 3000)."), QStringLiteral("port")},
        {QStringLiteral("data-dir"), QStringLiteral("Directory for the database and the generated secret (default ./data)."), QStringLiteral("dir")},
        {QStringLiteral("database"), QStringLiteral("sqlite:PATH (default sqlite:<data-dir>/kernia.db) or postgres://USER:PASSWORD@HOST:PORT/DBNAME."), QStringLiteral("url")},
        {QStringLiteral("secret"), QStringLiteral("Cookie-signing secret, at least 32 characters (or KERNIA_SECRET)."), QStringLiteral("secret")},
        {QStringLiteral("base-url"), QStringLiteral("Public URL of the server (or KERNIA_BASE_URL); its origin is trusted."), QStringLiteral("url")},
        {QStringLiteral("trusted-origin"), QStringLiteral("Another trusted origin (repeatable, '*' wildcards allowed)."), QStringLiteral("origin")},
        {QStringLiteral("mail-outbox"), QStringLiteral("Write outgoing mail as JSON lines to this file."), QStringLiteral("file")},
        {QStringLiteral("max-body-bytes"), QStringLiteral("Largest accepted request body (default 1048576)."), QStringLiteral("bytes")},
        {QStringLiteral("worker-threads"), QStringLiteral("Request threads, each an event loop serving its connections (default 8)."), QStringLiteral("count")},
        {QStringLiteral("idle-spin-us"), QStringLiteral("After an answer, one otherwise idle request thread polls this long for the next request before it sleeps (default 200; 0 = off)."), QStringLiteral("microseconds")},
        {QStringLiteral("hash-priority"), QStringLiteral("CPU priority of the password-hashing helper processes: idle (default; hashes use CPU nothing else wants), low (nice +10) or normal."), QStringLiteral("priority")},
        {QStringLiteral("anonymous-email-domain"), QStringLiteral("Guests get temp-<id>@DOMAIN emails."), QStringLiteral("domain")},
        {QStringLiteral("anonymous-name"), QStringLiteral("Template for guest names, e.g. \"Guest {random:6}\"."), QStringLiteral("template")},
        {QStringLiteral("anonymous-email"), QStringLiteral("Template for guest emails, e.g. \"guest-{uuid}@example.com\"."), QStringLiteral("template")},
        {QStringLiteral("disable-delete-anonymous-user"), QStringLiteral("Keep guests after linking; refuse /delete-anonymous-user.")},
        {QStringLiteral("disable-delete-user-confirmation"), QStringLiteral("POST /delete-user deletes at once (with a password or a fresh session, as Better Auth by default); without it, with a mailer, a user with a verified email is deleted only through a link mailed to it.")},
        {QStringLiteral("keep-sessions-on-password-reset"), QStringLiteral("A password reset leaves a verified user's other sessions signed in (Better Auth's default); without it they end.")},
        {QStringLiteral("disable-change-email"), QStringLiteral("Refuse POST /change-email (400 CHANGE_EMAIL_DISABLED); without it users change their email through a link mailed to the new address.")},
        {QStringLiteral("disable-change-email-confirmation"), QStringLiteral("POST /change-email mails the link straight to the new address; without it a user with a verified email first confirms through a link mailed to the current one.")},
        {QStringLiteral("smtp-url"), QStringLiteral("Send mail over SMTP: smtp://host:port (STARTTLS) or smtps://host:port."), QStringLiteral("url")},
        {QStringLiteral("smtp-user"), QStringLiteral("SMTP AUTH user name."), QStringLiteral("user")},
        {QStringLiteral("smtp-password"), QStringLiteral("SMTP AUTH password (or KERNIA_SMTP_PASSWORD)."), QStringLiteral("password")},
        {QStringLiteral("smtp-from"), QStringLiteral("Sender, e.g. \"Kernia <no-reply@example.com>\"."), QStringLiteral("address")},
        {QStringLiteral("smtp-tls"), QStringLiteral("none | opportunistic | starttls | tls (default: starttls for smtp://, tls for smtps://)."), QStringLiteral("mode")},
        {QStringLiteral("smtp-ca-file"), QStringLiteral("PEM CA bundle to verify the SMTP server (default: system CAs)."), QStringLiteral("file")},
        {QStringLiteral("smtp-timeout"), QStringLiteral("Seconds one SMTP delivery may take (default 30)."), QStringLiteral("seconds")},
        {QStringLiteral("magic-link-expires-in"), QStringLiteral("Seconds a magic link stays valid (default 300)."), QStringLiteral("seconds")},
        {QStringLiteral("magic-link-disable-sign-up"), QStringLiteral("Magic links sign in existing users only.")},
        {QStringLiteral("passkey-rp-id"), QStringLiteral("WebAuthn relying-party id (default: host of the base URL)."), QStringLiteral("domain")},
        {QStringLiteral("passkey-rp-name"), QStringLiteral("WebAuthn relying-party name shown by authenticators (default Kernia)."), QStringLiteral("name")},
        {QStringLiteral("passkey-origin"), QStringLiteral("Accepted WebAuthn origin (repeatable), e.g. https://app.example or android:apk-key-hash:...; default: the request Origin and the base URL origin."), QStringLiteral("origin")},
        {QStringLiteral("sync-merge-policy"), QStringLiteral("Merge policy at link time for one synced collection (repeatable): COLLECTION=merge-fields|keep-account|keep-guest (default merge-fields)."), QStringLiteral("collection=policy")},
        {QStringLiteral("sync-max-user-bytes"), QStringLiteral("Storage quota per user: bytes of synced data (its live records' JSON); a push beyond it is refused (default 104857600; 0 = unlimited)."), QStringLiteral("bytes")},
        {QStringLiteral("on-link-sql"), QStringLiteral("SQL run inside the link transaction (repeatable); binds :anonymous_user_id, :new_user_id, :anonymous_email, :new_email."), QStringLiteral("statement")},
        {QStringLiteral("no-rate-limit"), QStringLiteral("Turn rate limiting off (tests, benchmarks); it is on by default.")},
        {QStringLiteral("rate-limit-window"), QStringLiteral("Default rate-limit window in seconds (default 10)."), QStringLiteral("seconds")},
        {QStringLiteral("rate-limit-max"), QStringLiteral("Requests per window, client address and path (default 100)."), QStringLiteral("count")},
        {QStringLiteral("ip-address-header"), QStringLiteral("Header with the client address (repeatable; default x-forwarded-for; \"none\" = socket peer only)."), QStringLiteral("name")},
        {QStringLiteral("anonymous-sign-ins-per-hour"), QStringLiteral("Anonymous sign-ins per client address and hour (default 30; 0 = no cap)."), QStringLiteral("count")},
        {QStringLiteral("shutdown-timeout"), QStringLiteral("Seconds in-flight requests get after SIGTERM/SIGINT (default 10)."), QStringLiteral("seconds")},
        {QStringLiteral("older-than"), QStringLiteral("prune-anonymous: inactivity, at least 24h, e.g. 30d, 2w, 36h."), QStringLiteral("duration")},
        {QStringLiteral("dry-run"), QStringLiteral("prune-anonymous: only count what would be deleted.")},
    });
    parser.addPositionalArgument(QStringLiteral("command"),
        QStringLiteral("Optional: \"migrate\" (apply database migrations and exit) or \"prune-anonymous "
                       "--older-than DURATION [--dry-run]\" (delete inactive guests and exit)."),
        QStringLiteral("[command]"));
}

bool parseInteger(const QString &text, const char *flag, qint64 minimum, qint64 maximum, qint64 *out, QString *error)
{
    bool ok = false;
    const qint64 value = text.toLongLong(&ok);
    if (!ok || value < minimum || value > maximum) {
        *error = QStringLiteral("--%1 must be a number between %2 and %3, got \"%4\"")
                     .arg(QLatin1String(flag)).arg(minimum).arg(maximum).arg(text);
        return false;
    }
    *out = value;
    return true;
}

bool parseInteger(const QString &text, const IntegerSetting &setting, qint64 *out, QString *error)
{
    return parseInteger(text, setting.flag, setting.minimum, setting.maximum, out, error);
}

} // namespace

std::optional<QByteArray> persistedSecret(const QString &dataDir, bool *generated, QString *error)
{
    *generated = false;
    QDir dir(dataDir);
    if (!dir.mkpath(QStringLiteral("."))) {
        *error = QStringLiteral("cannot create data directory %1").arg(dir.absolutePath());
        return std::nullopt;
    }
    QFile file(dir.filePath(QLatin1String(kSecretFile)));
    if (file.exists()) {
        if (!file.open(QIODevice::ReadOnly)) {
            *error = QStringLiteral("cannot read %1: %2").arg(file.fileName(), file.errorString());
            return std::nullopt;
        }
        return file.readAll().trimmed();
    }
    const QByteArray secret = Crypto::randomBytes(32).toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
    if (!file.open(QIODevice::WriteOnly | QIODevice::NewOnly)
        || !file.setPermissions(QFile::ReadOwner | QFile::WriteOwner)
        || file.write(secret + '\n') != secret.size() + 1 || !file.flush()) {
        *error = QStringLiteral("cannot write %1: %2").arg(file.fileName(), file.errorString());
        return std::nullopt;
    }
    *generated = true;
    return secret;
}

ConfigResult loadServerConfig(const QStringList &arguments, const QProcessEnvironment &environment)
{
    ConfigResult result;
    QCommandLineParser parser;
    addOptions(parser);
    if (!parser.parse(arguments)) {
        result.error = parser.errorText();
        return result;
    }
    if (parser.isSet(QStringLiteral("help"))) {
        result.helpText = parser.helpText();
        return result;
    }
    if (parser.isSet(QStringLiteral("version"))) {
        result.helpText = QStringLiteral("kernia-server %1\n").arg(QStringLiteral(KERNIA_VERSION));
        return result;
    }
    const QStringList positional = parser.positionalArguments();
    if (positional.size() > 1 || (!positional.isEmpty() && positional.first() != QLatin1String("migrate")
                                  && positional.first() != QLatin1String("prune-anonymous"))) {
        result.error = QStringLiteral("unexpected argument \"%1\" (commands: migrate, prune-anonymous)")
                           .arg(positional.value(positional.size() > 1 ? 1 : 0));
        return result;
    }

    ServerConfig config;
    QString error;
    if (parser.isSet(QStringLiteral("config")) && !applyConfigFile(parser.value(QStringLiteral("config")), config, &error)) {
        result.error = error;
        return result;
    }
    if (environment.contains(QStringLiteral("KERNIA_SECRET")))
        config.secret = environment.value(QStringLiteral("KERNIA_SECRET")).toUtf8();
    if (environment.contains(QStringLiteral("KERNIA_BASE_URL")))
        config.baseUrl = QUrl(environment.value(QStringLiteral("KERNIA_BASE_URL")));

    auto flag = [&](const char *name) { return parser.value(QLatin1String(name)); };
    auto isSet = [&](const char *name) { return parser.isSet(QLatin1String(name)); };
    // false (with result.error set) if the flag is given and invalid
    auto applyIntegerFlag = [&](const IntegerSetting &setting, int *target) {
        qint64 value = 0;
        if (!isSet(setting.flag))
            return true;
        if (!parseInteger(flag(setting.flag), setting, &value, &result.error))
            return false;
        *target = int(value);
        return true;
    };
    if (isSet("host")) config.host = flag("host");
    if (isSet("data-dir")) config.dataDir = flag("data-dir");
    if (isSet("database")) config.database = flag("database");
    if (isSet("secret")) config.secret = flag("secret").toUtf8();
    if (isSet("base-url")) config.baseUrl = QUrl(flag("base-url"));
    config.trustedOrigins += parser.values(QStringLiteral("trusted-origin"));
    if (isSet("mail-outbox")) config.mailOutbox = flag("mail-outbox");
    qint64 number = 0;
    if (isSet("port")) {
        if (!parseInteger(flag("port"), "port", 0, 65535, &number, &result.error))
            return result;
        config.port = int(number);
    }
    if (isSet("max-body-bytes")) {
        if (!parseInteger(flag("max-body-bytes"), "max-body-bytes", 1024, qint64(1) << 30, &number, &result.error))
            return result;
        config.maxBodyBytes = number;
    }
    if (!applyIntegerFlag(kWorkerThreads, &config.workerThreads) || !applyIntegerFlag(kIdleSpin, &config.idleSpinMicroseconds))
        return result;
    if (isSet("hash-priority")) {
        const std::optional<ScryptHelper::Priority> priority = ScryptHelper::priorityFromName(flag("hash-priority").toStdString());
        if (!priority) {
            result.error = QStringLiteral("--hash-priority must be idle, low or normal, got \"%1\"").arg(flag("hash-priority"));
            return result;
        }
        config.hashPriority = *priority;
    }
    if (isSet("disable-delete-user-confirmation")) config.deleteUserConfirmationEnabled = false;
    if (isSet("keep-sessions-on-password-reset")) config.revokeSessionsOnPasswordReset = false;
    if (isSet("disable-change-email")) config.changeEmailEnabled = false;
    if (isSet("disable-change-email-confirmation")) config.changeEmailConfirmationEnabled = false;
    AnonymousConfig &anonymous = config.anonymous;
    if (isSet("anonymous-email-domain")) anonymous.emailDomainName = flag("anonymous-email-domain");
    if (isSet("anonymous-name")) anonymous.nameTemplate = flag("anonymous-name");
    if (isSet("anonymous-email")) anonymous.emailTemplate = flag("anonymous-email");
    if (isSet("disable-delete-anonymous-user")) anonymous.disableDeleteAnonymousUser = true;
    anonymous.onLinkSql += parser.values(QStringLiteral("on-link-sql"));
    if (isSet("passkey-rp-id")) config.passkey.rpId = flag("passkey-rp-id");
    if (isSet("passkey-rp-name")) config.passkey.rpName = flag("passkey-rp-name");
    config.passkey.origins += parser.values(QStringLiteral("passkey-origin"));
    SmtpConfig &smtp = config.smtp;
    if (isSet("smtp-url")) smtp.url = flag("smtp-url");
    if (isSet("smtp-user")) smtp.user = flag("smtp-user");
    if (environment.contains(QStringLiteral("KERNIA_SMTP_PASSWORD")))
        smtp.password = environment.value(QStringLiteral("KERNIA_SMTP_PASSWORD"));
    if (isSet("smtp-password")) smtp.password = flag("smtp-password");
    if (isSet("smtp-from")) smtp.from = flag("smtp-from");
    if (isSet("smtp-tls")) smtp.tls = flag("smtp-tls");
    if (isSet("smtp-ca-file")) smtp.caFile = flag("smtp-ca-file");
    if (isSet("smtp-timeout")) {
        if (!parseInteger(flag("smtp-timeout"), "smtp-timeout", 1, 600, &number, &result.error))
            return result;
        smtp.timeoutSeconds = int(number);
    }
    if (isSet("magic-link-expires-in")) {
        if (!parseInteger(flag("magic-link-expires-in"), "magic-link-expires-in", 1, 30 * 24 * 3600, &number, &result.error))
            return result;
        config.magicLink.expiresIn = number;
    }
    if (isSet("magic-link-disable-sign-up")) config.magicLink.disableSignUp = true;
    for (const QString &entry : parser.values(QStringLiteral("sync-merge-policy"))) {
        const qsizetype eq = entry.indexOf(QLatin1Char('='));
        if (eq <= 0) {
            result.error = QStringLiteral("--sync-merge-policy must be COLLECTION=POLICY, got \"%1\"").arg(entry);
            return result;
        }
        config.sync.mergePolicies.insert(entry.left(eq), entry.mid(eq + 1));
    }
    if (isSet("sync-max-user-bytes")) {
        if (!parseInteger(flag("sync-max-user-bytes"), "sync-max-user-bytes", 0, kMaxUserBytes, &number, &result.error))
            return result;
        config.sync.maxUserBytes = number;
    }

    config.command = positional.value(0);
    if (isSet("no-rate-limit")) config.rateLimit.enabled = false;
    if (isSet("rate-limit-window")) {
        if (!parseInteger(flag("rate-limit-window"), "rate-limit-window", 1, 86400, &number, &result.error))
            return result;
        config.rateLimit.windowSeconds = int(number);
    }
    if (isSet("rate-limit-max")) {
        if (!parseInteger(flag("rate-limit-max"), "rate-limit-max", 1, 1000000000, &number, &result.error))
            return result;
        config.rateLimit.max = int(number);
    }
    if (isSet("ip-address-header")) {
        config.rateLimit.ipAddressHeaders.clear();
        for (const QString &header : parser.values(QStringLiteral("ip-address-header"))) {
            if (header.trimmed().compare(QLatin1String("none"), Qt::CaseInsensitive) != 0 && !header.trimmed().isEmpty())
                config.rateLimit.ipAddressHeaders << header.trimmed().toLower();
        }
    }
    if (isSet("anonymous-sign-ins-per-hour")) {
        if (!parseInteger(flag("anonymous-sign-ins-per-hour"), "anonymous-sign-ins-per-hour", 0, 1000000, &number, &result.error))
            return result;
        config.rateLimit.anonymousSignInsPerHour = int(number);
    }
    if (!applyIntegerFlag(kShutdownTimeout, &config.shutdownTimeoutSeconds))
        return result;
    if (!validateRateLimitOptions(config.rateLimit, &error)) {
        result.error = error;
        return result;
    }
    if (!inRange(kWorkerThreads, config.workerThreads, &result.error)
        || !inRange(kIdleSpin, config.idleSpinMicroseconds, &result.error)
        || !inRange(kShutdownTimeout, config.shutdownTimeoutSeconds, &result.error)
        || !inRange(kSessionExpiresIn, config.session.expiresIn, &result.error)
        || !inRange(kSessionUpdateAge, config.session.updateAge, &result.error)
        || !inRange(kSessionFreshAge, config.session.freshAge, &result.error))
        return result;
    if (config.command == QLatin1String("prune-anonymous")) {
        const std::optional<qint64> olderThan = parseDurationSeconds(flag("older-than"));
        if (!isSet("older-than") || !olderThan) {
            result.error = QStringLiteral("prune-anonymous needs --older-than DURATION, e.g. 30d, 2w or 36h%1")
                               .arg(isSet("older-than") ? QStringLiteral(" (got \"%1\")").arg(flag("older-than")) : QString());
            return result;
        }
        // A guest's activity shows as its session's refresh, at most once per update age:
        // a shorter duration would delete guests that are in use right now.
        const qint64 updateAge = config.session.updateAge;
        if (*olderThan < updateAge) {
            result.error = QStringLiteral("prune-anonymous --older-than must be at least %1 (got \"%2\"): a guest's "
                                          "activity is seen when its session is refreshed, at most once in that time, "
                                          "so a shorter duration would delete guests in use")
                               .arg(updateAge % 3600 == 0 ? QStringLiteral("%1h").arg(updateAge / 3600)
                                                          : QStringLiteral("%1s").arg(updateAge))
                               .arg(flag("older-than"));
            return result;
        }
        config.olderThanSeconds = *olderThan;
        config.dryRun = isSet("dry-run");
    } else if (isSet("older-than") || isSet("dry-run")) {
        result.error = QStringLiteral("--older-than and --dry-run belong to the prune-anonymous command");
        return result;
    }

    // Validate everything now, so a bad setting stops the server with a message instead of
    // failing on a user's first request.
    if (config.baseUrl.isValid() && !config.baseUrl.isEmpty()
        && (config.baseUrl.scheme() != QLatin1String("http") && config.baseUrl.scheme() != QLatin1String("https"))) {
        result.error = QStringLiteral("--base-url must be an http:// or https:// URL, got \"%1\"").arg(config.baseUrl.toString());
        return result;
    }
    for (const QString &text : {anonymous.nameTemplate, anonymous.emailTemplate}) {
        if (!validateTemplate(text, &error)) {
            result.error = error;
            return result;
        }
    }
    if (!smtp.url.isEmpty()) {
        SmtpOptions::Tls tls;
        if (!smtp.tls.isEmpty() && !SmtpOptions::parseTls(smtp.tls, &tls)) {
            result.error = QStringLiteral("--smtp-tls must be none, opportunistic, starttls or tls, got \"%1\"").arg(smtp.tls);
            return result;
        }
        if (!SmtpOptions::validate(smtpOptionsFrom(smtp), &error)) {
            result.error = error;
            return result;
        }
    } else if (!smtp.user.isEmpty() || !smtp.from.isEmpty() || !smtp.tls.isEmpty() || !smtp.caFile.isEmpty()) {
        result.error = QStringLiteral("SMTP settings were given without --smtp-url");
        return result;
    }
    if (config.magicLink.expiresIn < 1) {
        result.error = QStringLiteral("magic_link.expires_in must be at least 1 second");
        return result;
    }
    if (config.magicLink.storeToken != QLatin1String("plain") && config.magicLink.storeToken != QLatin1String("hashed")) {
        result.error = QStringLiteral("magic_link.store_token must be \"plain\" or \"hashed\", got \"%1\"")
                           .arg(config.magicLink.storeToken);
        return result;
    }
    static const QRegularExpression collectionName(QStringLiteral("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"));
    for (auto it = config.sync.mergePolicies.cbegin(); it != config.sync.mergePolicies.cend(); ++it) {
        if (!collectionName.match(it.key()).hasMatch()) {
            result.error = QStringLiteral("sync merge policy: \"%1\" is not a valid collection name").arg(it.key());
            return result;
        }
        if (!parseMergePolicy(it.value())) {
            result.error = QStringLiteral("sync merge policy for \"%1\" must be merge-fields, keep-account or "
                                          "keep-guest, got \"%2\"").arg(it.key(), it.value());
            return result;
        }
    }
    if (config.sync.maxMutationsPerPush < 1 || config.sync.maxMutationsPerPush > 100000) {
        result.error = QStringLiteral("sync.max_mutations_per_push must be between 1 and 100000");
        return result;
    }
    if (config.sync.maxRecordBytes < 64 || config.sync.maxRecordBytes > (qint64(1) << 30)) {
        result.error = QStringLiteral("sync.max_record_bytes must be between 64 and 1073741824");
        return result;
    }
    if (config.sync.maxPullBytes < 1024 || config.sync.maxPullBytes > (qint64(1) << 30)) {
        result.error = QStringLiteral("sync.max_pull_bytes must be between 1024 and 1073741824");
        return result;
    }
    if (config.sync.maxUserBytes < 0 || config.sync.maxUserBytes > kMaxUserBytes) {
        result.error = QStringLiteral("sync.max_user_bytes must be between 0 (unlimited) and %1").arg(kMaxUserBytes);
        return result;
    }
    if (config.database.isEmpty())
        config.database = QStringLiteral("sqlite:") + QDir(config.dataDir).filePath(QStringLiteral("kernia.db"));
    const bool postgres = config.database.startsWith(QLatin1String("postgres://"))
        || config.database.startsWith(QLatin1String("postgresql://"));
    if (!config.database.startsWith(QLatin1String("sqlite:")) && !postgres) {
        result.error = QStringLiteral("unsupported --database \"%1\": use sqlite:PATH or "
                                      "postgres://USER:PASSWORD@HOST:PORT/DBNAME").arg(config.database);
        return result;
    }
    if (postgres && !QUrl(config.database).isValid()) {
        result.error = QStringLiteral("--database: not a valid postgres:// URL (percent-encode special "
                                      "characters in the user name and password)");
        return result;
    }
    if (config.secret.isEmpty() && config.command.isEmpty()) {   // commands sign nothing
        bool generated = false;
        const std::optional<QByteArray> secret = persistedSecret(config.dataDir, &generated, &error);
        if (!secret) {
            result.error = error;
            return result;
        }
        config.secret = *secret;
        config.warnings << (generated
            ? QStringLiteral("no secret configured: generated one and stored it in %1 — set --secret or KERNIA_SECRET in production")
            : QStringLiteral("no secret configured: using the one stored in %1 — set --secret or KERNIA_SECRET in production"))
                               .arg(QDir(config.dataDir).filePath(QLatin1String(kSecretFile)));
    }
    if (config.command.isEmpty() && config.secret.size() < kMinimumSecretLength) {
        result.error = QStringLiteral("the secret must be at least %1 characters long (got %2); "
                                      "generate one with: openssl rand -base64 32")
                           .arg(kMinimumSecretLength).arg(config.secret.size());
        return result;
    }
    result.config = config;
    return result;
}

AnonymousOptions anonymousOptionsFrom(const AnonymousConfig &config)
{
    AnonymousOptions options;
    options.emailDomainName = config.emailDomainName;
    options.disableDeleteAnonymousUser = config.disableDeleteAnonymousUser;
    if (!config.nameTemplate.isEmpty())
        options.generateName = [tmpl = config.nameTemplate](const Request &) { return expandTemplate(tmpl); };
    if (!config.emailTemplate.isEmpty())
        options.generateRandomEmail = [tmpl = config.emailTemplate] { return expandTemplate(tmpl); };
    if (!config.onLinkSql.isEmpty()) {
        options.onLink = [statements = config.onLinkSql](const AnonymousLink &link, QString *error) {
            const QVariantMap binds{
                {QStringLiteral("anonymous_user_id"), link.anonymous.user.id},
                {QStringLiteral("new_user_id"), link.newUser.user.id},
                {QStringLiteral("anonymous_email"), link.anonymous.user.email},
                {QStringLiteral("new_email"), link.newUser.user.email},
            };
            for (const QString &sql : statements) {
                try {
                    link.store.execTemplate(sql, binds);
                } catch (const StoreError &failure) {
                    *error = QStringLiteral("on_link statement \"%1\" failed: %2").arg(sql, QString::fromUtf8(failure.what()));
                    return false;
                }
            }
            return true;
        };
    }
    return options;
}

SmtpOptions smtpOptionsFrom(const SmtpConfig &config)
{
    SmtpOptions options;
    options.url = QUrl(config.url, QUrl::StrictMode);
    SmtpOptions::Tls tls;
    if (!config.tls.isEmpty() && SmtpOptions::parseTls(config.tls, &tls))
        options.tls = tls;
    options.user = config.user;
    options.password = config.password;
    options.from = config.from;
    options.caFile = config.caFile;
    options.timeoutSeconds = config.timeoutSeconds;
    return options;
}

SyncOptions syncOptionsFrom(const SyncConfig &config)
{
    SyncOptions options;
    options.maxMutationsPerPush = config.maxMutationsPerPush;
    options.maxRecordBytes = config.maxRecordBytes;
    options.maxPullBytes = config.maxPullBytes;
    options.maxUserBytes = config.maxUserBytes;
    for (auto it = config.mergePolicies.cbegin(); it != config.mergePolicies.cend(); ++it) {
        if (const std::optional<MergePolicy> policy = parseMergePolicy(it.value()))
            options.mergePolicies.insert(it.key(), *policy);
    }
    return options;
}

MagicLinkOptions magicLinkOptionsFrom(const MagicLinkConfig &config)
{
    MagicLinkOptions options;
    options.expiresIn = config.expiresIn;
    options.disableSignUp = config.disableSignUp;
    options.storeToken = config.storeToken == QLatin1String("hashed") ? MagicLinkOptions::StoreToken::Hashed
                                                                      : MagicLinkOptions::StoreToken::Plain;
    return options;
}

} // namespace Kernia::Server
