// The username plugin without sockets (endpoints.md §1, §9, §19; transcript 05): sign-up
// fields and their rules, normalisation, displayUsername, update-user, sign-in/username,
// is-username-available, options, the unique-violation races, and the anonymous link.
#include "test_server.h"

#include "auth/endpoint_context.h"
#include "plugins/username/username_plugin.h"

using namespace Kernia::Server;
using namespace Kernia::Server::Testing;

namespace {

// TestServer (bearer + anonymous) plus the username plugin.
struct UsernameServer : TestServer
{
    explicit UsernameServer(UsernameOptions username = {}, AnonymousOptions anonymous = {})
        : TestServer(std::move(anonymous))
    {
        auth->addPlugin(std::make_unique<UsernamePlugin>(std::move(username)));
    }

    Response signUp(const QString &email, const QJsonObject &extra = {}, const QByteArray &cookie = {})
    {
        QJsonObject body{{"name", "User"}, {"email", email}, {"password", "password123"}};
        for (auto it = extra.begin(); it != extra.end(); ++it)
            body.insert(it.key(), it.value());
        return post(QStringLiteral("/sign-up/email"), body, cookie);
    }

    Response signInUsername(const QString &username, const QString &password = QStringLiteral("password123"),
                            const QByteArray &cookie = {}, const QJsonObject &extra = {})
    {
        QJsonObject body{{"username", username}, {"password", password}};
        for (auto it = extra.begin(); it != extra.end(); ++it)
            body.insert(it.key(), it.value());
        return post(QStringLiteral("/sign-in/username"), body, cookie);
    }

    Response available(const QJsonValue &username)
    {
        return post(QStringLiteral("/is-username-available"), QJsonObject{{"username", username}});
    }

    QJsonObject sessionUser(const QByteArray &cookie)
    {
        return json(get(QStringLiteral("/get-session"), cookie)).value("user").toObject();
    }

    int userCount() { return scalar(QStringLiteral("SELECT count(*) FROM \"user\"")); }
};

QString code(const Response &response)
{
    return TestServer::json(response).value("code").toString();
}

QString message(const Response &response)
{
    return TestServer::json(response).value("message").toString();
}

QJsonObject userOf(const Response &response)
{
    return TestServer::json(response).value("user").toObject();
}

#define EXPECT_ERROR(response, wantStatus, wantCode)                                               \
    do {                                                                                           \
        const Response &r_ = (response);                                                           \
        QCOMPARE(r_.status(), wantStatus);                                                         \
        QCOMPARE(code(r_), QStringLiteral(wantCode));                                              \
        QVERIFY(r_.cookies().isEmpty());                                                           \
    } while (false)

// Simulates losing a race: after the username plugin's checks passed, the row about to be
// written asks for `steal`, a name another user already holds (as if that user had
// committed it in between). Registered after the username plugin.
class RacePlugin final : public Plugin
{
public:
    explicit RacePlugin(QString steal) : m_steal(std::move(steal)) {}
    QString id() const override { return QStringLiteral("race"); }
    void prepareNewUser(EndpointContext &context, User &user) override
    {
        user.username = m_steal;
        context.body.insert(QStringLiteral("username"), m_steal);
    }
    bool applyUserUpdate(EndpointContext &context, User &user) override
    {
        user.username = m_steal;
        context.body.insert(QStringLiteral("username"), m_steal);
        return true;
    }

private:
    QString m_steal;
};

} // namespace

class UsernameTest : public QObject
{
    Q_OBJECT

private slots:
    void isUsernameAvailable();
    void signUpNormalisesAndKeepsDisplayUsername();
    void signUpUsernameRules();
    void signUpDisplayUsernameRules();
    void signInUsername();
    void signInUsernameRefusals();
    void signInUsernameCallbackAndRememberMe();
    void updateUser();
    void updateUserRefusals();
    void options();
    void optionsImmutableAndValidationOrder();
    void signUpRaceIsStillUsernameTaken();
    void updateUserRaceIsStillUsernameTaken();
    void guestSignsUpWithUsername();
    void guestSignsInWithUsername();
    void disableDeleteKeepsGuestOnUsernameLinks();
    void failedUsernameSignInOrSignUpLeavesGuestIntact();
};

void UsernameTest::isUsernameAvailable()
{
    UsernameServer server;
    Response r = server.available("Carol_1");
    QCOMPARE(r.status(), 200);
    QCOMPARE(r.body(), QByteArray(R"({"available":true})"));
    QCOMPARE(server.signUp("carol@example.com", {{"username", "Carol_1"}}).status(), 200);
    QCOMPARE(server.available("CAROL_1").body(), QByteArray(R"({"available":false})"));
    QCOMPARE(server.available("carol_1").body(), QByteArray(R"({"available":false})"));
    QCOMPARE(server.available("carol_2").body(), QByteArray(R"({"available":true})"));

    r = server.available("ab");
    EXPECT_ERROR(r, 422, "USERNAME_TOO_SHORT");
    QCOMPARE(message(r), QStringLiteral("Username is too short"));
    r = server.available("bad name!");
    EXPECT_ERROR(r, 422, "INVALID_USERNAME");
    QCOMPARE(message(r), QStringLiteral("Username is invalid"));
    EXPECT_ERROR(server.available(QString(31, QLatin1Char('a'))), 422, "USERNAME_TOO_LONG");
    QCOMPARE(message(server.available(QString(31, QLatin1Char('a')))), QStringLiteral("Username is too long"));
    EXPECT_ERROR(server.available(""), 422, "INVALID_USERNAME");
    EXPECT_ERROR(server.available("abc\n"), 422, "INVALID_USERNAME"); // JS $ does not match before "\n"
    EXPECT_ERROR(server.available(42), 400, "VALIDATION_ERROR");
    r = server.post(QStringLiteral("/is-username-available"), {});
    EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
    QCOMPARE(message(r), QStringLiteral("[body.username] Invalid input: expected string, received undefined"));
}

void UsernameTest::signUpNormalisesAndKeepsDisplayUsername()
{
    UsernameServer server;
    const Response r = server.signUp("carol@example.com", {{"username", "Carol_1"}});
    QCOMPARE(r.status(), 200);
    QCOMPARE(TestServer::json(r).keys(), (QStringList{"token", "user"}));
    const QJsonObject user = userOf(r);
    QCOMPARE(user.value("username").toString(), QStringLiteral("carol_1"));
    QCOMPARE(user.value("displayUsername").toString(), QStringLiteral("Carol_1"));
    const std::optional<User> stored = server.store->userByUsername(QStringLiteral("carol_1"));
    QVERIFY(stored);
    QCOMPARE(stored->displayUsername, std::optional<QString>(QStringLiteral("Carol_1")));
    const QJsonObject fromSession = server.sessionUser(server.sessionCookie(r));
    QCOMPARE(fromSession.value("username").toString(), QStringLiteral("carol_1"));
    QCOMPARE(fromSession.value("displayUsername").toString(), QStringLiteral("Carol_1"));

    // Without the fields, the user has neither (absent from the JSON, as in the reference).
    const QJsonObject plain = userOf(server.signUp("plain@example.com"));
    QVERIFY(!plain.contains("username"));
    QVERIFY(!plain.contains("displayUsername"));
}

void UsernameTest::signUpUsernameRules()
{
    UsernameServer server;
    QCOMPARE(server.signUp("carol@example.com", {{"username", "carol_1"}}).status(), 200);

    Response r = server.signUp("c2@example.com", {{"username", "CAROL_1"}});
    EXPECT_ERROR(r, 400, "USERNAME_IS_ALREADY_TAKEN");
    QCOMPARE(message(r), QStringLiteral("Username is already taken. Please try another."));
    EXPECT_ERROR(server.signUp("c2@example.com", {{"username", "no spaces"}}), 400, "INVALID_USERNAME");
    EXPECT_ERROR(server.signUp("c2@example.com", {{"username", "abcdefghijabcdefghijabcdefghij1"}}), 400, "USERNAME_TOO_LONG");
    EXPECT_ERROR(server.signUp("c2@example.com", {{"username", "ab"}}), 400, "USERNAME_TOO_SHORT");
    EXPECT_ERROR(server.signUp("c2@example.com", {{"username", ""}}), 400, "USERNAME_TOO_SHORT");
    EXPECT_ERROR(server.signUp("c2@example.com", {{"username", "a!"}}), 400, "USERNAME_TOO_SHORT"); // length first
    EXPECT_ERROR(server.signUp("c2@example.com", {{"username", "ümlaut"}}), 400, "INVALID_USERNAME");
    r = server.signUp("c2@example.com", {{"username", 12345}});
    EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
    QCOMPARE(message(r), QStringLiteral("[body.username] Invalid input: expected string, received number"));
    // The username hooks run before the handler's own checks (a short password, a taken email).
    EXPECT_ERROR(server.post(QStringLiteral("/sign-up/email"),
                             {{"name", "X"}, {"email", "carol@example.com"}, {"password", "short"}, {"username", "Carol_1"}}),
                 400, "USERNAME_IS_ALREADY_TAKEN");
    QCOMPARE(server.userCount(), 1);

    // Boundaries: exactly 3 and exactly 30, with "_" and ".".
    QCOMPARE(userOf(server.signUp("three@example.com", {{"username", "a.b"}})).value("username").toString(), QStringLiteral("a.b"));
    const QString thirty = QStringLiteral("Abcdefghij_bcdefghij.bcdefghij");
    QCOMPARE(thirty.size(), 30);
    QCOMPARE(userOf(server.signUp("thirty@example.com", {{"username", thirty}})).value("username").toString(), thirty.toLower());
    // A null username is no username.
    const QJsonObject none = userOf(server.signUp("null@example.com", {{"username", QJsonValue::Null}}));
    QVERIFY(!none.contains("username"));
    QVERIFY(!none.contains("displayUsername"));
    // The email check still applies with a free username.
    EXPECT_ERROR(server.signUp("carol@example.com", {{"username", "free_name"}}), 422, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL");
}

void UsernameTest::signUpDisplayUsernameRules()
{
    UsernameServer server;
    // displayUsername alone, valid as a username: copied into username (lower-cased there).
    QJsonObject user = userOf(server.signUp("dave@example.com", {{"displayUsername", "Dave.D"}}));
    QCOMPARE(user.value("username").toString(), QStringLiteral("dave.d"));
    QCOMPARE(user.value("displayUsername").toString(), QStringLiteral("Dave.D"));
    // ... and then it must be free like any username.
    EXPECT_ERROR(server.signUp("dave2@example.com", {{"displayUsername", "DAVE.D"}}), 400, "USERNAME_IS_ALREADY_TAKEN");

    // displayUsername alone, not a valid username: kept, no username.
    user = userOf(server.signUp("erin@example.com", {{"displayUsername", "Erin the Great!"}}));
    QVERIFY(!user.contains("username"));
    QCOMPARE(user.value("displayUsername").toString(), QStringLiteral("Erin the Great!"));

    // Both given: each as given (username normalised), no copying.
    user = userOf(server.signUp("finn@example.com", {{"username", "Finn"}, {"displayUsername", "Finn (admin)"}}));
    QCOMPARE(user.value("username").toString(), QStringLiteral("finn"));
    QCOMPARE(user.value("displayUsername").toString(), QStringLiteral("Finn (admin)"));

    // username with a null or empty displayUsername: displayUsername := the raw username.
    user = userOf(server.signUp("gina@example.com", {{"username", "GiNa"}, {"displayUsername", QJsonValue::Null}}));
    QCOMPARE(user.value("displayUsername").toString(), QStringLiteral("GiNa"));
    user = userOf(server.signUp("hal@example.com", {{"username", "HAL_9000"}, {"displayUsername", ""}}));
    QCOMPARE(user.value("displayUsername").toString(), QStringLiteral("HAL_9000"));

    // A null username blocks the displayUsername copy (only an absent one is filled).
    user = userOf(server.signUp("ivy@example.com", {{"username", QJsonValue::Null}, {"displayUsername", "Ivy"}}));
    QVERIFY(!user.contains("username"));
    QCOMPARE(user.value("displayUsername").toString(), QStringLiteral("Ivy"));

    EXPECT_ERROR(server.signUp("x@example.com", {{"displayUsername", true}}), 400, "VALIDATION_ERROR");
}

void UsernameTest::signInUsername()
{
    UsernameServer server;
    const Response up = server.signUp("carol@example.com", {{"username", "Carol_1"}});
    const QString carolId = userOf(up).value("id").toString();

    const Response r = server.signInUsername("CAROL_1");
    QCOMPARE(r.status(), 200);
    const QJsonObject body = TestServer::json(r);
    QCOMPARE(body.keys(), (QStringList{"redirect", "token", "user"}));
    QCOMPARE(body.value("redirect").toBool(), false);
    QCOMPARE(body.value("user").toObject().value("id").toString(), carolId);
    QCOMPARE(body.value("user").toObject().value("username").toString(), QStringLiteral("carol_1"));
    QCOMPARE(body.value("user").toObject().value("displayUsername").toString(), QStringLiteral("Carol_1"));
    QVERIFY(r.header("location").isEmpty());
    QVERIFY(!r.header("set-auth-token").isEmpty());
    const auto cookie = r.cookie(server.auth->sessions().sessionTokenCookie());
    QVERIFY(cookie);
    QCOMPARE(cookie->attributes.maxAge, std::optional<qint64>(604800));
    QCOMPARE(server.sessionUser(server.sessionCookie(r)).value("id").toString(), carolId);
    QCOMPARE(server.store->sessionsByUser(carolId).size(), 2);
}

void UsernameTest::signInUsernameRefusals()
{
    UsernameServer server;
    server.signUp("carol@example.com", {{"username", "carol_1"}});
    // An anonymous user who set a username has no password: refused like any failure.
    const Response guest = server.post(QStringLiteral("/sign-in/anonymous"), {});
    QCOMPARE(server.post(QStringLiteral("/update-user"), {{"username", "guesty"}}, server.sessionCookie(guest)).status(), 200);

    Response r = server.signInUsername("carol_1", "wrong-password");
    EXPECT_ERROR(r, 401, "INVALID_USERNAME_OR_PASSWORD");
    QCOMPARE(message(r), QStringLiteral("Invalid username or password"));
    EXPECT_ERROR(server.signInUsername("nobody"), 401, "INVALID_USERNAME_OR_PASSWORD");
    EXPECT_ERROR(server.signInUsername("guesty"), 401, "INVALID_USERNAME_OR_PASSWORD");
    EXPECT_ERROR(server.signInUsername("carol_1", ""), 401, "INVALID_USERNAME_OR_PASSWORD");
    EXPECT_ERROR(server.signInUsername("", "password123"), 401, "INVALID_USERNAME_OR_PASSWORD");
    EXPECT_ERROR(server.signInUsername("a!"), 422, "USERNAME_TOO_SHORT");
    EXPECT_ERROR(server.signInUsername("bad name"), 422, "INVALID_USERNAME");
    EXPECT_ERROR(server.signInUsername(QString(31, QLatin1Char('c'))), 422, "USERNAME_TOO_LONG");
    EXPECT_ERROR(server.signInUsername("carol_1", QString(129, QLatin1Char('p'))), 400, "PASSWORD_TOO_LONG");

    r = server.post(QStringLiteral("/sign-in/username"), {{"username", "carol_1"}});
    EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
    QCOMPARE(message(r), QStringLiteral("[body.password] Invalid input: expected string, received undefined"));
    r = server.post(QStringLiteral("/sign-in/username"), {});
    EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
    QCOMPARE(message(r), QStringLiteral("[body.username] Invalid input: expected string, received undefined; "
                                        "[body.password] Invalid input: expected string, received undefined"));
    EXPECT_ERROR(server.signInUsername("carol_1", "password123", {}, {{"rememberMe", "yes"}}), 400, "VALIDATION_ERROR");
    // JSON only: a form body is 415.
    const Response form = server.auth->handle(TestServer::request(
        "POST", QStringLiteral("/sign-in/username"), "username=carol_1&password=password123",
        {{"origin", kOrigin}, {"content-type", "application/x-www-form-urlencoded"}}));
    QCOMPARE(form.status(), 415);
    // Untrusted callbackURL: 403 before anything else.
    EXPECT_ERROR(server.signInUsername("carol_1", "password123", {}, {{"callbackURL", "https://evil.example/x"}}),
                 403, "INVALID_CALLBACK_URL");
    // No session was issued by any of these.
    QCOMPARE(server.store->sessionsByUser(server.store->userByUsername("carol_1")->id).size(), 1);
}

void UsernameTest::signInUsernameCallbackAndRememberMe()
{
    UsernameServer server;
    server.signUp("carol@example.com", {{"username", "carol_1"}});
    Response r = server.signInUsername("carol_1", "password123", {}, {{"callbackURL", "/home"}});
    QCOMPARE(r.status(), 200);
    QJsonObject body = TestServer::json(r);
    QCOMPARE(body.keys(), (QStringList{"redirect", "token", "url", "user"}));
    QCOMPARE(body.value("redirect").toBool(), true);
    QCOMPARE(body.value("url").toString(), QStringLiteral("/home"));
    QCOMPARE(r.header("location"), QByteArray("/home"));

    r = server.signInUsername("carol_1", "password123", {}, {{"rememberMe", false}});
    QCOMPARE(r.status(), 200);
    const auto session = r.cookie(server.auth->sessions().sessionTokenCookie());
    QVERIFY(session);
    QVERIFY(!session->attributes.maxAge);
    QVERIFY(r.cookie(server.auth->sessions().dontRememberCookie()));
}

void UsernameTest::updateUser()
{
    UsernameServer server;
    server.signUp("dave@example.com", {{"displayUsername", "Dave.D"}});
    const Response carol = server.signUp("carol@example.com", {{"username", "Carol_1"}});
    const QByteArray cookie = server.sessionCookie(carol);

    // Own username again (any case): fine.
    Response r = server.post(QStringLiteral("/update-user"), {{"username", "CAROL_1"}}, cookie);
    QCOMPARE(r.status(), 200);
    QCOMPARE(r.body(), QByteArray(R"({"status":true})"));
    QVERIFY(!r.header("set-auth-token").isEmpty());

    // New username: normalised; displayUsername untouched.
    QCOMPARE(server.post(QStringLiteral("/update-user"), {{"username", "Carol_2"}}, cookie).status(), 200);
    QJsonObject user = server.sessionUser(cookie);
    QCOMPARE(user.value("username").toString(), QStringLiteral("carol_2"));
    QCOMPARE(user.value("displayUsername").toString(), QStringLiteral("Carol_1"));
    QVERIFY(!server.store->userByUsername(QStringLiteral("carol_1")));
    QCOMPARE(server.available("carol_1").body(), QByteArray(R"({"available":true})"));
    QCOMPARE(server.signInUsername("Carol_2").status(), 200);

    // displayUsername alone: only it changes.
    QCOMPARE(server.post(QStringLiteral("/update-user"), {{"displayUsername", "Queen Carol"}}, cookie).status(), 200);
    user = server.sessionUser(cookie);
    QCOMPARE(user.value("username").toString(), QStringLiteral("carol_2"));
    QCOMPARE(user.value("displayUsername").toString(), QStringLiteral("Queen Carol"));

    // Both, plus a core field.
    QCOMPARE(server.post(QStringLiteral("/update-user"),
                         {{"username", "C3"}, {"displayUsername", "C3!"}, {"name", "Caro"}}, cookie).status(), 400);
    QCOMPARE(server.post(QStringLiteral("/update-user"),
                         {{"username", "C_3"}, {"displayUsername", "C3!"}, {"name", "Caro"}}, cookie).status(), 200);
    user = server.sessionUser(cookie);
    QCOMPARE(user.value("username").toString(), QStringLiteral("c_3"));
    QCOMPARE(user.value("displayUsername").toString(), QStringLiteral("C3!"));
    QCOMPARE(user.value("name").toString(), QStringLiteral("Caro"));

    // null clears (as Better Auth does).
    QCOMPARE(server.post(QStringLiteral("/update-user"), {{"username", QJsonValue::Null}, {"displayUsername", QJsonValue::Null}},
                         cookie).status(), 200);
    user = server.sessionUser(cookie);
    QVERIFY(!user.contains("username"));
    QVERIFY(!user.contains("displayUsername"));

    // A user without a username can take one; anonymous users too (they stay anonymous).
    const Response guest = server.post(QStringLiteral("/sign-in/anonymous"), {});
    QCOMPARE(server.post(QStringLiteral("/update-user"), {{"username", "Guest_1"}}, server.sessionCookie(guest)).status(), 200);
    user = server.sessionUser(server.sessionCookie(guest));
    QCOMPARE(user.value("username").toString(), QStringLiteral("guest_1"));
    QVERIFY(!user.contains("displayUsername")); // update-user never copies
    QCOMPARE(user.value("isAnonymous").toBool(), true);
}

void UsernameTest::updateUserRefusals()
{
    UsernameServer server;
    server.signUp("dave@example.com", {{"displayUsername", "Dave.D"}});
    const Response carol = server.signUp("carol@example.com", {{"username", "carol_1"}});
    const QByteArray cookie = server.sessionCookie(carol);

    Response r = server.post(QStringLiteral("/update-user"), {{"username", "DAVE.D"}}, cookie);
    EXPECT_ERROR(r, 400, "USERNAME_IS_ALREADY_TAKEN");
    EXPECT_ERROR(server.post(QStringLiteral("/update-user"), {{"username", "ab"}}, cookie), 400, "USERNAME_TOO_SHORT");
    EXPECT_ERROR(server.post(QStringLiteral("/update-user"), {{"username", ""}}, cookie), 400, "USERNAME_TOO_SHORT");
    EXPECT_ERROR(server.post(QStringLiteral("/update-user"), {{"username", QString(31, QLatin1Char('x'))}}, cookie),
                 400, "USERNAME_TOO_LONG");
    EXPECT_ERROR(server.post(QStringLiteral("/update-user"), {{"username", "no spaces"}}, cookie), 400, "INVALID_USERNAME");
    EXPECT_ERROR(server.post(QStringLiteral("/update-user"), {{"username", 7}}, cookie), 400, "VALIDATION_ERROR");
    // A refused username also refuses the rest of the update.
    EXPECT_ERROR(server.post(QStringLiteral("/update-user"), {{"username", "dave.d"}, {"name", "Mallory"}}, cookie),
                 400, "USERNAME_IS_ALREADY_TAKEN");
    const QJsonObject user = server.sessionUser(cookie);
    QCOMPARE(user.value("username").toString(), QStringLiteral("carol_1"));
    QCOMPARE(user.value("name").toString(), QStringLiteral("User"));
    // No session: 401 as for every update-user.
    EXPECT_ERROR(server.post(QStringLiteral("/update-user"), {{"username", "free_one"}}), 401, "UNAUTHORIZED");
}

void UsernameTest::options()
{
    UsernameOptions options;
    options.minUsernameLength = 5;
    options.maxUsernameLength = 8;
    options.usernameValidator = [](const QString &name) { return !name.contains(QLatin1Char('x')); };
    options.disableUsernameNormalization = true;
    options.displayUsernameValidator = [](const QString &display) { return !display.contains(QLatin1Char('#')); };
    UsernameServer server(options);

    EXPECT_ERROR(server.signUp("a@example.com", {{"username", "abcd"}}), 400, "USERNAME_TOO_SHORT");
    EXPECT_ERROR(server.signUp("a@example.com", {{"username", "abcdefghi"}}), 400, "USERNAME_TOO_LONG");
    EXPECT_ERROR(server.signUp("a@example.com", {{"username", "abxde"}}), 400, "INVALID_USERNAME");
    EXPECT_ERROR(server.available("abxde"), 422, "INVALID_USERNAME");
    Response r = server.signUp("a@example.com", {{"username", "Ab cd!"}, {"displayUsername", "bad#"}});
    EXPECT_ERROR(r, 400, "INVALID_DISPLAY_USERNAME");
    QCOMPARE(message(r), QStringLiteral("Display username is invalid"));
    // No normalisation: stored and looked up exactly as typed.
    r = server.signUp("a@example.com", {{"username", "Ab cd!"}});
    QCOMPARE(r.status(), 200);
    QCOMPARE(userOf(r).value("username").toString(), QStringLiteral("Ab cd!"));
    QCOMPARE(server.available("ab cd!").body(), QByteArray(R"({"available":true})"));
    QCOMPARE(server.signInUsername("ab cd!").status(), 401);
    QCOMPARE(server.signInUsername("Ab cd!").status(), 200);
    EXPECT_ERROR(server.post(QStringLiteral("/update-user"), {{"displayUsername", "#1"}}, server.sessionCookie(r)),
                 400, "INVALID_DISPLAY_USERNAME");

    // displayUsername off: the field is never written and alone is no update.
    UsernameOptions noDisplay;
    noDisplay.displayUsername = false;
    UsernameServer plain(noDisplay);
    r = plain.signUp("b@example.com", {{"username", "Bobby"}, {"displayUsername", "Bob B"}});
    QCOMPARE(r.status(), 200);
    QCOMPARE(userOf(r).value("username").toString(), QStringLiteral("bobby"));
    QVERIFY(!userOf(r).contains("displayUsername"));
    r = plain.post(QStringLiteral("/update-user"), {{"displayUsername", "Bob B"}}, plain.sessionCookie(r));
    QCOMPARE(r.status(), 400);
    QCOMPARE(message(r), QStringLiteral("No fields to update"));

    // A custom normaliser.
    UsernameOptions custom;
    custom.usernameNormalization = [](const QString &name) { return name.toUpper(); };
    custom.displayUsernameNormalization = [](const QString &display) { return display.trimmed(); };
    UsernameServer upper(custom);
    r = upper.signUp("c@example.com", {{"username", "MiXed"}, {"displayUsername", "  Mixed  "}});
    QCOMPARE(userOf(r).value("username").toString(), QStringLiteral("MIXED"));
    QCOMPARE(userOf(r).value("displayUsername").toString(), QStringLiteral("Mixed"));
    QCOMPARE(upper.signInUsername("mixed").status(), 200);
}

void UsernameTest::optionsImmutableAndValidationOrder()
{
    UsernameOptions options;
    options.immutableUsername = true;
    options.usernameValidationOrder = UsernameOptions::ValidationOrder::PostNormalization;
    options.usernameNormalization = [](const QString &name) { return name.trimmed().toLower(); };
    UsernameServer server(options);

    // Post-normalisation: "  Ann  " is checked as "ann".
    const Response ann = server.signUp("ann@example.com", {{"username", "  Ann  "}});
    QCOMPARE(ann.status(), 200);
    QCOMPARE(userOf(ann).value("username").toString(), QStringLiteral("ann"));
    const QByteArray cookie = server.sessionCookie(ann);
    QCOMPARE(server.post(QStringLiteral("/update-user"), {{"username", "ANN"}}, cookie).status(), 200); // unchanged
    EXPECT_ERROR(server.post(QStringLiteral("/update-user"), {{"username", "anna"}}, cookie), 400, "USERNAME_IS_IMMUTABLE");
    QCOMPARE(message(server.post(QStringLiteral("/update-user"), {{"username", "anna"}}, cookie)),
             QStringLiteral("Username cannot be updated"));
    EXPECT_ERROR(server.post(QStringLiteral("/update-user"), {{"username", QJsonValue::Null}}, cookie), 400, "USERNAME_IS_IMMUTABLE");
    // A user without a username may still set one once.
    const Response bob = server.signUp("bob@example.com");
    QCOMPARE(server.post(QStringLiteral("/update-user"), {{"username", "bob"}}, server.sessionCookie(bob)).status(), 200);
    EXPECT_ERROR(server.post(QStringLiteral("/update-user"), {{"username", "bobby"}}, server.sessionCookie(bob)),
                 400, "USERNAME_IS_IMMUTABLE");
}

void UsernameTest::signUpRaceIsStillUsernameTaken()
{
    UsernameServer server;
    server.signUp("winner@example.com", {{"username", "racer"}});
    server.auth->addPlugin(std::make_unique<RacePlugin>(QStringLiteral("racer")));
    const Response r = server.signUp("loser@example.com", {{"username", "fresh_name"}});
    EXPECT_ERROR(r, 400, "USERNAME_IS_ALREADY_TAKEN"); // not 422 USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL
    QVERIFY(!server.store->userByEmail(QStringLiteral("loser@example.com")));
    QCOMPARE(server.userCount(), 1);
}

void UsernameTest::updateUserRaceIsStillUsernameTaken()
{
    UsernameServer server;
    server.signUp("winner@example.com", {{"username", "racer"}});
    const Response loser = server.signUp("loser@example.com", {{"username", "loser"}});
    server.auth->addPlugin(std::make_unique<RacePlugin>(QStringLiteral("racer")));
    const Response r = server.post(QStringLiteral("/update-user"), {{"username", "fresh_name"}}, server.sessionCookie(loser));
    EXPECT_ERROR(r, 400, "USERNAME_IS_ALREADY_TAKEN"); // not 500
    QCOMPARE(server.store->userByEmail(QStringLiteral("loser@example.com"))->username, std::optional<QString>(QStringLiteral("loser")));
}

void UsernameTest::guestSignsUpWithUsername()
{
    QList<QPair<QString, QString>> calls;
    QString linkedUsername;
    AnonymousOptions anonymous;
    anonymous.onLink = [&](const AnonymousLink &link, QString *) {
        calls.append({link.anonymous.user.id, link.newUser.user.id});
        linkedUsername = link.newUser.user.username.value_or(QString());
        return link.path == QLatin1String("/sign-up/email") && link.anonymous.user.isAnonymous;
    };
    UsernameServer server({}, anonymous);
    const Response guest = server.post(QStringLiteral("/sign-in/anonymous"), {});
    const QString guestId = userOf(guest).value("id").toString();

    const Response up = server.signUp("ada@example.com", {{"username", "Ada_L"}}, server.sessionCookie(guest));
    QCOMPARE(up.status(), 200);
    const QString adaId = userOf(up).value("id").toString();
    QCOMPARE(userOf(up).value("username").toString(), QStringLiteral("ada_l"));
    QCOMPARE(calls, (QList<QPair<QString, QString>>{{guestId, adaId}}));
    QCOMPARE(linkedUsername, QStringLiteral("ada_l"));
    QVERIFY(!server.store->userById(guestId));
    QVERIFY(server.store->sessionsByUser(guestId).isEmpty());
    QCOMPARE(server.get(QStringLiteral("/get-session"), server.sessionCookie(guest)).body(), QByteArray("null"));
    QCOMPARE(server.sessionUser(server.sessionCookie(up)).value("username").toString(), QStringLiteral("ada_l"));
}

void UsernameTest::guestSignsInWithUsername()
{
    QList<QPair<QString, QString>> calls;
    AnonymousOptions anonymous;
    anonymous.onLink = [&](const AnonymousLink &link, QString *) {
        calls.append({link.anonymous.user.id, link.newUser.user.id});
        return link.path == QLatin1String("/sign-in/username");
    };
    UsernameServer server({}, anonymous);
    const QString carolId = userOf(server.signUp("carol@example.com", {{"username", "carol_1"}})).value("id").toString();
    QVERIFY(calls.isEmpty());

    // Cookie.
    const Response guest = server.post(QStringLiteral("/sign-in/anonymous"), {});
    const QString guestId = userOf(guest).value("id").toString();
    const Response in = server.signInUsername("Carol_1", "password123", server.sessionCookie(guest));
    QCOMPARE(in.status(), 200);
    QCOMPARE(TestServer::json(in).value("redirect").toBool(), false);
    QCOMPARE(userOf(in).value("id").toString(), carolId);
    QCOMPARE(calls, (QList<QPair<QString, QString>>{{guestId, carolId}}));
    QVERIFY(!server.store->userById(guestId));
    QCOMPARE(server.get(QStringLiteral("/get-session"), server.sessionCookie(guest)).body(), QByteArray("null"));
    QCOMPARE(server.sessionUser(server.sessionCookie(in)).value("id").toString(), carolId);

    // Bearer, no cookie, no Origin (a native client).
    const Response guest2 = server.post(QStringLiteral("/sign-in/anonymous"), {});
    const QString guest2Id = userOf(guest2).value("id").toString();
    const Response bearer = server.auth->handle(TestServer::request(
        "POST", QStringLiteral("/sign-in/username"),
        QJsonDocument(QJsonObject{{"username", "carol_1"}, {"password", "password123"}}).toJson(),
        {{"authorization", "Bearer " + guest2.header("set-auth-token")}}));
    QCOMPARE(bearer.status(), 200);
    QCOMPARE(calls.size(), 2);
    QCOMPARE(calls.last(), qMakePair(guest2Id, carolId));
    QVERIFY(!server.store->userById(guest2Id));
    QCOMPARE(server.store->userById(carolId)->username, std::optional<QString>(QStringLiteral("carol_1")));
}

void UsernameTest::disableDeleteKeepsGuestOnUsernameLinks()
{
    int links = 0;
    AnonymousOptions anonymous;
    anonymous.disableDeleteAnonymousUser = true;
    anonymous.onLink = [&](const AnonymousLink &, QString *) { ++links; return true; };
    UsernameServer server({}, anonymous);

    // Into a new account (sign-up with a username) ...
    const Response guest = server.post(QStringLiteral("/sign-in/anonymous"), {});
    const QString guestId = userOf(guest).value("id").toString();
    QCOMPARE(server.signUp("dora@example.com", {{"username", "dora_1"}}, server.sessionCookie(guest)).status(), 200);
    // ... and into an existing one (sign-in/username).
    const Response guest2 = server.post(QStringLiteral("/sign-in/anonymous"), {});
    const QString guest2Id = userOf(guest2).value("id").toString();
    QCOMPARE(server.signInUsername("dora_1", "password123", server.sessionCookie(guest2)).status(), 200);

    QCOMPARE(links, 2); // on_link still runs for each
    for (const auto &[id, response] : {qMakePair(guestId, guest), qMakePair(guest2Id, guest2)}) {
        QVERIFY(server.store->userById(id));
        QCOMPARE(server.sessionUser(server.sessionCookie(response)).value("id").toString(), id);
    }
}

void UsernameTest::failedUsernameSignInOrSignUpLeavesGuestIntact()
{
    int links = 0;
    AnonymousOptions anonymous;
    anonymous.onLink = [&](const AnonymousLink &, QString *) { ++links; return true; };
    UsernameServer server({}, anonymous);
    server.signUp("carol@example.com", {{"username", "carol_1"}});
    const Response guest = server.post(QStringLiteral("/sign-in/anonymous"), {});
    const QByteArray cookie = server.sessionCookie(guest);
    const QString guestId = userOf(guest).value("id").toString();

    EXPECT_ERROR(server.signInUsername("carol_1", "wrong-password", cookie), 401, "INVALID_USERNAME_OR_PASSWORD");
    EXPECT_ERROR(server.signInUsername("nobody", "password123", cookie), 401, "INVALID_USERNAME_OR_PASSWORD");
    EXPECT_ERROR(server.signInUsername("a!", "password123", cookie), 422, "USERNAME_TOO_SHORT");
    EXPECT_ERROR(server.signUp("new@example.com", {{"username", "CAROL_1"}}, cookie), 400, "USERNAME_IS_ALREADY_TAKEN");
    EXPECT_ERROR(server.signUp("new@example.com", {{"username", "x"}}, cookie), 400, "USERNAME_TOO_SHORT");
    QCOMPARE(links, 0);
    QVERIFY(server.store->userById(guestId));
    const QJsonObject user = server.sessionUser(cookie);
    QCOMPARE(user.value("id").toString(), guestId);
    QCOMPARE(user.value("isAnonymous").toBool(), true);
    QVERIFY(!server.store->userByEmail(QStringLiteral("new@example.com")));
}

QTEST_GUILESS_MAIN(UsernameTest)
#include "tst_username.moc"
