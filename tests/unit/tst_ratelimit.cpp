// Rate limiting without sockets: Better Auth's rules (protocol README §8, transcript 15),
// client addresses, the database counters (shared by every process on the database), the
// anonymous sign-in cap and the failure mode. Time is driven by a fake clock.
#include "test_server.h"

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

    // The limiter sweeps counters older than twice its longest window (at most once a minute).
    Limited t;
    t.server.store->hitRateLimit(QStringLiteral("ancient"), kT0 - 3 * 3600 * 1000, 10000, 5, true);
    QCOMPARE(t.send("GET", QStringLiteral("/get-session")).status(), 200);
    QCOMPARE(t.server.scalar(QStringLiteral("SELECT COUNT(*) FROM \"rateLimit\" WHERE \"key\" = 'ancient'")), 0);
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
