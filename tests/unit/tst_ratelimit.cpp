// Rate limiting without sockets: Better Auth's rules (protocol README §8, transcript 15),
// client addresses, the database counters (shared by every process on the database), the
// anonymous sign-in cap and the failure mode. Time is driven by a fake clock.
#include "test_server.h"

#include "ops/maintenance.h"
#include "plugins/magic_link/magic_link_plugin.h"
#include "ratelimit/rate_limit_config.h"
#include "ratelimit/rate_limiter.h"

#include <QAtomicInt>
#include <QJsonDocument>
#include <QThread>

using namespace Kernia::Server;
using namespace Kernia::Server::Testing;

namespace {

const QJsonObject kWrongSignIn{{"email", "x@example.com"}, {"password", "password123"}};
constexpr qint64 kT0 = 1'800'000'000'000;   // ms since epoch

struct Limited
{
    explicit Limited(RateLimitOptions options = {})
    {
        limiter = std::make_shared<RateLimiter>(std::move(options), server.store);
        limiter->setClock([this] { return now; });
        server.auth->setRateLimiter(limiter);
    }

    Response signIn(const QByteArray &forwardedFor = {})
    {
        QList<QPair<QByteArray, QByteArray>> headers{{"origin", kOrigin}};
        if (!forwardedFor.isEmpty())
            headers.append({"x-forwarded-for", forwardedFor});
        Request r = TestServer::request("POST", QStringLiteral("/sign-in/email"),
                                        QJsonDocument(kWrongSignIn).toJson(QJsonDocument::Compact), headers);
        r.peerAddress = QStringLiteral("127.0.0.1");
        return server.auth->handle(r);
    }
    Response send(const QByteArray &method, const QString &path, const QByteArray &forwardedFor = {})
    {
        QList<QPair<QByteArray, QByteArray>> headers{{"origin", kOrigin}};
        if (!forwardedFor.isEmpty())
            headers.append({"x-forwarded-for", forwardedFor});
        Request r = TestServer::request(method, path, {}, headers);
        r.peerAddress = QStringLiteral("127.0.0.1");
        return server.auth->handle(r);
    }
    // The server's housekeeping (ops/maintenance.h): where stale counters go.
    int sweep() { return runHousekeeping(*server.auth).staleRateLimitCounters; }
    int rows(const QString &key)
    {
        return server.scalar(QStringLiteral("SELECT COUNT(*) FROM \"rateLimit\" WHERE \"key\" = :k"), {{"k", key}});
    }

    TestServer server;
    std::shared_ptr<RateLimiter> limiter;
    qint64 now = kT0;
};

void verifyTooMany(const Response &r, const QByteArray &retryAfter)
{
    QCOMPARE(r.status(), 429);
    QCOMPARE(r.body(), QByteArray(R"({"message":"Too many requests. Please try again later."})"));
    QCOMPARE(r.contentType(), QByteArray("application/json"));
    QCOMPARE(r.header("x-retry-after"), retryAfter);
}

} // namespace

class RateLimitTest : public QObject
{
    Q_OBJECT

private slots:
    void rulesPerPath();
    void pluginAndCustomRules();
    void wildcards();
    void clientAddresses();
    void transcript15();
    void windowSlidesLikeBetterAuth();
    void everyRequestCountsUnknownPathsToo();
    void unknownPathsShareOneCounterPerAddress();
    void parameterisedPathsShareTheirRoutesCounter();
    void countersExpireByTheirOwnWindow();
    void anonymousCapIsAFixedHourlyWindow();
    void countersAreSharedThroughTheDatabase();
    void storeStepIsAtomicUnderConcurrency();
    void staleCountersAreRemoved();
    void disabledLetsEverythingThrough();
    void storageFailureLetsRequestsThrough();
    void configFileObject();
};

void RateLimitTest::rulesPerPath()
{
    TestServer server;
    RateLimiter limiter({}, server.store);
    auto check = [&](const char *path, int window, int max) {
        const RateLimiter::Limit limit = limiter.limitFor(QString::fromLatin1(path));
        QVERIFY2(limit.limited, path);
        QCOMPARE(limit.windowSeconds, window);
        QCOMPARE(limit.max, max);
    };
    check("/get-session", 10, 100);
    check("/sign-in/email", 10, 3);
    check("/sign-in/anonymous", 10, 3);
    check("/sign-up/email", 10, 3);
    check("/change-password", 10, 3);
    check("/change-email", 10, 3);
    check("/request-password-reset", 60, 3);
    check("/send-verification-email", 60, 3);
    check("/forget-password", 60, 3);
    check("/forget-password/email-otp", 60, 3);
    check("/reset-password/abc", 10, 100);
    check("/sign-in/magic-link", 10, 3);   // without the plugin, only the special rule applies
}

void RateLimitTest::pluginAndCustomRules()
{
    TestServer server;
    MagicLinkPlugin magicLink;
    const QList<Plugin *> plugins{&magicLink};
    RateLimitOptions options;
    options.windowSeconds = 20;
    options.max = 50;
    options.customRules = {{QStringLiteral("/sign-in/email"), false, 30, 7},
                           {QStringLiteral("/get-session"), true, 0, 0},
                           {QStringLiteral("/magic-link/verify"), false, 5, 1}};
    RateLimiter limiter(options, server.store);

    RateLimiter::Limit limit = limiter.limitFor(QStringLiteral("/sign-in/magic-link"), plugins);
    QCOMPARE(limit.windowSeconds, 60);   // the plugin rule wins over the /sign-in* special rule
    QCOMPARE(limit.max, 5);
    limit = limiter.limitFor(QStringLiteral("/magic-link/verify"), plugins);
    QCOMPARE(limit.windowSeconds, 5);    // a custom rule wins over the plugin rule
    QCOMPARE(limit.max, 1);
    limit = limiter.limitFor(QStringLiteral("/sign-in/email"), plugins);
    QCOMPARE(limit.windowSeconds, 30);
    QCOMPARE(limit.max, 7);
    QVERIFY(!limiter.limitFor(QStringLiteral("/get-session"), plugins).limited);
    limit = limiter.limitFor(QStringLiteral("/list-sessions"), plugins);
    QCOMPARE(limit.windowSeconds, 20);   // the configured default
    QCOMPARE(limit.max, 50);
}

void RateLimitTest::wildcards()
{
    QVERIFY(RateLimiter::wildcardMatch(QStringLiteral("/passkey/*"), QStringLiteral("/passkey/list-user-passkeys")));
    QVERIFY(!RateLimiter::wildcardMatch(QStringLiteral("/passkey/*"), QStringLiteral("/passkey/a/b")));
    QVERIFY(RateLimiter::wildcardMatch(QStringLiteral("/passkey/**"), QStringLiteral("/passkey/a/b")));
    QVERIFY(RateLimiter::wildcardMatch(QStringLiteral("/sign-in/*"), QStringLiteral("/sign-in/email")));
    QVERIFY(!RateLimiter::wildcardMatch(QStringLiteral("/sign-in/*"), QStringLiteral("/sign-up/email")));
    QVERIFY(!RateLimiter::wildcardMatch(QStringLiteral("/a.c"), QStringLiteral("/abc")));   // '.' is literal
    QVERIFY(RateLimiter::wildcardMatch(QStringLiteral("/get-session"), QStringLiteral("/get-session")));
}

void RateLimitTest::clientAddresses()
{
    const QStringList xff{QStringLiteral("x-forwarded-for")};
    Request r;
    r.peerAddress = QStringLiteral("::ffff:127.0.0.1");
    QCOMPARE(RateLimiter::clientAddress(r, xff), QStringLiteral("127.0.0.1"));   // IPv4-mapped → IPv4
    r.setHeader("x-forwarded-for", "203.0.113.7, 10.0.0.1");
    QCOMPARE(RateLimiter::clientAddress(r, xff), QStringLiteral("203.0.113.7")); // first entry
    QCOMPARE(RateLimiter::clientAddress(r, {}), QStringLiteral("127.0.0.1"));    // headers not trusted
    r.setHeader("x-forwarded-for", "not-an-address");
    QCOMPARE(RateLimiter::clientAddress(r, xff), QStringLiteral("127.0.0.1"));   // falls back to the peer
    r.setHeader("x-real-ip", "198.51.100.2");
    QCOMPARE(RateLimiter::clientAddress(r, {QStringLiteral("x-forwarded-for"), QStringLiteral("X-Real-IP")}),
             QStringLiteral("198.51.100.2"));
    r.setHeader("x-forwarded-for", "2001:db8:1:2:3:4:5:6");
    QCOMPARE(RateLimiter::clientAddress(r, xff), QStringLiteral("2001:db8:1:2:3:4:5:6"));
    QCOMPARE(RateLimiter::bucketAddress(QStringLiteral("2001:db8:1:2:3:4:5:6")), QStringLiteral("2001:db8:1:2::/64"));
    QCOMPARE(RateLimiter::bucketAddress(QStringLiteral("203.0.113.7")), QStringLiteral("203.0.113.7"));
}

void RateLimitTest::transcript15()
{
    Limited t;
    for (int i = 0; i < 3; ++i) {
        const Response r = t.signIn();
        QCOMPARE(r.status(), 401);
        QVERIFY(r.header("x-retry-after").isEmpty());
    }
    verifyTooMany(t.signIn(), "10");
    QCOMPARE(t.signIn("10.1.2.3").status(), 401);                 // another client: its own counter
    QCOMPARE(t.send("GET", QStringLiteral("/get-session")).status(), 200);   // another path
    QCOMPARE(t.server.scalar(QStringLiteral("SELECT \"count\" FROM \"rateLimit\" WHERE \"key\" = :k"),
                             {{"k", "127.0.0.1/sign-in/email"}}), 3);   // the refused one wrote nothing
}

void RateLimitTest::windowSlidesLikeBetterAuth()
{
    Limited t;
    QCOMPARE(t.signIn().status(), 401);          // t = 0
    t.now += 2000;
    QCOMPARE(t.signIn().status(), 401);          // t = 2 s
    t.now += 2000;
    QCOMPARE(t.signIn().status(), 401);          // t = 4 s: lastRequest = 4 s
    t.now += 3000;
    verifyTooMany(t.signIn(), "7");              // t = 7 s: ceil((4 + 10 - 7)) = 7
    t.now += 6500;
    verifyTooMany(t.signIn(), "1");              // t = 13.5 s: 0.5 s left, rounded up
    t.now += 500;
    QCOMPARE(t.signIn().status(), 401);          // t = 14 s: 10 s after the last counted request
    QCOMPARE(t.signIn().status(), 401);
    QCOMPARE(t.signIn().status(), 401);
    QCOMPARE(t.signIn().status(), 429);
}

void RateLimitTest::everyRequestCountsUnknownPathsToo()
{
    RateLimitOptions options;
    options.max = 2;
    Limited t(options);
    QCOMPARE(t.send("GET", QStringLiteral("/no-such-endpoint")).status(), 404);
    QCOMPARE(t.send("GET", QStringLiteral("/no-such-endpoint")).status(), 404);
    QCOMPARE(t.send("GET", QStringLiteral("/no-such-endpoint")).status(), 429);
    QCOMPARE(t.send("GET", QStringLiteral("/get-session")).status(), 200);
}

// 200 GETs to distinct unknown paths used to add 200 rows (key = address + path), each kept
// for at least two hours, and never met a limit. Now they share one counter per address:
// one row, and the scan is refused after the default rule's 100 requests per 10 s.
void RateLimitTest::unknownPathsShareOneCounterPerAddress()
{
    Limited t;
    int refused = 0;
    for (int i = 0; i < 200; ++i) {
        const Response r = t.send("GET", QStringLiteral("/no-such-endpoint-%1").arg(i));
        if (r.status() == 429)
            ++refused;
        else
            QCOMPARE(r.status(), 404);
    }
    const int rows = t.server.scalar(QStringLiteral("SELECT COUNT(*) FROM \"rateLimit\""));
    QVERIFY2(rows == 1, qPrintable(QStringLiteral("%1 rate-limit rows after 200 unknown paths").arg(rows)));
    QCOMPARE(t.server.scalar(QStringLiteral("SELECT \"count\" FROM \"rateLimit\" WHERE \"key\" = :k"),
                             {{"k", "unknown-path|127.0.0.1"}}), 100);
    QCOMPARE(refused, 100);
    verifyTooMany(t.send("GET", QStringLiteral("/yet-another")), "10");
    // Unknown paths under a rule's prefix are unknown paths too (one counter, default rule).
    verifyTooMany(t.send("POST", QStringLiteral("/sign-in/no-such-method")), "10");

    // Real paths keep their own counters and Better Auth's rules.
    QCOMPARE(t.send("GET", QStringLiteral("/get-session")).status(), 200);
    for (int i = 0; i < 3; ++i)
        QCOMPARE(t.signIn().status(), 401);
    verifyTooMany(t.signIn(), "10");
    // Another address has its own unknown-path counter.
    QCOMPARE(t.send("GET", QStringLiteral("/no-such-endpoint-0"), "10.9.8.7").status(), 404);
    // A wrong method on a real path counts on that path's counter (Better Auth's key).
    Limited u;
    for (int i = 0; i < 3; ++i)
        QCOMPARE(u.send("GET", QStringLiteral("/sign-in/email")).status(), 404);
    verifyTooMany(u.signIn(), "10");
    // A custom rule that switches a path off also covers it when unknown.
    RateLimitOptions off;
    off.max = 1;
    off.customRules = {{QStringLiteral("/public/**"), true, 0, 0}};
    Limited v(off);
    for (int i = 0; i < 3; ++i)
        QCOMPARE(v.send("GET", QStringLiteral("/public/file-%1").arg(i)).status(), 404);
    QCOMPARE(v.server.scalar(QStringLiteral("SELECT COUNT(*) FROM \"rateLimit\"")), 0);
}

// A parameterised endpoint (GET /reset-password/:token) keeps one counter per address,
// not one per token.
void RateLimitTest::parameterisedPathsShareTheirRoutesCounter()
{
    RateLimitOptions options;
    options.max = 5;
    Limited t(options);
    for (int i = 0; i < 5; ++i)
        QVERIFY(t.send("GET", QStringLiteral("/reset-password/token%1").arg(i)).status() != 429);
    verifyTooMany(t.send("GET", QStringLiteral("/reset-password/token-x")), "10");
    QCOMPARE(t.server.scalar(QStringLiteral("SELECT COUNT(*) FROM \"rateLimit\"")), 1);
    QCOMPARE(t.server.scalar(QStringLiteral("SELECT \"count\" FROM \"rateLimit\" WHERE \"key\" = :k"),
                             {{"k", "127.0.0.1/reset-password/*"}}), 5);
}

// A counter is swept once it is older than twice the longest window a path rule can have
// (here Better Auth's 60 s rules: 2 minutes), not after two hours; the anonymous sign-in
// cap's hourly counters stay for twice their hour. The housekeeping sweeps, not a request.
void RateLimitTest::countersExpireByTheirOwnWindow()
{
    Limited t;
    QCOMPARE(t.send("GET", QStringLiteral("/get-session")).status(), 200);
    QCOMPARE(t.send("POST", QStringLiteral("/sign-in/anonymous")).status(), 200);
    QCOMPARE(t.send("GET", QStringLiteral("/no-such-endpoint")).status(), 404);
    QCOMPARE(t.rows(QStringLiteral("127.0.0.1/get-session")), 1);
    QCOMPARE(t.rows(QStringLiteral("127.0.0.1/sign-in/anonymous")), 1);
    QCOMPARE(t.rows(QStringLiteral("anonymous-sign-in|127.0.0.1")), 1);
    QCOMPARE(t.rows(QStringLiteral("unknown-path|127.0.0.1")), 1);

    t.now += 100 * 1000;   // within twice the longest path window: nothing goes yet
    QCOMPARE(t.sweep(), 0);
    QCOMPARE(t.rows(QStringLiteral("127.0.0.1/get-session")), 1);

    t.now += 60 * 1000;    // 160 s: past it
    QCOMPARE(t.send("GET", QStringLiteral("/ok")).status(), 200);
    QCOMPARE(t.rows(QStringLiteral("127.0.0.1/get-session")), 1);   // a request sweeps nothing
    QCOMPARE(t.sweep(), 3);
    QCOMPARE(t.rows(QStringLiteral("127.0.0.1/get-session")), 0);
    QCOMPARE(t.rows(QStringLiteral("127.0.0.1/sign-in/anonymous")), 0);
    QCOMPARE(t.rows(QStringLiteral("unknown-path|127.0.0.1")), 0);
    QCOMPARE(t.rows(QStringLiteral("anonymous-sign-in|127.0.0.1")), 1);   // its window is an hour
    QCOMPARE(t.rows(QStringLiteral("127.0.0.1/ok")), 1);

    t.now += 2 * 3600 * 1000;
    QCOMPARE(t.sweep(), 2);   // the hourly counter and /ok
    QCOMPARE(t.rows(QStringLiteral("anonymous-sign-in|127.0.0.1")), 0);

    // A longer custom rule keeps counters that long.
    RateLimitOptions options;
    options.customRules = {{QStringLiteral("/ok"), false, 600, 100}};
    Limited c(options);
    QCOMPARE(c.send("GET", QStringLiteral("/ok")).status(), 200);
    c.now += 1000 * 1000;   // 1000 s < 2 x 600 s
    QCOMPARE(c.sweep(), 0);
    QCOMPARE(c.rows(QStringLiteral("127.0.0.1/ok")), 1);
    c.now += 201 * 1000;    // 1201 s
    QCOMPARE(c.sweep(), 1);
    QCOMPARE(c.rows(QStringLiteral("127.0.0.1/ok")), 0);
}

void RateLimitTest::anonymousCapIsAFixedHourlyWindow()
{
    RateLimitOptions options;
    options.anonymousSignInsPerHour = 2;
    Limited t(options);
    QCOMPARE(t.send("POST", QStringLiteral("/sign-in/anonymous")).status(), 200);
    t.now += 1800 * 1000;
    QCOMPARE(t.send("POST", QStringLiteral("/sign-in/anonymous")).status(), 200);
    t.now += 1200 * 1000;   // 50 min after the first one
    const Response capped = t.send("POST", QStringLiteral("/sign-in/anonymous"));
    QCOMPARE(capped.status(), 429);
    const QJsonObject body = TestServer::json(capped);
    QCOMPARE(body.value("code").toString(), QStringLiteral("TOO_MANY_ANONYMOUS_SIGN_INS"));
    QCOMPARE(body.value("message").toString(),
             QStringLiteral("Too many anonymous sign-ins from this address. Please try again later."));
    QCOMPARE(capped.header("x-retry-after"), QByteArray("600"));   // the hour counts from the first
    QCOMPARE(t.send("POST", QStringLiteral("/sign-in/anonymous"), "192.0.2.44").status(), 200);
    t.now += 600 * 1000;
    QCOMPARE(t.send("POST", QStringLiteral("/sign-in/anonymous")).status(), 200);

    RateLimitOptions uncapped;
    uncapped.anonymousSignInsPerHour = 0;
    uncapped.customRules = {{QStringLiteral("/sign-in/anonymous"), true, 0, 0}};
    Limited u(uncapped);
    for (int i = 0; i < 5; ++i)
        QCOMPARE(u.send("POST", QStringLiteral("/sign-in/anonymous")).status(), 200);
}

void RateLimitTest::countersAreSharedThroughTheDatabase()
{
    Limited a;
    // A second process on the same database: its own store connection and limiter.
    QString error;
    std::shared_ptr<SqlStore> otherStore = a.server.pgDatabase
        ? SqlStore::openPostgres(a.server.pgDatabase->url(), &error)
        : SqlStore::openSqlite(a.server.dir.filePath(QStringLiteral("kernia.db")), &error);
    QVERIFY2(otherStore, qPrintable(error));
    AuthServer other(TestServer::defaultOptions(), otherStore);
    auto otherLimiter = std::make_shared<RateLimiter>(RateLimitOptions{}, otherStore);
    otherLimiter->setClock([&] { return a.now; });
    other.setRateLimiter(otherLimiter);

    QCOMPARE(a.signIn().status(), 401);
    Request r = TestServer::request("POST", QStringLiteral("/sign-in/email"),
                                    QJsonDocument(kWrongSignIn).toJson(QJsonDocument::Compact), {{"origin", kOrigin}});
    r.peerAddress = QStringLiteral("127.0.0.1");
    QCOMPARE(other.handle(r).status(), 401);
    QCOMPARE(a.signIn().status(), 401);
    verifyTooMany(other.handle(r), "10");
}

void RateLimitTest::storeStepIsAtomicUnderConcurrency()
{
    TestServer server;
    constexpr int kThreads = 4;
    constexpr int kEach = 25;
    QAtomicInt allowed = 0;
    QList<QThread *> threads;
    for (int i = 0; i < kThreads; ++i) {
        threads << QThread::create([&] {
            for (int j = 0; j < kEach; ++j) {
                if (server.store->hitRateLimit(QStringLiteral("k"), kT0, 10000, 30, true).allowed)
                    allowed.fetchAndAddRelaxed(1);
            }
        });
        threads.last()->start();
    }
    for (QThread *thread : threads) {
        QVERIFY(thread->wait(60000));
        delete thread;
    }
    QCOMPARE(allowed.loadRelaxed(), 30);   // exactly max, never more
    QCOMPARE(server.scalar(QStringLiteral("SELECT \"count\" FROM \"rateLimit\" WHERE \"key\" = 'k'")), 30);
}

void RateLimitTest::staleCountersAreRemoved()
{
    TestServer server;
    server.store->hitRateLimit(QStringLiteral("old"), kT0, 10000, 5, true);
    server.store->hitRateLimit(QStringLiteral("new"), kT0 + 60000, 10000, 5, true);
    QCOMPARE(server.store->deleteRateLimitsBefore(kT0 + 1), 1);
    QCOMPARE(server.scalar(QStringLiteral("SELECT COUNT(*) FROM \"rateLimit\"")), 1);
    // Keys with the given prefix stay; the prefix is literal ('%', '_' are no wildcards).
    server.store->hitRateLimit(QStringLiteral("anonymous-sign-in|a"), kT0, 10000, 5, true);
    server.store->hitRateLimit(QStringLiteral("a%_|b"), kT0, 10000, 5, true);
    server.store->hitRateLimit(QStringLiteral("a%x|c"), kT0, 10000, 5, true);
    server.store->hitRateLimit(QStringLiteral("b"), kT0, 10000, 5, true);
    QCOMPARE(server.store->deleteRateLimitsBefore(kT0 + 1, QStringLiteral("anonymous-sign-in|")), 3);
    QCOMPARE(server.scalar(QStringLiteral("SELECT COUNT(*) FROM \"rateLimit\" WHERE \"key\" = 'anonymous-sign-in|a'")), 1);
    server.store->hitRateLimit(QStringLiteral("a%_|b"), kT0, 10000, 5, true);
    server.store->hitRateLimit(QStringLiteral("a%x|c"), kT0, 10000, 5, true);
    QCOMPARE(server.store->deleteRateLimitsBefore(kT0 + 1, QStringLiteral("a%_")), 2);   // a%x|c and anonymous-…
    QCOMPARE(server.scalar(QStringLiteral("SELECT COUNT(*) FROM \"rateLimit\" WHERE \"key\" = 'a%_|b'")), 1);

    // The limiter sweeps counters older than twice its longest window when the housekeeping
    // asks it to; requests leave them alone, however many come.
    Limited t;
    t.server.store->hitRateLimit(QStringLiteral("ancient"), kT0 - 3 * 3600 * 1000, 10000, 5, true);
    for (int i = 0; i < 3; ++i) {
        QCOMPARE(t.send("GET", QStringLiteral("/get-session")).status(), 200);
        t.now += 61 * 1000;
    }
    QCOMPARE(t.rows(QStringLiteral("ancient")), 1);
    QCOMPARE(t.limiter->removeStaleCounters(t.server.auth->plugins()), 1);
    QCOMPARE(t.rows(QStringLiteral("ancient")), 0);
    t.server.store->hitRateLimit(QStringLiteral("ancient"), kT0 - 3 * 3600 * 1000, 10000, 5, true);
    QCOMPARE(t.sweep(), 1);
    QCOMPARE(t.rows(QStringLiteral("ancient")), 0);

    // Without a rate limiter the housekeeping leaves the table alone.
    TestServer plain;
    plain.store->hitRateLimit(QStringLiteral("ancient"), kT0 - 3 * 3600 * 1000, 10000, 5, true);
    QCOMPARE(runHousekeeping(*plain.auth).staleRateLimitCounters, 0);
    QCOMPARE(plain.scalar(QStringLiteral("SELECT COUNT(*) FROM \"rateLimit\"")), 1);
}

void RateLimitTest::disabledLetsEverythingThrough()
{
    RateLimitOptions options;
    options.enabled = false;
    Limited t(options);
    for (int i = 0; i < 6; ++i)
        QCOMPARE(t.signIn().status(), 401);
    QCOMPARE(t.server.scalar(QStringLiteral("SELECT COUNT(*) FROM \"rateLimit\"")), 0);

    TestServer plain;   // no limiter at all: the unit tests' default
    for (int i = 0; i < 6; ++i)
        QCOMPARE(plain.post(QStringLiteral("/sign-in/email"), kWrongSignIn).status(), 401);
}

void RateLimitTest::storageFailureLetsRequestsThrough()
{
    Limited t;
    t.server.store->execTemplate(QStringLiteral("DROP TABLE \"rateLimit\""), {});
    for (int i = 0; i < 5; ++i)
        QCOMPARE(t.signIn().status(), 401);
}

void RateLimitTest::configFileObject()
{
    RateLimitOptions options;
    QString error;
    const QJsonObject object = QJsonDocument::fromJson(R"({
        "enabled": true, "window": 30, "max": 20, "ip_address_headers": ["X-Real-IP"],
        "anonymous_sign_ins_per_hour": 5,
        "custom_rules": {"/sign-in/email": {"window": 60, "max": 5}, "/get-session": false}
    })").object();
    QVERIFY2(applyRateLimitJson(object, QStringLiteral("c.json"), options, &error), qPrintable(error));
    QVERIFY2(validateRateLimitOptions(options, &error), qPrintable(error));
    QCOMPARE(options.windowSeconds, 30);
    QCOMPARE(options.max, 20);
    QCOMPARE(options.ipAddressHeaders, QStringList{QStringLiteral("x-real-ip")});
    QCOMPARE(options.anonymousSignInsPerHour, 5);
    QCOMPARE(options.customRules.size(), 2);

    RateLimitOptions bad;
    QVERIFY(!applyRateLimitJson(QJsonObject{{"windw", 3}}, QStringLiteral("c.json"), bad, &error));
    QVERIFY2(error.contains(QStringLiteral("rate_limit.windw")), qPrintable(error));
    QVERIFY(!applyRateLimitJson(QJsonObject{{"max", "many"}}, QStringLiteral("c.json"), bad, &error));
    RateLimitOptions relative;
    relative.customRules = {{QStringLiteral("sign-in/email"), false, 10, 1}};
    QVERIFY(!validateRateLimitOptions(relative, &error));
    RateLimitOptions zero;
    zero.max = 0;
    QVERIFY(!validateRateLimitOptions(zero, &error));
}

QTEST_GUILESS_MAIN(RateLimitTest)
#include "tst_ratelimit.moc"
