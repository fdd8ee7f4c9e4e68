// The request pipeline without sockets: routing, body parsing, size limit, origin/CSRF
// rules, validation errors, the session endpoints' cookie handling, and the request
// loops' idle-spin policy.
#include "test_server.h"

#include "auth/json.h"
#include "auth/validation.h"
#include "http/idle_spin.h"

#include <QJsonDocument>
#include <QRandomGenerator>
#include <QThread>

#include <atomic>

using namespace Kernia::Server;
using namespace Kernia::Server::Testing;

class PipelineTest : public QObject
{
    Q_OBJECT

private slots:
    void timestampsMatchQtsIsoForm();
    void userAndSessionTextIsQtsSerialisation();
    void unknownPathWrongMethodAndTrailingSlashAre404();
    void postGetSessionIs405();
    void okEndpoint();
    void errorPageIsHtml();
    void malformedJsonIs400();
    void arrayBodyIsValidationError();
    void missingBodyIsValidationError();
    void oversizedBodyIs413();
    void unsupportedContentTypeIs415();
    void formEncodedSignUpWorks();
    void validationListsEveryIssue();
    void emailValidation_data();
    void emailValidation();
    void cookieWithoutOriginIsRejected();
    void untrustedOriginIsRejected();
    void crossSiteNavigationLoginIsBlocked();
    void trustedRefererIsAccepted();
    void untrustedCallbackUrlIsRejected();
    void trustedOriginWildcards_data();
    void trustedOriginWildcards();
    void ipWildcardOriginIsNoCsrfBypass();
    void signUpSignInAndGetSession();
    void wrongPasswordAndUnknownEmailLookAlike();
    void duplicateEmailIs422();
    void forgedCookieIsIgnoredWithoutClearing();
    void deadSessionClearsThreeCookies();
    void getSessionClearsLeftoverSessionData();
    void bearerRawAndSignedTokensWork();
    void rememberMeFalseSetsDontRemember();
    void idleSpinOnlyWhenNothingElseRuns();
    void idleSpinHasOneSlotAcrossThreads();
};

// The hand-rolled ISO formatter against Qt's: leap days, century rules, the ends of the
// range, and random instants in between.
void PipelineTest::timestampsMatchQtsIsoForm()
{
    QList<qint64> instants = {
        0, 1, 999, 86399999, 86400000,
        951782400000,     // 2000-02-29 (a leap day in a century year)
        4107542400000,    // 2100-03-01 (2100 is no leap year)
        1795460423460,    // 2026-11-23T11:20:23.460Z
        253402300799999,  // 9999-12-31T23:59:59.999Z
        253402300800000,  // year 10000: Qt's form
        -1, -86400001,    // before 1970: Qt's form
    };
    for (int i = 0; i < 20000; ++i)
        instants.append(qint64(QRandomGenerator::global()->bounded(quint64(253402300800000))));
    for (const qint64 ms : std::as_const(instants)) {
        const QDateTime time = QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC);
        QCOMPARE(isoTimestamp(time), time.toString(Qt::ISODateWithMs));
        // The zone a QDateTime carries does not matter: the output is UTC.
        QCOMPARE(isoTimestamp(time.toOffsetFromUtc(5 * 3600 + 1800)), time.toString(Qt::ISODateWithMs));
    }
    QCOMPARE(isoTimestamp(QDateTime()), QString());
}

// The user and session objects are written as text without QJsonObject. The oracle: the
// objects built field by field as QJsonObjects and serialised by QJsonDocument. Strings
// cover every ASCII character, quotes and backslashes, non-ASCII text, surrogate pairs
// and random UTF-16; optional fields both present and absent.
void PipelineTest::userAndSessionTextIsQtsSerialisation()
{
    QStringList strings = {QString(), QStringLiteral(""), QStringLiteral("\"q\" \\ / \\u0000"),
                           QStringLiteral("caf\u00e9 \u65e5\u672c \U0001F600 \u2028\u2029 \uFFFF"),
                           QStringLiteral("Mozilla/5.0 (X11; Linux x86_64)")};
    QString everyAscii;
    for (char16_t c = 0; c < 0x80; ++c) {
        everyAscii += QChar(c);
        strings.append(QString(QChar(c)));
    }
    strings.append(everyAscii);
    auto *random = QRandomGenerator::global();
    for (int i = 0; i < 300; ++i) {
        QString text;
        for (int n = int(random->bounded(12)); n > 0; --n) {
            // Mostly low code points (escapes), some anywhere below the surrogates, some pairs.
            const int kind = int(random->bounded(3));
            if (kind == 0)
                text += QChar(char16_t(random->bounded(0x80)));
            else if (kind == 1)
                text += QChar(char16_t(random->bounded(0xD800)));
            else
                text += QString::fromUcs4(std::u32string(1, char32_t(0x10000 + random->bounded(0xFFFFF))).data(), 1);
        }
        strings.append(text);
    }
    const auto pick = [&] { return strings.at(int(random->bounded(strings.size()))); };
    const QDateTime at = QDateTime::fromMSecsSinceEpoch(1795460423460, Qt::UTC);

    for (int i = 0; i < strings.size() * 2; ++i) {
        User user;
        user.id = pick();
        user.name = pick();
        user.email = pick();
        user.emailVerified = i % 2;
        user.isAnonymous = i % 3 == 0;
        user.createdAt = at;
        user.updatedAt = at.addMSecs(i);
        if (i % 4)
            user.image = pick();
        if (i % 5) {
            user.username = pick();
            user.displayUsername = pick();
        }
        QJsonObject expectedUser{
            {QStringLiteral("id"), user.id}, {QStringLiteral("name"), user.name},
            {QStringLiteral("email"), user.email}, {QStringLiteral("emailVerified"), user.emailVerified},
            {QStringLiteral("image"), user.image ? QJsonValue(*user.image) : QJsonValue(QJsonValue::Null)},
            {QStringLiteral("createdAt"), isoTimestamp(user.createdAt)},
            {QStringLiteral("updatedAt"), isoTimestamp(user.updatedAt)},
            {QStringLiteral("isAnonymous"), user.isAnonymous}};
        if (user.username) {
            expectedUser.insert(QStringLiteral("username"), *user.username);
            expectedUser.insert(QStringLiteral("displayUsername"), *user.displayUsername);
        }
        QByteArray userText;
        appendUserJson(userText, user);
        QCOMPARE(userText, QJsonDocument(expectedUser).toJson(QJsonDocument::Compact));
        QCOMPARE(userJson(user), expectedUser);

        Session session;
        session.id = pick();
        session.token = pick();
        session.userId = user.id;
        session.ipAddress = pick();
        session.userAgent = pick();
        session.createdAt = at;
        session.updatedAt = at.addSecs(i);
        session.expiresAt = at.addDays(7);
        const QJsonObject expectedSession{
            {QStringLiteral("id"), session.id}, {QStringLiteral("token"), session.token},
            {QStringLiteral("userId"), session.userId}, {QStringLiteral("ipAddress"), session.ipAddress},
            {QStringLiteral("userAgent"), session.userAgent},
            {QStringLiteral("createdAt"), isoTimestamp(session.createdAt)},
            {QStringLiteral("updatedAt"), isoTimestamp(session.updatedAt)},
            {QStringLiteral("expiresAt"), isoTimestamp(session.expiresAt)}};
        QByteArray sessionText;
        appendSessionJson(sessionText, session);
        QCOMPARE(sessionText, QJsonDocument(expectedSession).toJson(QJsonDocument::Compact));
        QCOMPARE(sessionJson(session), expectedSession);
    }
}

void PipelineTest::unknownPathWrongMethodAndTrailingSlashAre404()
{
    TestServer server;
    for (const auto &[method, path] : QList<QPair<QByteArray, QString>>{
             {"GET", QStringLiteral("/does-not-exist")},
             {"GET", QStringLiteral("/sign-in/email")},
             {"GET", QStringLiteral("/ok/")},
             {"OPTIONS", QStringLiteral("/sign-in/email")}}) {
        const Response r = server.auth->handle(TestServer::request(method, path));
        QCOMPARE(r.status(), 404);
        QVERIFY(r.body().isEmpty());
    }
}

void PipelineTest::postGetSessionIs405()
{
    TestServer server;
    const Response r = server.post(QStringLiteral("/get-session"), {});
    QCOMPARE(r.status(), 405);
    QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED"));
    // as every get-session answer (transcript 12)
    QCOMPARE(r.header("cache-control"), QByteArray("no-store"));
    QCOMPARE(r.header("pragma"), QByteArray("no-cache"));
}

void PipelineTest::okEndpoint()
{
    TestServer server;
    const Response r = server.get(QStringLiteral("/ok"));
    QCOMPARE(r.status(), 200);
    QCOMPARE(r.body(), QByteArray(R"({"ok":true})"));
}

void PipelineTest::errorPageIsHtml()
{
    TestServer server;
    const Response r = server.get(QStringLiteral("/error?error=%3Cb%3E"));
    QCOMPARE(r.status(), 200);
    // exactly Better Auth's content type (transcript 12); the page names its charset itself
    QCOMPARE(r.contentType(), QByteArray("text/html"));
    QVERIFY(r.body().startsWith("<!DOCTYPE html>"));
    QVERIFY(r.body().contains("<meta charset=\"utf-8\">"));
    QVERIFY(r.body().contains("&lt;b&gt;"));
}

void PipelineTest::malformedJsonIs400()
{
    TestServer server;
    const Response r = server.auth->handle(TestServer::request("POST", QStringLiteral("/sign-up/email"), R"({"name":"X",)"));
    QCOMPARE(r.status(), 400);
    QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("BAD_REQUEST"));
    QCOMPARE(TestServer::json(r).value("message").toString(), QStringLiteral("Invalid JSON in request body"));
}

void PipelineTest::arrayBodyIsValidationError()
{
    TestServer server;
    const Response r = server.auth->handle(TestServer::request("POST", QStringLiteral("/sign-in/email"), "[1,2]"));
    QCOMPARE(r.status(), 400);
    QCOMPARE(TestServer::json(r).value("message").toString(),
             QStringLiteral("[body] Invalid input: expected object, received array"));
}

void PipelineTest::missingBodyIsValidationError()
{
    TestServer server;
    // Better Auth answers 500 here (a bug in its username plugin); Kernia answers 400.
    const Response r = server.auth->handle(TestServer::request("POST", QStringLiteral("/sign-up/email")));
    QCOMPARE(r.status(), 400);
    QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("VALIDATION_ERROR"));
}

void PipelineTest::oversizedBodyIs413()
{
    AuthOptions options = TestServer::defaultOptions();
    options.maxBodyBytes = 4096;
    TestServer server({}, options);
    const QByteArray big = "{\"name\":\"" + QByteArray(5000, 'a') + "\"}";
    const Response r = server.auth->handle(TestServer::request("POST", QStringLiteral("/sign-up/email"), big));
    QCOMPARE(r.status(), 413);
    QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("PAYLOAD_TOO_LARGE"));
}

void PipelineTest::unsupportedContentTypeIs415()
{
    TestServer server;
    Request request = TestServer::request("POST", QStringLiteral("/sign-in/email"), R"({"email":"a@b.co","password":"x"})");
    request.setHeader("content-type", "text/plain");
    const Response r = server.auth->handle(request);
    QCOMPARE(r.status(), 415);
    QCOMPARE(TestServer::json(r).value("message").toString(),
             QStringLiteral("Content-Type \"text/plain\" is not allowed. Allowed types: application/x-www-form-urlencoded, application/json"));
}

void PipelineTest::formEncodedSignUpWorks()
{
    TestServer server;
    Request request = TestServer::request("POST", QStringLiteral("/sign-up/email"),
                                          "name=Form+User&email=form%40example.com&password=password123");
    request.setHeader("content-type", "application/x-www-form-urlencoded");
    const Response r = server.auth->handle(request);
    QCOMPARE(r.status(), 200);
    QCOMPARE(TestServer::json(r).value("user").toObject().value("name").toString(), QStringLiteral("Form User"));
}

void PipelineTest::validationListsEveryIssue()
{
    TestServer server;
    const Response r = server.post(QStringLiteral("/sign-up/email"), {{"password", ""}});
    QCOMPARE(r.status(), 400);
    QCOMPARE(TestServer::json(r).value("message").toString(),
             QStringLiteral("[body.name] Invalid input: expected string, received undefined; "
                            "[body.email] Invalid input: expected string, received undefined; "
                            "[body.password] Too small: expected string to have >=1 characters"));
}

void PipelineTest::emailValidation_data()
{
    QTest::addColumn<QString>("email");
    QTest::addColumn<bool>("valid");
    QTest::newRow("plain") << "bob@example.com" << true;
    QTest::newRow("plus") << "bob+tag@sub.example.org" << true;
    QTest::newRow("no-at") << "not-an-email" << false;
    QTest::newRow("no-tld") << "bob@example" << false;
    QTest::newRow("double-dot") << "bob..x@example.com" << false;
    QTest::newRow("leading-dot") << ".bob@example.com" << false;
    QTest::newRow("space") << "bob @example.com" << false;
}

void PipelineTest::emailValidation()
{
    QFETCH(QString, email);
    QFETCH(bool, valid);
    QCOMPARE(isValidEmail(email), valid);
}

void PipelineTest::cookieWithoutOriginIsRejected()
{
    TestServer server;
    const Response r = server.auth->handle(TestServer::request("POST", QStringLiteral("/sign-out"), "{}", {{"cookie", "foo=bar"}}));
    QCOMPARE(r.status(), 403);
    QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("MISSING_OR_NULL_ORIGIN"));
}

void PipelineTest::untrustedOriginIsRejected()
{
    TestServer server;
    const Response r = server.auth->handle(TestServer::request(
        "POST", QStringLiteral("/sign-in/email"), R"({"email":"a@b.co","password":"x"})", {{"origin", "https://evil.example"}}));
    QCOMPARE(r.status(), 403);
    QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("INVALID_ORIGIN"));
}

void PipelineTest::crossSiteNavigationLoginIsBlocked()
{
    TestServer server;
    const Response r = server.auth->handle(TestServer::request(
        "POST", QStringLiteral("/sign-in/email"), R"({"email":"a@b.co","password":"x"})",
        {{"sec-fetch-site", "cross-site"}, {"sec-fetch-mode", "navigate"}}));
    QCOMPARE(r.status(), 403);
    QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("CROSS_SITE_NAVIGATION_LOGIN_BLOCKED"));
}

void PipelineTest::trustedRefererIsAccepted()
{
    TestServer server;
    const Response r = server.auth->handle(TestServer::request(
        "POST", QStringLiteral("/sign-out"), "{}", {{"cookie", "foo=bar"}, {"referer", kOrigin + "/login"}}));
    QCOMPARE(r.status(), 200);
}

void PipelineTest::untrustedCallbackUrlIsRejected()
{
    TestServer server;
    const Response r = server.post(QStringLiteral("/sign-in/email"),
                                   {{"email", "a@b.co"}, {"password", "x"}, {"callbackURL", "https://evil.example/x"}});
    QCOMPARE(r.status(), 403);
    QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("INVALID_CALLBACK_URL"));
    const Response protocolRelative = server.post(QStringLiteral("/sign-in/email"),
                                                  {{"email", "a@b.co"}, {"password", "x"}, {"callbackURL", "//evil.example"}});
    QCOMPARE(protocolRelative.status(), 403);
}

// --trusted-origin patterns, as Better Auth 1.7.25 matches them (trusted-origins.ts):
// `*` any run of characters (dots included), `?` one character; a pattern with "://" is
// matched against the URL's origin, one without against its host (and port); a wildcard
// host of digits, dots and wildcards only admits an IPv4 address.
void PipelineTest::trustedOriginWildcards_data()
{
    QTest::addColumn<QString>("pattern");
    QTest::addColumn<QString>("url");
    QTest::addColumn<bool>("trusted");
    const auto row = [](const char *name, const char *pattern, const char *url, bool trusted) {
        QTest::newRow(name) << QString::fromLatin1(pattern) << QString::fromLatin1(url) << trusted;
    };
    // Review 2026-11-24: `*` used to cross dots into any host name.
    row("ip range: address", "http://192.168.*.*:3000", "http://192.168.1.5:3000", true);
    row("ip range: address, full URL", "http://192.168.*.*:3000", "http://192.168.1.5:3000/after?x=1", true);
    row("ip range: host name", "http://192.168.*.*:3000", "http://192.168.attacker.com:3000", false);
    row("ip range: longer name", "http://192.168.*.*:3000", "http://192.168.1.5.attacker.net:3000", false);
    row("ip range: other port", "http://192.168.*.*:3000", "http://192.168.1.5:3001", false);
    row("ip range: other scheme", "http://192.168.*.*:3000", "https://192.168.1.5:3000", false);
    row("ip range: outside", "http://192.168.*.*:3000", "http://10.0.0.1:3000", false);
    row("ip range, any port", "http://10.*:*", "http://10.1.2.3:8080", true);
    row("ip range, any port: name", "http://10.*:*", "http://10.evil.com:8080", false);
    row("ip range with ?", "http://10.0.0.?", "http://10.0.0.7", true);
    row("ip range with ?: name", "http://10.0.0.?", "http://10.0.0.a", false);
    // Host names keep Better Auth's subdomain matching (`*` crosses dots there too).
    row("subdomain", "https://*.example.com", "https://app.example.com", true);
    row("deeper subdomain", "https://*.example.com", "https://a.b.example.com", true);
    row("subdomain: apex", "https://*.example.com", "https://example.com", false);
    row("subdomain: suffix attack", "https://*.example.com", "https://app.example.com.evil.net", false);
    row("subdomain: other scheme", "https://*.example.com", "http://app.example.com", false);
    row("subdomain: other port", "https://*.example.com", "https://app.example.com:8443", false);
    row("subdomain: other site", "https://*.example.com", "https://evil.com", false);
    row("any port", "http://localhost:*", "http://localhost:5173", true);
    row("any port: other host", "http://localhost:*", "http://localhost.evil.com", false);
    row("one character", "https://app-?.example.com", "https://app-1.example.com", true);
    row("one character: two", "https://app-?.example.com", "https://app-12.example.com", false);
    row("brackets are literal", "https://[ab].example.com", "https://a.example.com", false);
    // Without a scheme: matched against the host (with a non-default port), any scheme.
    row("host only", "*.example.com", "https://app.example.com", true);
    row("host only: http too", "*.example.com", "http://app.example.com/x", true);
    row("host only: default port", "*.example.com", "https://app.example.com:443", true);
    row("host only: other port", "*.example.com", "https://app.example.com:8443", false);
    row("host only: apex", "*.example.com", "https://example.com", false);
    row("host only: ip range", "192.168.*.*", "http://192.168.1.5", true);
    row("host only: ip range, name", "192.168.*.*", "http://192.168.evil.com", false);
    row("host only: ip range, any port", "192.168.*.*", "http://192.168.1.5:3000", true);   // `*` takes ":3000"
    row("host only: ip range, port, name", "192.168.*.*", "http://192.168.1.evil.com:3000", false);
    // Exact entries stay exact.
    row("exact", "https://app.example.com", "https://app.example.com/x", true);
    row("exact: subdomain", "https://app.example.com", "https://x.app.example.com", false);
}

void PipelineTest::trustedOriginWildcards()
{
    QFETCH(QString, pattern);
    QFETCH(QString, url);
    QFETCH(bool, trusted);
    AuthOptions options = TestServer::defaultOptions();
    options.trustedOrigins = {pattern};
    const OriginPolicy policy(options);
    QCOMPARE(policy.isTrusted(url), trusted);
    QCOMPARE(policy.isSafeRedirect(url), trusted);
    QVERIFY(policy.isTrusted(QString::fromLatin1(kOrigin)));   // the base URL's origin, always
}

// The same through the pipeline: the Origin check of a cookie request and a callbackURL.
void PipelineTest::ipWildcardOriginIsNoCsrfBypass()
{
    AuthOptions options = TestServer::defaultOptions();
    options.trustedOrigins = {QStringLiteral("http://192.168.*.*:3000")};
    TestServer server({}, options);
    Response r = server.auth->handle(TestServer::request(
        "POST", QStringLiteral("/sign-out"), "{}", {{"cookie", "foo=bar"}, {"origin", "http://192.168.attacker.com:3000"}}));
    QCOMPARE(r.status(), 403);
    QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("INVALID_ORIGIN"));
    r = server.auth->handle(TestServer::request(
        "POST", QStringLiteral("/sign-out"), "{}", {{"cookie", "foo=bar"}, {"origin", "http://192.168.1.5:3000"}}));
    QCOMPARE(r.status(), 200);
    r = server.post(QStringLiteral("/sign-in/email"), {{"email", "a@b.co"}, {"password", "x"},
                                                       {"callbackURL", "http://192.168.1.5.attacker.net:3000/x"}});
    QCOMPARE(r.status(), 403);
    QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("INVALID_CALLBACK_URL"));
}

void PipelineTest::signUpSignInAndGetSession()
{
    TestServer server;
    const Response signUp = server.post(QStringLiteral("/sign-up/email"),
                                        {{"name", "Ada"}, {"email", "Ada@Example.com"}, {"password", "password123"}});
    QCOMPARE(signUp.status(), 200);
    QCOMPARE(TestServer::json(signUp).value("user").toObject().value("email").toString(), QStringLiteral("ada@example.com"));
    QVERIFY(!signUp.header("set-auth-token").isEmpty());

    const Response signIn = server.post(QStringLiteral("/sign-in/email"),
                                        {{"email", "ada@example.com"}, {"password", "password123"}, {"callbackURL", "/home"}});
    QCOMPARE(signIn.status(), 200);
    const QJsonObject body = TestServer::json(signIn);
    QCOMPARE(body.value("redirect").toBool(), true);
    QCOMPARE(body.value("url").toString(), QStringLiteral("/home"));
    QCOMPARE(signIn.header("location"), QByteArray("/home"));

    const Response session = server.get(QStringLiteral("/get-session"), server.sessionCookie(signIn));
    QCOMPARE(session.status(), 200);
    QCOMPARE(session.header("cache-control"), QByteArray("no-store"));
    QCOMPARE(TestServer::json(session).value("session").toObject().value("token").toString(),
             body.value("token").toString());
}

void PipelineTest::wrongPasswordAndUnknownEmailLookAlike()
{
    TestServer server;
    server.post(QStringLiteral("/sign-up/email"), {{"name", "Ada"}, {"email", "ada@example.com"}, {"password", "password123"}});
    const Response wrong = server.post(QStringLiteral("/sign-in/email"), {{"email", "ada@example.com"}, {"password", "nope-nope"}});
    const Response unknown = server.post(QStringLiteral("/sign-in/email"), {{"email", "who@example.com"}, {"password", "nope-nope"}});
    QCOMPARE(wrong.status(), 401);
    QCOMPARE(unknown.status(), 401);
    QCOMPARE(wrong.body(), unknown.body());
    const Response invalid = server.post(QStringLiteral("/sign-in/email"), {{"email", "nobody"}, {"password", "x"}});
    QCOMPARE(TestServer::json(invalid).value("code").toString(), QStringLiteral("INVALID_EMAIL"));
}

void PipelineTest::duplicateEmailIs422()
{
    TestServer server;
    const QJsonObject body{{"name", "Ada"}, {"email", "ada@example.com"}, {"password", "password123"}};
    QCOMPARE(server.post(QStringLiteral("/sign-up/email"), body).status(), 200);
    const Response again = server.post(QStringLiteral("/sign-up/email"), body);
    QCOMPARE(again.status(), 422);
    QCOMPARE(TestServer::json(again).value("code").toString(), QStringLiteral("USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"));
}

void PipelineTest::forgedCookieIsIgnoredWithoutClearing()
{
    TestServer server;
    const Response signIn = server.post(QStringLiteral("/sign-in/anonymous"), {});
    QByteArray cookie = server.sessionCookie(signIn);
    cookie[cookie.indexOf('.') + 3] = cookie[cookie.indexOf('.') + 3] == 'A' ? 'B' : 'A';
    const Response forged = server.get(QStringLiteral("/get-session"), cookie);
    QCOMPARE(forged.body(), QByteArray("null"));
    QVERIFY(forged.cookies().isEmpty());
    const Response truncated = server.get(QStringLiteral("/get-session"), server.sessionCookie(signIn).chopped(10));
    QCOMPARE(truncated.body(), QByteArray("null"));
    QVERIFY(truncated.cookies().isEmpty());
}

void PipelineTest::deadSessionClearsThreeCookies()
{
    TestServer server;
    const Response signIn = server.post(QStringLiteral("/sign-in/anonymous"), {});
    const QByteArray cookie = server.sessionCookie(signIn);
    QCOMPARE(server.post(QStringLiteral("/sign-out"), {}, cookie).status(), 200);
    const Response after = server.get(QStringLiteral("/get-session"), cookie);
    QCOMPARE(after.body(), QByteArray("null"));
    QCOMPARE(after.cookies().size(), 3);
    for (const ResponseCookie &c : after.cookies())
        QCOMPARE(c.attributes.maxAge, std::optional<qint64>(0));
}

// Kernia has no cookie cache, so a session_data cookie is always a leftover (of a Better
// Auth deployment with the cache on, say): get-session expires it and its chunks, with or
// without a session, exactly as Better Auth 1.7.25 does with the cache off (protocol
// README §2.4; the headers below are what that server sends).
void PipelineTest::getSessionClearsLeftoverSessionData()
{
    const auto setCookies = [](const Response &r) {
        QList<QByteArray> lines;
        for (const auto &[name, value] : r.wireHeaders()) {
            if (name.toLower() == "set-cookie")
                lines << value;
        }
        return lines;
    };
    const QByteArray clear = "=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax";
    TestServer server;
    const QByteArray session = server.sessionCookie(server.post(QStringLiteral("/sign-in/anonymous"), {}));

    // Without a session: null, and the leftover expired.
    Response r = server.get(QStringLiteral("/get-session"), "better-auth.session_data=abc");
    QCOMPARE(r.body(), QByteArray("null"));
    QCOMPARE(setCookies(r), (QList<QByteArray>{"better-auth.session_data" + clear}));
    // With a live session: the session, and the leftover expired (no session cookie set).
    r = server.get(QStringLiteral("/get-session"), session + "; better-auth.session_data=abc");
    QVERIFY(TestServer::json(r).contains("session"));
    QCOMPARE(setCookies(r), (QList<QByteArray>{"better-auth.session_data" + clear}));
    // Chunks (<name>.0, .1, ...) go too; the plain name first, then by index.
    r = server.get(QStringLiteral("/get-session"),
                   session + "; better-auth.session_data.1=def; better-auth.session_data=; better-auth.session_data.0=abc");
    QCOMPARE(setCookies(r), (QList<QByteArray>{"better-auth.session_data" + clear, "better-auth.session_data.0" + clear,
                                               "better-auth.session_data.1" + clear}));
    // An empty one without chunks is nothing to clear; "01" is no chunk index.
    r = server.get(QStringLiteral("/get-session"), session + "; better-auth.session_data=; better-auth.session_data.01=x");
    QCOMPARE(setCookies(r), QList<QByteArray>());
    // A signed token of a dead session: the three clearing cookies, the chunks after
    // session_data (Better Auth's deleteSessionCookie).
    QCOMPARE(server.post(QStringLiteral("/sign-out"), {}, session).status(), 200);
    r = server.get(QStringLiteral("/get-session"), session + "; better-auth.session_data.0=abc");
    QCOMPARE(r.body(), QByteArray("null"));
    QCOMPARE(setCookies(r), (QList<QByteArray>{"better-auth.session_token" + clear, "better-auth.session_data" + clear,
                                               "better-auth.session_data.0" + clear,
                                               "better-auth.dont_remember" + clear}));

    // https base URL: the __Secure- names, with Secure; an unprefixed leftover is not
    // this server's cookie.
    AuthOptions options = TestServer::defaultOptions();
    options.baseUrl = QUrl(QStringLiteral("https://auth.example.com"));
    TestServer secure({}, options);
    r = secure.get(QStringLiteral("/get-session"), "__Secure-better-auth.session_data=abc; better-auth.session_data=abc");
    QCOMPARE(setCookies(r), (QList<QByteArray>{"__Secure-better-auth.session_data=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax"}));
}

void PipelineTest::bearerRawAndSignedTokensWork()
{
    TestServer server;
    const Response signIn = server.post(QStringLiteral("/sign-in/anonymous"), {});
    const QByteArray signedToken = signIn.header("set-auth-token");
    const QByteArray rawToken = TestServer::json(signIn).value("token").toString().toUtf8();
    for (const QByteArray &token : {signedToken, rawToken}) {
        const Response r = server.auth->handle(TestServer::request("GET", QStringLiteral("/get-session"), {},
                                                                   {{"authorization", "Bearer " + token}}));
        QCOMPARE(TestServer::json(r).value("session").toObject().value("token").toString(), QString::fromUtf8(rawToken));
    }
    QByteArray tampered = signedToken;
    tampered[5] = tampered[5] == 'a' ? 'b' : 'a';
    const Response r = server.auth->handle(TestServer::request("GET", QStringLiteral("/get-session"), {},
                                                               {{"authorization", "Bearer " + tampered}}));
    QCOMPARE(r.body(), QByteArray("null"));
}

void PipelineTest::rememberMeFalseSetsDontRemember()
{
    TestServer server;
    server.post(QStringLiteral("/sign-up/email"), {{"name", "Ada"}, {"email", "ada@example.com"}, {"password", "password123"}});
    const Response r = server.post(QStringLiteral("/sign-in/email"),
                                   {{"email", "ada@example.com"}, {"password", "password123"}, {"rememberMe", false}});
    QCOMPARE(r.status(), 200);
    const auto token = r.cookie("better-auth.session_token");
    QVERIFY(token);
    QVERIFY(!token->attributes.maxAge.has_value());
    const auto dontRemember = r.cookie("better-auth.dont_remember");
    QVERIFY(dontRemember);
    QVERIFY(dontRemember->value.startsWith("true."));
}

void PipelineTest::idleSpinOnlyWhenNothingElseRuns()
{
    IdleSpin off(0);
    QVERIFY(!off.enabled());
    QVERIFY(!off.tryClaim());

    IdleSpin spin(200);
    QVERIFY(spin.tryClaim());
    QVERIFY(!spin.tryClaim());                    // one spinning loop at a time
    QVERIFY(spin.keepSpinning(0));
    QVERIFY(spin.keepSpinning(199'999));
    QVERIFY(!spin.keepSpinning(200'000));         // the window has passed
    spin.requestStarted();                        // another loop (or a hash) is working
    QVERIFY(!spin.keepSpinning(0));
    spin.release();
    QVERIFY(!spin.tryClaim());                    // not while a request is in progress
    spin.requestFinished();
    QCOMPARE(spin.requestsInProgress(), 0);
    QVERIFY(spin.tryClaim());                     // released slots can be claimed again
    spin.release();
}

void PipelineTest::idleSpinHasOneSlotAcrossThreads()
{
    IdleSpin spin(200);
    std::atomic<int> holders{0};
    std::atomic<int> mostAtOnce{0};
    std::atomic<bool> start{false};
    QList<QThread *> threads;
    for (int t = 0; t < 4; ++t) {
        threads.append(QThread::create([&] {
            while (!start.load()) {}
            for (int i = 0; i < 20000; ++i) {
                if (!spin.tryClaim())
                    continue;
                const int now = holders.fetch_add(1) + 1;
                int seen = mostAtOnce.load();
                while (now > seen && !mostAtOnce.compare_exchange_weak(seen, now)) {}
                holders.fetch_sub(1);
                spin.release();
            }
        }));
        threads.last()->start();
    }
    start = true;
    for (QThread *thread : std::as_const(threads)) {
        QVERIFY(thread->wait(30000));
        delete thread;
    }
    QCOMPARE(mostAtOnce.load(), 1);
}

QTEST_GUILESS_MAIN(PipelineTest)
#include "tst_pipeline.moc"
