// The anonymous plugin without sockets: guest sign-in, its options, delete-anonymous-user,
// and the link — including the atomic rollback when on_link fails and concurrent links.
#include "test_server.h"

#include "config/server_config.h"
#include "config/templates.h"

#include <QAtomicInt>
#include <QRegularExpression>
#include <QThread>

#include <algorithm>

using namespace Kernia::Server;
using namespace Kernia::Server::Testing;

namespace {

const QJsonObject kAda{{"name", "Ada"}, {"email", "ada@example.com"}, {"password", "password123"}};
const QJsonObject kAdaSignIn{{"email", "ada@example.com"}, {"password", "password123"}};

// The on_link SQL tests' start: an app table `cart` and a guest with one item in it.
// Returns the guest's sign-in answer.
Response guestWithTeaInCart(TestServer &server)
{
    server.store->execTemplate(QStringLiteral("CREATE TABLE cart (user_id TEXT, item TEXT)"), {});
    const Response guest = server.post(QStringLiteral("/sign-in/anonymous"), {});
    server.store->execTemplate(QStringLiteral("INSERT INTO cart VALUES (:id, 'tea')"),
                               {{"id", TestServer::json(guest).value("user").toObject().value("id").toString()}});
    return guest;
}

} // namespace

class AnonymousTest : public QObject
{
    Q_OBJECT

private slots:
    void signInGivesAGuestWithPlaceholderEmail();
    void signInAgainWhileAnonymousIsRefused();
    void signInWhileSignedInCreatesAnotherGuestWithoutLink();
    void emailDomainName();
    void generateRandomEmailAndName();
    void invalidGeneratedEmailIsRefused();
    void deleteAnonymousUser();
    void deleteAnonymousUserRefusals();
    void signUpLinksAndDeletesGuest();
    void signInToExistingAccountLinksWithBearer();
    void disableDeleteKeepsGuest();
    void failedSignInLeavesGuestIntact();
    void failingOnLinkRollsEverythingBack();
    void throwingOnLinkRollsEverythingBack();
    void concurrentLinksRunOnLinkOnce();
    void configTemplatesAndOnLinkSql();
    void onLinkSqlNamingNoColumnFailsTheLink();
};

void AnonymousTest::signInGivesAGuestWithPlaceholderEmail()
{
    TestServer server;
    const Response r = server.post(QStringLiteral("/sign-in/anonymous"), {});
    QCOMPARE(r.status(), 200);
    const QJsonObject body = TestServer::json(r);
    QCOMPARE(body.keys(), (QStringList{"token", "user"}));
    const QJsonObject user = body.value("user").toObject();
    QCOMPARE(user.value("isAnonymous").toBool(), true);
    QCOMPARE(user.value("name").toString(), QStringLiteral("Anonymous"));
    QCOMPARE(user.value("emailVerified").toBool(), false);
    static const QRegularExpression placeholder(QStringLiteral("^[a-z0-9]{32}@anonymous\\.placeholder\\.invalid$"));
    QVERIFY2(placeholder.match(user.value("email").toString()).hasMatch(), qPrintable(user.value("email").toString()));
    QVERIFY(server.store->accountsByUser(user.value("id").toString()).isEmpty()); // guests have no account row
}

void AnonymousTest::signInAgainWhileAnonymousIsRefused()
{
    TestServer server;
    const Response first = server.post(QStringLiteral("/sign-in/anonymous"), {});
    const Response again = server.post(QStringLiteral("/sign-in/anonymous"), {}, server.sessionCookie(first));
    QCOMPARE(again.status(), 400);
    QCOMPARE(TestServer::json(again).value("code").toString(), QStringLiteral("ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY"));
    const Response bearer = server.auth->handle(TestServer::request(
        "POST", QStringLiteral("/sign-in/anonymous"), {}, {{"authorization", "Bearer " + first.header("set-auth-token")}}));
    QCOMPARE(bearer.status(), 400);
    // The guest's session is untouched.
    QCOMPARE(TestServer::json(server.get(QStringLiteral("/get-session"), server.sessionCookie(first)))
                 .value("user").toObject().value("isAnonymous").toBool(), true);
}

void AnonymousTest::signInWhileSignedInCreatesAnotherGuestWithoutLink()
{
    int links = 0;
    AnonymousOptions options;
    options.onLink = [&](const AnonymousLink &, QString *) { ++links; return true; };
    TestServer server(options);
    const Response ada = server.post(QStringLiteral("/sign-up/email"), kAda);
    const Response guest = server.post(QStringLiteral("/sign-in/anonymous"), {}, server.sessionCookie(ada));
    QCOMPARE(guest.status(), 200);
    QCOMPARE(links, 0);
    QVERIFY(guest.header("kernia-linked-guest").isEmpty());
    QVERIFY(server.store->userByEmail(QStringLiteral("ada@example.com")));
    QCOMPARE(TestServer::json(server.get(QStringLiteral("/get-session"), server.sessionCookie(ada)))
                 .value("user").toObject().value("email").toString(), QStringLiteral("ada@example.com"));
}

void AnonymousTest::emailDomainName()
{
    AnonymousOptions options;
    options.emailDomainName = QStringLiteral("Guests.Example.com");
    TestServer server(options);
    const QString email = TestServer::json(server.post(QStringLiteral("/sign-in/anonymous"), {}))
                              .value("user").toObject().value("email").toString();
    QVERIFY2(QRegularExpression(QStringLiteral("^temp-[a-z0-9]{32}@guests\\.example\\.com$")).match(email).hasMatch(),
             qPrintable(email));
}

void AnonymousTest::generateRandomEmailAndName()
{
    AnonymousOptions options;
    options.emailDomainName = QStringLiteral("ignored.example.com"); // generateRandomEmail wins
    int counter = 0;
    options.generateRandomEmail = [&] { return QStringLiteral("guest-%1@example.com").arg(++counter); };
    options.generateName = [](const Request &request) {
        return QStringLiteral("Guest from %1").arg(QString::fromUtf8(request.header("user-agent")));
    };
    TestServer server(options);
    Request request = TestServer::request("POST", QStringLiteral("/sign-in/anonymous"), {}, {{"user-agent", "probe"}});
    const QJsonObject user = TestServer::json(server.auth->handle(request)).value("user").toObject();
    QCOMPARE(user.value("email").toString(), QStringLiteral("guest-1@example.com"));
    QCOMPARE(user.value("name").toString(), QStringLiteral("Guest from probe"));
}

void AnonymousTest::invalidGeneratedEmailIsRefused()
{
    AnonymousOptions options;
    options.generateRandomEmail = [] { return QStringLiteral("not-an-email"); };
    TestServer server(options);
    const Response r = server.post(QStringLiteral("/sign-in/anonymous"), {});
    QCOMPARE(r.status(), 400);
    QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("INVALID_EMAIL_FORMAT"));
}

void AnonymousTest::deleteAnonymousUser()
{
    TestServer server;
    const Response guest = server.post(QStringLiteral("/sign-in/anonymous"), {});
    const QString id = TestServer::json(guest).value("user").toObject().value("id").toString();
    const Response r = server.post(QStringLiteral("/delete-anonymous-user"), {}, server.sessionCookie(guest));
    QCOMPARE(r.status(), 200);
    QCOMPARE(r.body(), QByteArray(R"({"success":true})"));
    QCOMPARE(r.cookies().size(), 3);
    QVERIFY(!server.store->userById(id));
    QVERIFY(server.store->sessionsByUser(id).isEmpty());
}

void AnonymousTest::deleteAnonymousUserRefusals()
{
    TestServer server;
    const Response none = server.post(QStringLiteral("/delete-anonymous-user"), {});
    QCOMPARE(none.status(), 401);
    const Response ada = server.post(QStringLiteral("/sign-up/email"), kAda);
    const Response real = server.post(QStringLiteral("/delete-anonymous-user"), {}, server.sessionCookie(ada));
    QCOMPARE(real.status(), 403);
    QCOMPARE(TestServer::json(real).value("code").toString(), QStringLiteral("USER_IS_NOT_ANONYMOUS"));

    AnonymousOptions options;
    options.disableDeleteAnonymousUser = true;
    TestServer keeping(options);
    const Response guest = keeping.post(QStringLiteral("/sign-in/anonymous"), {});
    const Response disabled = keeping.post(QStringLiteral("/delete-anonymous-user"), {}, keeping.sessionCookie(guest));
    QCOMPARE(disabled.status(), 400);
    QCOMPARE(TestServer::json(disabled).value("code").toString(), QStringLiteral("DELETE_ANONYMOUS_USER_DISABLED"));
}

void AnonymousTest::signUpLinksAndDeletesGuest()
{
    QList<QPair<QString, QString>> calls;
    bool payloadAsExpected = false;
    AnonymousOptions options;
    options.onLink = [&](const AnonymousLink &link, QString *) {
        calls.append({link.anonymous.user.id, link.newUser.user.id});
        payloadAsExpected = link.path == QLatin1String("/sign-up/email") && link.anonymous.user.isAnonymous
                            && !link.newUser.user.isAnonymous && link.newUser.session.userId == link.newUser.user.id;
        return true;
    };
    TestServer server(options);
    const Response guest = server.post(QStringLiteral("/sign-in/anonymous"), {});
    const QString guestId = TestServer::json(guest).value("user").toObject().value("id").toString();
    const Response signUp = server.post(QStringLiteral("/sign-up/email"), kAda, server.sessionCookie(guest));
    QCOMPARE(signUp.status(), 200);
    const QString adaId = TestServer::json(signUp).value("user").toObject().value("id").toString();
    QCOMPARE(calls, (QList<QPair<QString, QString>>{{guestId, adaId}}));
    QVERIFY(payloadAsExpected);
    // Kernia's extension: the answer names the guest it linked (a header, the JSON is Better Auth's).
    QCOMPARE(signUp.header("kernia-linked-guest"), guestId.toUtf8());
    QVERIFY(signUp.header("access-control-expose-headers").contains("kernia-linked-guest"));
    QVERIFY(guest.header("kernia-linked-guest").isEmpty());
    QVERIFY(!server.store->userById(guestId));
    QVERIFY(server.store->sessionsByUser(guestId).isEmpty());
    // The old guest cookie is dead and cleared; the new one works.
    const Response old = server.get(QStringLiteral("/get-session"), server.sessionCookie(guest));
    QCOMPARE(old.body(), QByteArray("null"));
    QCOMPARE(old.cookies().size(), 3);
    QCOMPARE(TestServer::json(server.get(QStringLiteral("/get-session"), server.sessionCookie(signUp)))
                 .value("user").toObject().value("id").toString(), adaId);
}

void AnonymousTest::signInToExistingAccountLinksWithBearer()
{
    int links = 0;
    AnonymousOptions options;
    options.onLink = [&](const AnonymousLink &link, QString *) {
        ++links;
        return link.path == QLatin1String("/sign-in/email");
    };
    TestServer server(options);
    QCOMPARE(server.post(QStringLiteral("/sign-up/email"), kAda).status(), 200);
    const Response guest = server.post(QStringLiteral("/sign-in/anonymous"), {});
    const QString guestId = TestServer::json(guest).value("user").toObject().value("id").toString();
    // A native client: bearer token, no cookie, no Origin.
    const Response signIn = server.auth->handle(TestServer::request(
        "POST", QStringLiteral("/sign-in/email"), QJsonDocument(kAdaSignIn).toJson(),
        {{"authorization", "Bearer " + guest.header("set-auth-token")}}));
    QCOMPARE(signIn.status(), 200);
    QCOMPARE(links, 1);
    QVERIFY(!server.store->userById(guestId));
    QVERIFY(!signIn.header("set-auth-token").isEmpty());
    QCOMPARE(signIn.header("kernia-linked-guest"), guestId.toUtf8());
    const QList<QByteArray> exposed = signIn.header("access-control-expose-headers").split(',');
    QVERIFY(std::any_of(exposed.begin(), exposed.end(), [](const QByteArray &h) { return h.trimmed() == "set-auth-token"; }));
    QVERIFY(std::any_of(exposed.begin(), exposed.end(), [](const QByteArray &h) { return h.trimmed() == "kernia-linked-guest"; }));
}

void AnonymousTest::disableDeleteKeepsGuest()
{
    int links = 0;
    AnonymousOptions options;
    options.disableDeleteAnonymousUser = true;
    options.onLink = [&](const AnonymousLink &, QString *) { ++links; return true; };
    TestServer server(options);
    const Response guest = server.post(QStringLiteral("/sign-in/anonymous"), {});
    const Response signUp = server.post(QStringLiteral("/sign-up/email"), kAda, server.sessionCookie(guest));
    QCOMPARE(signUp.status(), 200);
    QCOMPARE(links, 1);
    // Linked (on_link ran), though the guest was kept.
    QCOMPARE(signUp.header("kernia-linked-guest"), TestServer::json(guest).value("user").toObject().value("id").toString().toUtf8());
    QCOMPARE(TestServer::json(server.get(QStringLiteral("/get-session"), server.sessionCookie(guest)))
                 .value("user").toObject().value("isAnonymous").toBool(), true);
}

void AnonymousTest::failedSignInLeavesGuestIntact()
{
    int links = 0;
    AnonymousOptions options;
    options.onLink = [&](const AnonymousLink &, QString *) { ++links; return true; };
    TestServer server(options);
    server.post(QStringLiteral("/sign-up/email"), kAda);
    const Response guest = server.post(QStringLiteral("/sign-in/anonymous"), {});
    const Response wrong = server.post(QStringLiteral("/sign-in/email"),
                                       {{"email", "ada@example.com"}, {"password", "wrong-password"}},
                                       server.sessionCookie(guest));
    QCOMPARE(wrong.status(), 401);
    QVERIFY(wrong.header("kernia-linked-guest").isEmpty());
    const Response duplicate = server.post(QStringLiteral("/sign-up/email"), kAda, server.sessionCookie(guest));
    QCOMPARE(duplicate.status(), 422);
    QCOMPARE(links, 0);
    QCOMPARE(TestServer::json(server.get(QStringLiteral("/get-session"), server.sessionCookie(guest)))
                 .value("user").toObject().value("isAnonymous").toBool(), true);
}

void AnonymousTest::failingOnLinkRollsEverythingBack()
{
    AnonymousOptions options;
    options.onLink = [](const AnonymousLink &link, QString *error) {
        // A write that must disappear with the rollback, then a refusal.
        link.store.execTemplate(QStringLiteral("UPDATE cart SET user_id = :new_user_id WHERE user_id = :anonymous_user_id"),
                                {{"new_user_id", link.newUser.user.id}, {"anonymous_user_id", link.anonymous.user.id}});
        *error = QStringLiteral("the cart service is down");
        return false;
    };
    TestServer server(options);
    const Response guest = guestWithTeaInCart(server);
    const QString guestId = TestServer::json(guest).value("user").toObject().value("id").toString();

    const Response signUp = server.post(QStringLiteral("/sign-up/email"), kAda, server.sessionCookie(guest));
    QCOMPARE(signUp.status(), 500);
    QCOMPARE(TestServer::json(signUp).value("code").toString(), QStringLiteral("ACCOUNT_LINK_FAILED"));
    QVERIFY(signUp.cookies().isEmpty());
    QVERIFY(signUp.header("set-auth-token").isEmpty());
    QVERIFY(signUp.header("kernia-linked-guest").isEmpty());
    // No half-made account, the guest and its session are intact, and so is its cart.
    QVERIFY(!server.store->userByEmail(QStringLiteral("ada@example.com")));
    QVERIFY(server.store->userById(guestId));
    QCOMPARE(TestServer::json(server.get(QStringLiteral("/get-session"), server.sessionCookie(guest)))
                 .value("user").toObject().value("id").toString(), guestId);
    QCOMPARE(server.scalar(QStringLiteral("SELECT count(*) FROM cart WHERE user_id = :id"), {{"id", guestId}}), 1);
    QCOMPARE(server.scalar(QStringLiteral("SELECT count(*) FROM \"user\"")), 1);
}

void AnonymousTest::throwingOnLinkRollsEverythingBack()
{
    AnonymousOptions options;
    options.onLink = [](const AnonymousLink &, QString *) -> bool { throw std::runtime_error("boom"); };
    TestServer server(options);
    server.post(QStringLiteral("/sign-up/email"), kAda);
    const Response guest = server.post(QStringLiteral("/sign-in/anonymous"), {});
    const QString guestId = TestServer::json(guest).value("user").toObject().value("id").toString();
    const Response signIn = server.post(QStringLiteral("/sign-in/email"), kAdaSignIn, server.sessionCookie(guest));
    QCOMPARE(signIn.status(), 500);
    QCOMPARE(TestServer::json(signIn).value("code").toString(), QStringLiteral("ACCOUNT_LINK_FAILED"));
    QVERIFY(signIn.header("kernia-linked-guest").isEmpty());
    QVERIFY(server.store->userById(guestId));
    const QString adaId = server.store->userByEmail(QStringLiteral("ada@example.com"))->id;
    QCOMPARE(server.store->sessionsByUser(adaId).size(), 1); // only the sign-up's session
}

void AnonymousTest::concurrentLinksRunOnLinkOnce()
{
    QAtomicInt links = 0;
    AnonymousOptions options;
    options.onLink = [&](const AnonymousLink &, QString *) {
        links.fetchAndAddOrdered(1);
        QThread::msleep(50); // widen the window in which a second link could sneak in
        return true;
    };
    TestServer server(options);
    server.post(QStringLiteral("/sign-up/email"), kAda);
    const Response guest = server.post(QStringLiteral("/sign-in/anonymous"), {});
    const QByteArray cookie = server.sessionCookie(guest);

    QList<int> statuses(4);
    QList<QThread *> threads;
    for (int i = 0; i < statuses.size(); ++i) {
        threads << QThread::create([&, i] {
            statuses[i] = server.post(QStringLiteral("/sign-in/email"), kAdaSignIn, cookie).status();
        });
    }
    for (QThread *thread : threads)
        thread->start();
    for (QThread *thread : threads) {
        QVERIFY(thread->wait(30000));
        delete thread;
    }
    QCOMPARE(statuses, QList<int>(4, 200)); // the later ones sign in without a guest to link
    QCOMPARE(links.loadRelaxed(), 1);
}

void AnonymousTest::configTemplatesAndOnLinkSql()
{
    QString error;
    QVERIFY(validateTemplate(QStringLiteral("Guest {random:6}"), &error));
    QVERIFY(!validateTemplate(QStringLiteral("Guest {nope}"), &error));
    QVERIFY(error.contains(QStringLiteral("{nope}")));
    QVERIFY(QRegularExpression(QStringLiteral("^Guest [a-z0-9]{6}$")).match(expandTemplate(QStringLiteral("Guest {random:6}"))).hasMatch());

    AnonymousConfig config;
    config.nameTemplate = QStringLiteral("Guest {random:4}");
    config.emailTemplate = QStringLiteral("guest-{uuid}@example.com");
    config.onLinkSql = {QStringLiteral("UPDATE cart SET user_id = :new_user_id WHERE user_id = :anonymous_user_id")};
    TestServer server(anonymousOptionsFrom(config));
    const Response guest = guestWithTeaInCart(server);
    const QJsonObject guestUser = TestServer::json(guest).value("user").toObject();
    QVERIFY(guestUser.value("name").toString().startsWith(QStringLiteral("Guest ")));
    QVERIFY(guestUser.value("email").toString().startsWith(QStringLiteral("guest-")));

    const Response signUp = server.post(QStringLiteral("/sign-up/email"), kAda, server.sessionCookie(guest));
    QCOMPARE(signUp.status(), 200);
    const QString adaId = TestServer::json(signUp).value("user").toObject().value("id").toString();
    QCOMPARE(server.scalar(QStringLiteral("SELECT count(*) FROM cart WHERE user_id = :id"), {{"id", adaId}}), 1);
    QCOMPARE(server.scalar(QStringLiteral("SELECT count(*) FROM \"user\" WHERE \"isAnonymous\" = TRUE")), 0);
}

// A misspelt double-quoted column is an error on both backends. SQLite by default reads
// such a name as a string ("owner" = 'owner'): the statement would match nothing, and the
// guest's rows would silently stay behind while the sign-up succeeds and deletes the guest.
void AnonymousTest::onLinkSqlNamingNoColumnFailsTheLink()
{
    AnonymousConfig config;
    config.onLinkSql = {QStringLiteral("UPDATE cart SET user_id = :new_user_id WHERE \"owner\" = :anonymous_user_id")};
    TestServer server(anonymousOptionsFrom(config));
    const Response guest = guestWithTeaInCart(server);
    const QString guestId = TestServer::json(guest).value("user").toObject().value("id").toString();

    const Response signUp = server.post(QStringLiteral("/sign-up/email"), kAda, server.sessionCookie(guest));
    QCOMPARE(signUp.status(), 500);
    QCOMPARE(TestServer::json(signUp).value("code").toString(), QStringLiteral("ACCOUNT_LINK_FAILED"));
    QCOMPARE(server.scalar(QStringLiteral("SELECT count(*) FROM cart WHERE user_id = :id"), {{"id", guestId}}), 1);
    QCOMPARE(server.scalar(QStringLiteral("SELECT count(*) FROM \"user\" WHERE \"id\" = :id"), {{"id", guestId}}), 1);
    QCOMPARE(server.scalar(QStringLiteral("SELECT count(*) FROM \"user\" WHERE \"isAnonymous\" = FALSE")), 0);
}

QTEST_GUILESS_MAIN(AnonymousTest)
#include "tst_anonymous.moc"
