// Operations without sockets: the maintenance commands (migrate, prune-anonymous), the
// server's housekeeping, the health answer, request-log lines and the command line that
// selects them.
#include "test_server.h"

#include "config/server_config.h"
#include "crypto/crypto.h"
#include "ops/health.h"
#include "ops/maintenance.h"
#include "ops/request_log.h"
#include "store/migrations.h"

#include <QFile>

using namespace Kernia::Server;
using namespace Kernia::Server::Testing;

namespace {

const QDateTime kNow = QDateTime::fromMSecsSinceEpoch(1'800'000'000'000, Qt::UTC);

User makeUser(bool anonymous, const QDateTime &updatedAt)
{
    User u;
    u.id = Crypto::randomId();
    u.name = anonymous ? QStringLiteral("Anonymous") : QStringLiteral("Ada");
    u.email = u.id.toLower() + QStringLiteral("@example.com");
    u.createdAt = updatedAt;
    u.updatedAt = updatedAt;
    u.isAnonymous = anonymous;
    return u;
}

void addSession(Store &store, const QString &userId, const QDateTime &updatedAt)
{
    Session s;
    s.id = Crypto::randomId();
    s.token = Crypto::randomId();
    s.userId = userId;
    s.createdAt = updatedAt;
    s.updatedAt = updatedAt;
    s.expiresAt = kNow.addDays(7);
    store.createSession(s);
}

void addVerification(Store &store, const QDateTime &expiresAt)
{
    Verification v;
    v.id = Crypto::randomId();
    v.identifier = QStringLiteral("passkey-") + v.id;
    v.value = QStringLiteral("{}");
    v.createdAt = expiresAt.addSecs(-300);
    v.updatedAt = v.createdAt;
    v.expiresAt = expiresAt;
    store.createVerification(v);
}

ConfigResult parse(const QStringList &args, const QString &dataDir)
{
    return loadServerConfig(QStringList{QStringLiteral("kernia-server")} + args
                                + QStringList{QStringLiteral("--data-dir"), dataDir},
                            QProcessEnvironment());
}

} // namespace

class OpsTest : public QObject
{
    Q_OBJECT

private slots:
    void durations();
    void migrateReportsWhatItApplied();
    void pruneAnonymous();
    void housekeepingPassIsBounded();
    void health();
    void requestLogLines();
    void requestIds();
    void commandLine();
};

void OpsTest::durations()
{
    QCOMPARE(parseDurationSeconds(QStringLiteral("30d")), std::optional<qint64>(30 * 86400));
    QCOMPARE(parseDurationSeconds(QStringLiteral("12h")), std::optional<qint64>(12 * 3600));
    QCOMPARE(parseDurationSeconds(QStringLiteral("90m")), std::optional<qint64>(90 * 60));
    QCOMPARE(parseDurationSeconds(QStringLiteral("45s")), std::optional<qint64>(45));
    QCOMPARE(parseDurationSeconds(QStringLiteral("2w")), std::optional<qint64>(14 * 86400));
    QCOMPARE(parseDurationSeconds(QStringLiteral("600")), std::optional<qint64>(600));
    QVERIFY(!parseDurationSeconds(QStringLiteral("0d")));
    QVERIFY(!parseDurationSeconds(QStringLiteral("-1d")));
    QVERIFY(!parseDurationSeconds(QStringLiteral("1y")));
    QVERIFY(!parseDurationSeconds(QStringLiteral("d")));
    QVERIFY(!parseDurationSeconds(QString()));
}

void OpsTest::migrateReportsWhatItApplied()
{
    QTemporaryDir dir;
    QString error;
    std::unique_ptr<SqlStore> store = SqlStore::openSqlite(dir.filePath(QStringLiteral("fresh.db")), &error);
    QVERIFY2(store, qPrintable(error));
    const QStringList applied = applyMigrations(*store);
    QCOMPARE(applied.size(), schemaMigrations(store->dialect()).size());
    QCOMPARE(applied.first(), QStringLiteral("0001_core (core)"));
    QVERIFY2(applied.contains(QStringLiteral("0006_rate_limit (rate-limit)")), qPrintable(applied.join(", ")));
    QVERIFY(applyMigrations(*store).isEmpty());   // nothing left to do
}

void OpsTest::pruneAnonymous()
{
    TestServer server;
    Store &store = *server.store;
    const QDateTime old = kNow.addDays(-40);
    const QDateTime recent = kNow.addDays(-1);

    const User staleGuest = makeUser(true, old);          // old session → pruned
    const User revivedGuest = makeUser(true, old);        // one old, one recent session → kept
    const User activeGuest = makeUser(true, old);         // user row old, session recent → kept
    const User sessionlessOld = makeUser(true, old);      // no session, user row old → pruned
    const User sessionlessNew = makeUser(true, recent);   // no session, user row recent → kept
    const User account = makeUser(false, old);            // not anonymous → kept
    for (const User &u : {staleGuest, revivedGuest, activeGuest, sessionlessOld, sessionlessNew, account})
        store.createUser(u);
    addSession(store, staleGuest.id, old);
    addSession(store, revivedGuest.id, old);
    addSession(store, revivedGuest.id, recent);
    addSession(store, activeGuest.id, recent);
    addSession(store, account.id, old);

    const PruneResult dry = Kernia::Server::pruneAnonymous(*server.store, 30 * 86400, true, kNow);
    QCOMPARE(dry.users, 2);
    QCOMPARE(dry.cutoff, kNow.addDays(-30));
    QCOMPARE(server.scalar(QStringLiteral("SELECT COUNT(*) FROM \"user\"")), 6);

    const PruneResult done = Kernia::Server::pruneAnonymous(*server.store, 30 * 86400, false, kNow);
    QCOMPARE(done.users, 2);
    QVERIFY(!store.userById(staleGuest.id));
    QVERIFY(!store.userById(sessionlessOld.id));
    QVERIFY(store.sessionsByUser(staleGuest.id).isEmpty());
    for (const User &kept : {revivedGuest, activeGuest, sessionlessNew, account})
        QVERIFY2(store.userById(kept.id), qPrintable(kept.id));
    QCOMPARE(store.sessionsByUser(revivedGuest.id).size(), 2);
    QCOMPARE(Kernia::Server::pruneAnonymous(*server.store, 30 * 86400, false, kNow).users, 0);

    // Batches: more guests than one transaction takes.
    for (int i = 0; i < 450; ++i)
        store.createUser(makeUser(true, old));
    QCOMPARE(Kernia::Server::pruneAnonymous(*server.store, 30 * 86400, false, kNow).users, 450);
    QCOMPARE(server.scalar(QStringLiteral("SELECT COUNT(*) FROM \"user\"")), 4);
}

// A backlog of expired verification rows larger than one pass: the pass stops at
// kHousekeepingMaxVerificationRows and says more is left; the next pass takes the rest.
void OpsTest::housekeepingPassIsBounded()
{
    TestServer server;
    const int backlog = kHousekeepingMaxVerificationRows + 250;
    server.store->transaction([&] {
        for (int i = 0; i < backlog; ++i)
            addVerification(*server.store, kNow.addSecs(-60 - i));
    });
    addVerification(*server.store, kNow.addSecs(3600));   // live: stays
    const auto rows = [&] { return server.scalar(QStringLiteral("SELECT COUNT(*) FROM \"verification\"")); };

    const HousekeepingResult first = runHousekeeping(*server.auth, kNow);
    QCOMPARE(first.expiredVerifications, kHousekeepingMaxVerificationRows);
    QVERIFY(first.moreLeft);
    QCOMPARE(rows(), 251);

    const HousekeepingResult second = runHousekeeping(*server.auth, kNow);
    QCOMPARE(second.expiredVerifications, 250);
    QVERIFY(!second.moreLeft);
    QCOMPARE(rows(), 1);

    const HousekeepingResult idle = runHousekeeping(*server.auth, kNow);
    QCOMPARE(idle.expiredVerifications, 0);
    QVERIFY(!idle.moreLeft);
    QCOMPARE(idle.staleRateLimitCounters, 0);   // no rate limiter on this server
}

void OpsTest::health()
{
    TestServer server;
    Response ok = healthResponse(*server.store);
    QCOMPARE(ok.status(), 200);
    QCOMPARE(ok.body(), QByteArray(R"({"database":"ok","status":"ok"})"));
    QCOMPARE(ok.header("cache-control"), QByteArray("no-store"));

    server.store->execTemplate(QStringLiteral("DROP TABLE \"kernia_migrations\""), {});
    Response down = healthResponse(*server.store);
    QCOMPARE(down.status(), 503);
    QCOMPARE(TestServer::json(down).value("database").toString(), QStringLiteral("error"));
    QCOMPARE(TestServer::json(down).value("status").toString(), QStringLiteral("error"));
}

void OpsTest::requestLogLines()
{
    RequestLogEntry entry{"POST", QStringLiteral("/api/auth/sign-in/email"), 401, 97.34, QStringLiteral("10.0.0.7"), "abc123"};
    QCOMPARE(formatRequestLog(entry),
             QStringLiteral("method=POST path=/api/auth/sign-in/email status=401 duration_ms=97.3 client=10.0.0.7 request_id=abc123"));
    entry.path = QStringLiteral("/api/auth/reset-password/SECRETTOKEN");
    QVERIFY(!formatRequestLog(entry).contains(QStringLiteral("SECRETTOKEN")));
    QVERIFY(formatRequestLog(entry).contains(QStringLiteral("path=/api/auth/reset-password/[redacted]")));
    entry.path = QStringLiteral("/a b\"c\nd=e");
    QVERIFY2(formatRequestLog(entry).contains(QStringLiteral("path=\"/a b\\\"c\\x0ad=e\"")), qPrintable(formatRequestLog(entry)));
    QVERIFY(!formatRequestLog(entry).contains(QLatin1Char('\n')));
    // A path with arg() markers in it stays the path; the fields after it keep their values.
    entry.path = QStringLiteral("/api/x%10y%2z%6");
    QCOMPARE(formatRequestLog(entry),
             QStringLiteral("method=POST path=/api/x%10y%2z%6 status=401 duration_ms=97.3 client=10.0.0.7 request_id=abc123"));
    QCOMPARE(redactedPath(QStringLiteral("/api/auth/reset-password/")), QStringLiteral("/api/auth/reset-password/"));
    QCOMPARE(redactedPath(QStringLiteral("/api/auth/get-session")), QStringLiteral("/api/auth/get-session"));
}

void OpsTest::requestIds()
{
    Request r;
    const QByteArray generated = requestIdFor(r);
    QCOMPARE(generated.size(), 20);
    QVERIFY(generated != requestIdFor(r));
    r.setHeader("x-request-id", "lb-1234.abc:5_x");
    QCOMPARE(requestIdFor(r), QByteArray("lb-1234.abc:5_x"));
    r.setHeader("x-request-id", "bad id\nwith=stuff");
    QCOMPARE(requestIdFor(r).size(), 20);
    r.setHeader("x-request-id", QByteArray(65, 'a'));
    QCOMPARE(requestIdFor(r).size(), 20);
}

void OpsTest::commandLine()
{
    QTemporaryDir dir;
    const QString data = dir.filePath(QStringLiteral("data"));

    ConfigResult migrate = parse({QStringLiteral("migrate")}, data);
    QVERIFY2(migrate.config, qPrintable(migrate.error));
    QCOMPARE(migrate.config->command, QStringLiteral("migrate"));
    QVERIFY(!QFile::exists(data + QStringLiteral("/secret")));   // commands never generate a secret

    ConfigResult prune = parse({QStringLiteral("prune-anonymous"), QStringLiteral("--older-than"), QStringLiteral("36h"),
                                QStringLiteral("--dry-run")}, data);
    QVERIFY2(prune.config, qPrintable(prune.error));
    QCOMPARE(prune.config->olderThanSeconds, 36 * 3600);
    QVERIFY(prune.config->dryRun);

    QVERIFY(!parse({QStringLiteral("prune-anonymous")}, data).config);
    QVERIFY(!parse({QStringLiteral("prune-anonymous"), QStringLiteral("--older-than"), QStringLiteral("soon")}, data).config);
    // Shorter than a session's refresh interval: guests in use would look inactive.
    const ConfigResult tooShort = parse({QStringLiteral("prune-anonymous"), QStringLiteral("--older-than"), QStringLiteral("12h")}, data);
    QVERIFY(!tooShort.config);
    QVERIFY2(tooShort.error.contains(QStringLiteral("at least 24h")), qPrintable(tooShort.error));
    QVERIFY(parse({QStringLiteral("prune-anonymous"), QStringLiteral("--older-than"), QStringLiteral("24h")}, data).config);
    QVERIFY(!parse({QStringLiteral("--dry-run"), QStringLiteral("--secret"), QString(40, QLatin1Char('s'))}, data).config);
    const ConfigResult unknown = parse({QStringLiteral("serve-forever")}, data);
    QVERIFY(!unknown.config);
    QVERIFY2(unknown.error.contains(QStringLiteral("serve-forever")), qPrintable(unknown.error));

    const QString secret(40, QLatin1Char('s'));
    ConfigResult serve = parse({QStringLiteral("--secret"), secret}, data);
    QVERIFY2(serve.config, qPrintable(serve.error));
    QVERIFY(serve.config->command.isEmpty());
    QVERIFY(serve.config->rateLimit.enabled);                      // on by default
    QCOMPARE(serve.config->rateLimit.anonymousSignInsPerHour, 30);
    QCOMPARE(serve.config->shutdownTimeoutSeconds, 10);
    QCOMPARE(serve.config->idleSpinMicroseconds, 200);
    QCOMPARE(serve.config->hashPriority, ScryptHelper::Priority::Idle);
    QVERIFY(serve.config->revokeSessionsOnPasswordReset);
    QVERIFY(serve.config->changeEmailEnabled);                     // on, as in the reference configuration
    QVERIFY(serve.config->changeEmailConfirmationEnabled);         // on: a verified address confirms a change first
    // session lifetimes default to Better Auth's (AuthOptions)
    QCOMPARE(serve.config->session.expiresIn, AuthOptions().sessionExpiresIn);
    QCOMPARE(serve.config->session.updateAge, AuthOptions().sessionUpdateAge);
    QCOMPARE(serve.config->session.freshAge, AuthOptions().sessionFreshAge);

    ConfigResult flags = parse({QStringLiteral("--secret"), secret, QStringLiteral("--no-rate-limit"),
                                QStringLiteral("--rate-limit-window"), QStringLiteral("30"),
                                QStringLiteral("--rate-limit-max"), QStringLiteral("7"),
                                QStringLiteral("--ip-address-header"), QStringLiteral("none"),
                                QStringLiteral("--anonymous-sign-ins-per-hour"), QStringLiteral("0"),
                                QStringLiteral("--shutdown-timeout"), QStringLiteral("3"),
                                QStringLiteral("--idle-spin-us"), QStringLiteral("0"),
                                QStringLiteral("--hash-priority"), QStringLiteral("low"),
                                QStringLiteral("--keep-sessions-on-password-reset"),
                                QStringLiteral("--disable-change-email"),
                                QStringLiteral("--disable-change-email-confirmation")}, data);
    QVERIFY2(flags.config, qPrintable(flags.error));
    QVERIFY(!flags.config->rateLimit.enabled);
    QCOMPARE(flags.config->rateLimit.windowSeconds, 30);
    QCOMPARE(flags.config->rateLimit.max, 7);
    QVERIFY(flags.config->rateLimit.ipAddressHeaders.isEmpty());
    QCOMPARE(flags.config->rateLimit.anonymousSignInsPerHour, 0);
    QCOMPARE(flags.config->shutdownTimeoutSeconds, 3);
    QCOMPARE(flags.config->idleSpinMicroseconds, 0);
    QCOMPARE(flags.config->hashPriority, ScryptHelper::Priority::Low);
    QVERIFY(!flags.config->revokeSessionsOnPasswordReset);
    QVERIFY(!flags.config->changeEmailEnabled);
    QVERIFY(!flags.config->changeEmailConfirmationEnabled);
    // Each flag alone.
    const ConfigResult noConfirmation = parse({QStringLiteral("--secret"), secret, QStringLiteral("--disable-change-email-confirmation")}, data);
    QVERIFY2(noConfirmation.config, qPrintable(noConfirmation.error));
    QVERIFY(noConfirmation.config->changeEmailEnabled);
    QVERIFY(!noConfirmation.config->changeEmailConfirmationEnabled);
    const ConfigResult urgent = parse({QStringLiteral("--secret"), secret, QStringLiteral("--hash-priority"), QStringLiteral("urgent")}, data);
    QVERIFY(!urgent.config);
    QCOMPARE(urgent.error, QStringLiteral("--hash-priority must be idle, low or normal, got \"urgent\""));
    QVERIFY(!parse({QStringLiteral("--secret"), secret, QStringLiteral("--rate-limit-max"), QStringLiteral("0")}, data).config);
    const ConfigResult longSpin = parse({QStringLiteral("--secret"), secret, QStringLiteral("--idle-spin-us"), QStringLiteral("10001")}, data);
    QVERIFY(!longSpin.config);
    QVERIFY2(longSpin.error.contains(QStringLiteral("idle-spin-us")), qPrintable(longSpin.error));
    for (const QStringList &bad : {QStringList{QStringLiteral("--worker-threads"), QStringLiteral("0")},
                                   QStringList{QStringLiteral("--worker-threads"), QStringLiteral("257")},
                                   QStringList{QStringLiteral("--shutdown-timeout"), QStringLiteral("3601")},
                                   QStringList{QStringLiteral("--shutdown-timeout"), QStringLiteral("-1")}}) {
        const ConfigResult refused = parse(QStringList{QStringLiteral("--secret"), secret} + bad, data);
        QVERIFY2(!refused.config, qPrintable(bad.join(u' ')));
        QCOMPARE(refused.error.left(bad.first().size()), bad.first());
    }
    QCOMPARE(parse({QStringLiteral("--secret"), secret, QStringLiteral("--worker-threads"), QStringLiteral("300")}, data).error,
             QStringLiteral("--worker-threads must be a number between 1 and 256, got \"300\""));

    const QString configPath = dir.filePath(QStringLiteral("c.json"));
    QFile file(configPath);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write(R"({"shutdown_timeout": 4, "idle_spin_us": 50, "hash_priority": "normal", "revoke_sessions_on_password_reset": false, "change_email_enabled": false, "change_email_confirmation_enabled": false, "rate_limit": {"max": 9, "custom_rules": {"/get-session": false}}, "session": {"expires_in": 60, "update_age": 3, "fresh_age": 0}})");
    file.close();
    ConfigResult fromFile = parse({QStringLiteral("--secret"), secret, QStringLiteral("--config"), configPath}, data);
    QVERIFY2(fromFile.config, qPrintable(fromFile.error));
    QCOMPARE(fromFile.config->rateLimit.max, 9);
    QCOMPARE(fromFile.config->shutdownTimeoutSeconds, 4);
    QCOMPARE(fromFile.config->idleSpinMicroseconds, 50);
    QCOMPARE(fromFile.config->hashPriority, ScryptHelper::Priority::Normal);
    QVERIFY(!fromFile.config->revokeSessionsOnPasswordReset);
    QVERIFY(!fromFile.config->changeEmailEnabled);
    QVERIFY(!fromFile.config->changeEmailConfirmationEnabled);
    QCOMPARE(fromFile.config->rateLimit.customRules.size(), 1);
    QVERIFY(fromFile.config->rateLimit.customRules.first().disabled);
    QCOMPARE(fromFile.config->session.expiresIn, 60);
    QCOMPARE(fromFile.config->session.updateAge, 3);
    QCOMPARE(fromFile.config->session.freshAge, 0);
    // delete-user's mailed confirmation: on by default, off by the flag or the file.
    QVERIFY(parse({QStringLiteral("--secret"), secret}, data).config->deleteUserConfirmationEnabled);
    QVERIFY(!parse({QStringLiteral("--secret"), secret, QStringLiteral("--disable-delete-user-confirmation")}, data)
                 .config->deleteUserConfirmationEnabled);
    {
        const QString noConfirmation = dir.filePath(QStringLiteral("no-confirmation.json"));
        QFile noConfirmationFile(noConfirmation);
        QVERIFY(noConfirmationFile.open(QIODevice::WriteOnly));
        noConfirmationFile.write(R"({"delete_user_confirmation_enabled": false})");
        noConfirmationFile.close();
        const ConfigResult parsed = parse({QStringLiteral("--secret"), secret, QStringLiteral("--config"), noConfirmation}, data);
        QVERIFY2(parsed.config, qPrintable(parsed.error));
        QVERIFY(!parsed.config->deleteUserConfirmationEnabled);
    }
    // prune-anonymous goes by the configured update age
    QVERIFY(parse({QStringLiteral("prune-anonymous"), QStringLiteral("--older-than"), QStringLiteral("5s"),
                   QStringLiteral("--config"), configPath}, data).config);
    const ConfigResult belowUpdateAge = parse({QStringLiteral("prune-anonymous"), QStringLiteral("--older-than"), QStringLiteral("2s"),
                                               QStringLiteral("--config"), configPath}, data);
    QVERIFY(!belowUpdateAge.config);
    QVERIFY2(belowUpdateAge.error.contains(QStringLiteral("at least 3s")), qPrintable(belowUpdateAge.error));

    // Values from the file are held to the same ranges as the flags.
    for (const QByteArray &bad : {QByteArray(R"({"worker_threads": 0})"), QByteArray(R"({"idle_spin_us": -1})"),
                                  QByteArray(R"({"idle_spin_us": 20000})"), QByteArray(R"({"hash_priority": "low "})"),
                                  QByteArray(R"({"hash_priority": 1})"), QByteArray(R"({"worker_threads": 257})"),
                                  QByteArray(R"({"shutdown_timeout": 3601})"), QByteArray(R"({"shutdown_timeout": -1})"),
                                  QByteArray(R"({"session": {"expires_in": 0}})"), QByteArray(R"({"session": {"update_age": -1}})"),
                                  QByteArray(R"({"session": {"fresh_age": "5"}})"), QByteArray(R"({"session": {"expires_in": 1.5}})"),
                                  QByteArray(R"({"session": {"ttl": 5}})"), QByteArray(R"({"session": 60})")}) {
        QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
        file.write(bad);
        file.close();
        const ConfigResult refused = parse({QStringLiteral("--secret"), secret, QStringLiteral("--config"), configPath}, data);
        QVERIFY2(!refused.config, bad.constData());
        QVERIFY2(refused.error.contains(QString::fromUtf8(bad.mid(2, bad.indexOf('"', 2) - 2))), qPrintable(refused.error));
    }
    QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
    file.write(R"({"shutdown_timeout": 3601})");
    file.close();
    QCOMPARE(parse({QStringLiteral("--secret"), secret, QStringLiteral("--config"), configPath}, data).error,
             QStringLiteral("shutdown_timeout must be between 0 and 3600 seconds"));
}

QTEST_GUILESS_MAIN(OpsTest)
#include "tst_ops.moc"
