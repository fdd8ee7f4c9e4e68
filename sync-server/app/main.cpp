// kernia-server: the standalone auth + sync server.
#include "auth/auth_server.h"
#include "config/server_config.h"
#include "crypto/scrypt_processes.h"
#include "http_adapter.h"
#include "mail/mailer_group.h"
#include "mail/outbox_mailer.h"
#include "mail/smtp_mailer.h"
#include "ops/maintenance.h"
#include "plugins/anonymous/anonymous_plugin.h"
#include "plugins/bearer/bearer_plugin.h"
#include "plugins/passkey/passkey_plugin.h"
#include "plugins/magic_link/magic_link_plugin.h"
#include "plugins/username/username_plugin.h"
#include "ratelimit/rate_limiter.h"
#include "shutdown_signals.h"
#include "store/sql_store.h"
#include "sync/sync_endpoints.h"

#include <QCoreApplication>
#include <QHostAddress>
#include <QLoggingCategory>
#include <QTimer>
#include <cstdio>
#include <cstdlib>

using namespace Kernia::Server;

namespace {

Q_LOGGING_CATEGORY(lcServer, "kernia.server")

int fail(const QString &message)
{
    std::fprintf(stderr, "kernia-server: %s\n", qPrintable(message));
    return 2;
}

// `kernia-server migrate` / `kernia-server prune-anonymous` (docs/operations.md).
int runCommand(const ServerConfig &config, SqlStore &store)
{
    const QString database = SqlStore::redactedPostgresUrl(config.database);
    try {
        if (config.command == QLatin1String("migrate")) {
            const QStringList applied = applyMigrations(store);
            for (const QString &line : applied)
                std::printf("applied %s\n", qPrintable(line));
            std::printf("%s is up to date (%d migrations applied now, %d in total)\n", qPrintable(database),
                        int(applied.size()), int(store.appliedMigrations().size()));
            return 0;
        }
        const PruneResult pruned = pruneAnonymous(store, config.olderThanSeconds, config.dryRun);
        std::printf("%s %d anonymous user(s) inactive since %s\n", config.dryRun ? "would delete" : "deleted",
                    pruned.users, qPrintable(pruned.cutoff.toString(Qt::ISODateWithMs)));
        return 0;
    } catch (const StoreError &failure) {
        return fail(QStringLiteral("%1 failed: %2").arg(config.command, QString::fromUtf8(failure.what())));
    }
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("kernia-server"));
    QCoreApplication::setApplicationVersion(QStringLiteral(KERNIA_VERSION));
    // Request logs are off by default; KERNIA_LOG_RULES / QT_LOGGING_RULES turn them on.
    QLoggingCategory::setFilterRules(qEnvironmentVariable("KERNIA_LOG_RULES", QStringLiteral("kernia.http.info=false\nkernia.ratelimit.info=false")));

    const ConfigResult loaded = loadServerConfig(app.arguments(), QProcessEnvironment::systemEnvironment());
    if (!loaded.helpText.isEmpty()) {
        std::fputs(qPrintable(loaded.helpText), stdout);
        return 0;
    }
    if (!loaded.config)
        return fail(loaded.error + QStringLiteral("\n(see kernia-server --help)"));
    ServerConfig config = *loaded.config;
    for (const QString &warning : config.warnings)
        std::fprintf(stderr, "kernia-server: warning: %s\n", qPrintable(warning));

    QString error;
    std::shared_ptr<SqlStore> store = SqlStore::open(config.database, &error);   // sqlite:PATH or postgres://...
    if (!store)
        return fail(QStringLiteral("cannot open database %1: %2").arg(SqlStore::redactedPostgresUrl(config.database), error));
    if (!config.command.isEmpty())
        return runCommand(config, *store);
    try {
        store->migrate();
    } catch (const StoreError &failure) {
        return fail(QStringLiteral("database migration failed: %1").arg(QString::fromUtf8(failure.what())));
    }

    const QHostAddress address(config.host);
    if (address.isNull())
        return fail(QStringLiteral("--host must be an IP address, got \"%1\"").arg(config.host));

    // Before listening, so a SIGTERM right after start-up already shuts down gracefully.
    ShutdownSignals shutdownSignals;
    HttpAdapter http(config.workerThreads, AuthOptions::kDefaultMaxConcurrentHashes, config.idleSpinMicroseconds);
    const quint16 port = http.listen(address, quint16(config.port));
    if (port == 0)
        return fail(QStringLiteral("cannot listen on %1:%2 (in use, or not allowed)").arg(config.host).arg(config.port));
    const QString hostPart = address.protocol() == QAbstractSocket::IPv6Protocol
        ? QStringLiteral("[%1]").arg(config.host) : config.host;
    const QUrl listenUrl(QStringLiteral("http://%1:%2").arg(hostPart).arg(port));

    AuthOptions options;
    // Password hashes run in helper processes at a low CPU priority (crypto/scrypt_processes.h).
    auto scryptHelpers = std::make_shared<ScryptProcesses>(ScryptProcesses::Options{
            QCoreApplication::applicationDirPath() + QStringLiteral("/kernia-scrypt-helper"),
            options.maxConcurrentHashes, config.hashPriority});
    options.runScrypt = [scryptHelpers](const QByteArray &password, const QByteArray &salt, const ScryptParams &params) {
        return scryptHelpers->scrypt(password, salt, params);
    };
    options.secret = config.secret;
    options.baseUrl = config.baseUrl.isEmpty() ? listenUrl : config.baseUrl; // known only after binding
    options.trustedOrigins = config.trustedOrigins;
    options.maxBodyBytes = config.maxBodyBytes;
    options.deleteUserConfirmationEnabled = config.deleteUserConfirmationEnabled;
    options.revokeSessionsOnPasswordReset = config.revokeSessionsOnPasswordReset;
    options.changeEmailEnabled = config.changeEmailEnabled;
    options.changeEmailConfirmationEnabled = config.changeEmailConfirmationEnabled;
    options.sessionExpiresIn = config.session.expiresIn;
    options.sessionUpdateAge = config.session.updateAge;
    options.sessionFreshAge = config.session.freshAge;
    AuthServer auth(options, store);
    auth.addPlugin(std::make_unique<BearerPlugin>());
    // Data sync under /api/sync; its built-in on_link moves a guest's records into the account,
    // then the operator's on_link SQL runs — both inside the link transaction.
    auto sync = std::make_shared<const SyncService>(syncOptionsFrom(config.sync));
    AnonymousOptions anonymousOptions = anonymousOptionsFrom(config.anonymous);
    anonymousOptions.onLink = syncOnLink(sync, std::move(anonymousOptions.onLink));
    auth.addPlugin(std::make_unique<AnonymousPlugin>(std::move(anonymousOptions)));
    auth.addPlugin(std::make_unique<SyncPlugin>(sync));
    auth.addPlugin(std::make_unique<UsernamePlugin>());
    PasskeyOptions passkeyOptions;
    passkeyOptions.rpId = config.passkey.rpId;
    passkeyOptions.rpName = config.passkey.rpName;
    passkeyOptions.origins = config.passkey.origins;
    auth.addPlugin(std::make_unique<PasskeyPlugin>(passkeyOptions));
    auth.addPlugin(std::make_unique<MagicLinkPlugin>(magicLinkOptionsFrom(config.magicLink)));
    std::vector<std::shared_ptr<Mailer>> mailers; // --mail-outbox and --smtp-url: both get every mail
    if (!config.mailOutbox.isEmpty())
        mailers.push_back(std::make_shared<OutboxMailer>(config.mailOutbox));
    if (!config.smtp.url.isEmpty())
        mailers.push_back(std::make_shared<SmtpMailer>(smtpOptionsFrom(config.smtp)));
    if (mailers.size() == 1)
        auth.setMailer(mailers.front());
    else if (mailers.size() > 1)
        auth.setMailer(std::make_shared<MailerGroup>(std::move(mailers)));
    if (config.rateLimit.enabled)
        auth.setRateLimiter(std::make_shared<RateLimiter>(config.rateLimit, store));
    http.setClientAddressHeaders(config.rateLimit.ipAddressHeaders);
    http.setEngine(&auth);

    // Housekeeping (ops/maintenance.h): at start-up, then about once a minute, on this
    // thread, so no request waits for it. A pass is bounded: while a backlog is left the next
    // one follows after kHousekeepingFollowUpMs, and signals are handled in between.
    QTimer housekeeping;
    housekeeping.setSingleShot(true);
    const auto keepHouse = [&] {
        int nextMs = kHousekeepingIntervalMs;
        try {
            const HousekeepingResult done = runHousekeeping(auth);
            if (done.expiredVerifications > 0)
                qCDebug(lcServer, "housekeeping: deleted %d expired verification row(s)%s", done.expiredVerifications,
                        done.moreLeft ? ", more left" : "");
            if (done.staleRateLimitCounters > 0)
                qCDebug(lcServer, "housekeeping: deleted %d stale rate-limit counter(s)", done.staleRateLimitCounters);
            if (done.moreLeft)
                nextMs = kHousekeepingFollowUpMs;
        } catch (const StoreError &failure) {
            qCWarning(lcServer, "housekeeping failed (tried again in a minute): %s", failure.what());
        }
        housekeeping.start(nextMs);
    };
    QObject::connect(&housekeeping, &QTimer::timeout, &app, keepHouse);
    housekeeping.start(0);   // stop() at shutdown cancels this first pass too

    bool shuttingDown = false;
    QObject::connect(&shutdownSignals, &ShutdownSignals::received, &app, [&](int signalNumber) {
        if (shuttingDown) {
            qCWarning(lcServer, "%s again: exiting without waiting for %d request(s)",
                      ShutdownSignals::name(signalNumber), http.requestsInFlight());
            std::fflush(stderr);
            std::_Exit(1);
        }
        shuttingDown = true;
        housekeeping.stop();
        qCInfo(lcServer, "%s: shutting down; no new connections, waiting up to %d s for %d request(s) in flight",
               ShutdownSignals::name(signalNumber), config.shutdownTimeoutSeconds, http.requestsInFlight());
        http.shutdown(config.shutdownTimeoutSeconds * 1000, [&](bool drained) {
            if (drained)
                qCInfo(lcServer, "shutdown complete");
            else
                qCWarning(lcServer, "shutdown timeout: %d request(s) still in flight are abandoned", http.requestsInFlight());
            app.exit(0);
        });
    });

    std::printf("listening on %s\n", qPrintable(listenUrl.toString()));
    std::fflush(stdout);
    const int code = app.exec();
    if (!http.waitForWorkers(1000)) {
        // A request outlived the shutdown timeout; its worker still uses the engine, so
        // skip the destructors instead of pulling the engine out from under it.
        std::fflush(stdout);
        std::fflush(stderr);
        std::_Exit(code);
    }
    return code;
}
