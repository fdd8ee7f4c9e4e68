// kernia-server's configuration: defaults, then a JSON config file (--config), then the
// environment (KERNIA_SECRET, KERNIA_BASE_URL, KERNIA_SMTP_PASSWORD), then command-line flags. docs/server.md
// lists every option.
#pragma once

#include "crypto/scrypt_helper.h"
#include "ratelimit/rate_limit_options.h"

#include <QByteArray>
#include <QMap>
#include <QProcessEnvironment>
#include <QStringList>
#include <QUrl>
#include <optional>

namespace Kernia::Server {

struct AnonymousOptions;
struct MagicLinkOptions;
struct SmtpOptions;
struct SyncOptions;

struct AnonymousConfig
{
    QString emailDomainName;
    QString nameTemplate;          // generate_name
    QString emailTemplate;         // generate_random_email
    bool disableDeleteAnonymousUser = false;
    QStringList onLinkSql;         // on_link.sql: statements run inside the link transaction
};

// SMTP delivery (docs/mail.md); off while url is empty. Config-file object "smtp".
struct SmtpConfig
{
    QString url;                   // smtp://host:port or smtps://host:port
    QString user;
    QString password;              // or KERNIA_SMTP_PASSWORD
    QString from;
    QString tls;                   // none | opportunistic | starttls | tls; empty = by scheme
    QString caFile;
    int timeoutSeconds = 30;
};

// The magic-link plugin (docs/methods/magic-link.md). Config-file object "magic_link".
struct MagicLinkConfig
{
    qint64 expiresIn = 300;
    bool disableSignUp = false;
    QString storeToken = QStringLiteral("plain"); // plain | hashed
};

// The passkey plugin (docs/methods/passkey.md); empty values mean Better Auth's defaults.
struct PasskeyConfig
{
    QString rpId;                  // --passkey-rp-id; default: host of the base URL
    QString rpName;                // --passkey-rp-name; default "Kernia"
    QStringList origins;           // --passkey-origin (repeatable); default: request Origin + base URL origin
};

// Data sync (docs/sync-protocol.md). Config-file object "sync".
struct SyncConfig
{
    QMap<QString, QString> mergePolicies;  // merge_policies / --sync-merge-policy COLLECTION=POLICY
    int maxMutationsPerPush = 500;         // max_mutations_per_push
    qint64 maxRecordBytes = 64 * 1024;     // max_record_bytes
    qint64 maxPullBytes = 4 * 1024 * 1024; // max_pull_bytes
    qint64 maxUserBytes = 100 * 1024 * 1024; // max_user_bytes / --sync-max-user-bytes; 0 = unlimited
};

// Session lifetimes in seconds (Better Auth's session.expiresIn / updateAge / freshAge;
// defaults: AuthOptions'). Config-file object "session".
struct SessionConfig
{
    qint64 expiresIn = 7 * 24 * 3600;  // expires_in: lifetime, the session cookie's Max-Age
    qint64 updateAge = 24 * 3600;      // update_age: get-session extends a session this old
    qint64 freshAge = 24 * 3600;       // fresh_age: "fresh" below this age; 0 = always fresh
};

struct ServerConfig
{
    QString host = QStringLiteral("127.0.0.1");
    int port = 3000;               // 0 picks a free port
    QString dataDir = QStringLiteral("data");
    QString database;              // "sqlite:PATH" or "postgres://..."; default sqlite:<dataDir>/kernia.db
    QByteArray secret;
    QUrl baseUrl;                  // default http://HOST:PORT as bound
    QStringList trustedOrigins;
    QString mailOutbox;
    qint64 maxBodyBytes = 1024 * 1024;
    int workerThreads = 8;
    int idleSpinMicroseconds = 200;  // idle_spin_us / --idle-spin-us; 0 = a loop sleeps at once (http/idle_spin.h)
    // hash_priority / --hash-priority: the scrypt helper processes' CPU priority (crypto/scrypt_processes.h)
    ScryptHelper::Priority hashPriority = ScryptHelper::Priority::Idle;
    // delete_user_confirmation_enabled / --disable-delete-user-confirmation: with a mailer,
    // POST /delete-user mails a confirmation link to a verified address (docs/mail.md)
    bool deleteUserConfirmationEnabled = true;
    // revoke_sessions_on_password_reset / --keep-sessions-on-password-reset (docs/mail.md)
    bool revokeSessionsOnPasswordReset = true;
    // change_email_enabled / --disable-change-email: POST /change-email (docs/mail.md)
    bool changeEmailEnabled = true;
    // change_email_confirmation_enabled / --disable-change-email-confirmation: a verified
    // address confirms a change before the new one is asked (docs/mail.md)
    bool changeEmailConfirmationEnabled = true;
    SessionConfig session;
    AnonymousConfig anonymous;
    PasskeyConfig passkey;
    SmtpConfig smtp;
    MagicLinkConfig magicLink;
    SyncConfig sync;

    RateLimitOptions rateLimit;    // "rate_limit" object, --no-rate-limit, --rate-limit-* (docs/operations.md)
    int shutdownTimeoutSeconds = 10; // SIGTERM/SIGINT: how long in-flight requests may take

    // Maintenance command: the first positional argument ("" = serve).
    QString command;               // "migrate" | "prune-anonymous"
    qint64 olderThanSeconds = 0;   // prune-anonymous --older-than
    bool dryRun = false;           // prune-anonymous --dry-run

    QStringList warnings;          // printed at start-up (e.g. "generated a secret")
};

struct ConfigResult
{
    std::optional<ServerConfig> config;
    QString error;                 // set when config is empty and no help was asked for
    QString helpText;              // set for --help / --version
};

// `arguments` includes the program name, as QCoreApplication::arguments() does.
ConfigResult loadServerConfig(const QStringList &arguments, const QProcessEnvironment &environment);

// The secret from the data directory, generated and stored there (0600) on first use.
std::optional<QByteArray> persistedSecret(const QString &dataDir, bool *generated, QString *error);

// The anonymous plugin's options built from the config (templates, on_link SQL).
AnonymousOptions anonymousOptionsFrom(const AnonymousConfig &config);

// SMTP options from the config (validated by loadServerConfig already).
SmtpOptions smtpOptionsFrom(const SmtpConfig &config);
MagicLinkOptions magicLinkOptionsFrom(const MagicLinkConfig &config);
// The sync unit's options (merge policies validated by loadServerConfig already).
SyncOptions syncOptionsFrom(const SyncConfig &config);

inline constexpr int kMinimumSecretLength = 32;

} // namespace Kernia::Server
