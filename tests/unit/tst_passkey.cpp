// The passkey plugin through AuthServer::handle, with the software authenticator of
// soft_authenticator.h: registration, sign-in, management, error codes and the anonymous
// link via passkey (transcript 13).
#include "test_server.h"

#include "plugins/passkey/passkey_plugin.h"
#include "soft_authenticator.h"

#include <QJsonArray>

using namespace Kernia::Server;
using namespace Kernia::Server::Testing;
using namespace Kernia::Server::WebAuthn;

namespace {

const QString kRpId = QStringLiteral("127.0.0.1");
const QString kWebOrigin = QString::fromLatin1(kOrigin);
const QByteArray kChallengeCookie = "better-auth.better-auth-passkey";

struct PasskeyServer : TestServer
{
    explicit PasskeyServer(AnonymousOptions anonymous = {}, PasskeyOptions passkey = {})
        : TestServer(std::move(anonymous))
    {
        auth->addPlugin(std::make_unique<PasskeyPlugin>(std::move(passkey)));
    }

    // "name=value" of the challenge cookie a response set.
    static QByteArray challengeCookie(const Response &response)
    {
        const auto c = response.cookie(kChallengeCookie);
        return c ? c->name + '=' + c->value : QByteArray();
    }

    Response postWith(const QString &path, const QJsonObject &body, const QByteArray &cookie,
                      const QByteArray &origin = kOrigin)
    {
        QList<QPair<QByteArray, QByteArray>> headers;
        if (!origin.isEmpty())
            headers.append(qMakePair(QByteArray("origin"), origin));
        if (!cookie.isEmpty())
            headers.append(qMakePair(QByteArray("cookie"), cookie));
        return auth->handle(request("POST", path, QJsonDocument(body).toJson(QJsonDocument::Compact), headers));
    }

    QByteArray signUp(const QString &email, QString *userId = nullptr)
    {
        const Response r = post(QStringLiteral("/sign-up/email"),
                                {{QStringLiteral("name"), QStringLiteral("Pat")}, {QStringLiteral("email"), email},
                                 {QStringLiteral("password"), QStringLiteral("password123")}});
        if (r.status() != 200)
            qFatal("sign-up failed: %s", r.body().constData());
        if (userId)
            *userId = json(r).value(QStringLiteral("user")).toObject().value(QStringLiteral("id")).toString();
        return sessionCookie(r);
    }

    // Full registration; returns the verify-registration response.
    Response registerPasskey(const QByteArray &session, const SoftAuthenticator &a, const QString &fmt = QStringLiteral("none"),
                             const QJsonObject &extra = {})
    {
        const Response options = get(QStringLiteral("/passkey/generate-register-options"), session);
        if (options.status() != 200)
            return options;
        const QString challenge = json(options).value(QStringLiteral("challenge")).toString();
        QJsonObject body = extra;
        body.insert(QStringLiteral("response"), a.makeRegistration(challenge, kWebOrigin, kRpId, fmt));
        return postWith(QStringLiteral("/passkey/verify-registration"), body, session + "; " + challengeCookie(options));
    }

    struct Challenge { QString challenge; QByteArray cookie; };
    Challenge authenticationChallenge(const QByteArray &session = {})
    {
        const Response r = get(QStringLiteral("/passkey/generate-authenticate-options"), session);
        return {json(r).value(QStringLiteral("challenge")).toString(), challengeCookie(r)};
    }

    Response authenticate(const QJsonObject &assertion, const QByteArray &challengeCookie, const QByteArray &session = {},
                          const QByteArray &origin = kOrigin)
    {
        QByteArray cookie = challengeCookie;
        if (!session.isEmpty())
            cookie = session + "; " + cookie;
        return postWith(QStringLiteral("/passkey/verify-authentication"), {{QStringLiteral("response"), assertion}}, cookie, origin);
    }
    struct Guest { QByteArray cookie; QString id; };
    Guest signInAnonymous()
    {
        const Response r = post(QStringLiteral("/sign-in/anonymous"), {});
        return {sessionCookie(r), json(r).value(QStringLiteral("user")).toObject().value(QStringLiteral("id")).toString()};
    }

    // The guest, still signed in, signs in with the passkey on `a`.
    Response authenticateAsGuest(const Guest &guest, SoftAuthenticator &a)
    {
        const Challenge c = authenticationChallenge(guest.cookie);
        return authenticate(a.makeAssertion(c.challenge, kWebOrigin, kRpId), c.cookie, guest.cookie);
    }
};

QString code(const Response &r) { return TestServer::json(r).value(QStringLiteral("code")).toString(); }

} // namespace

class TestPasskey : public QObject
{
    Q_OBJECT

private slots:
    void registerOptionsShapeAndCookie()
    {
        PasskeyServer server;
        QCOMPARE(server.get(QStringLiteral("/passkey/generate-register-options")).status(), 401);
        const QByteArray session = server.signUp(QStringLiteral("pat@example.com"));
        const Response r = server.get(QStringLiteral("/passkey/generate-register-options"), session);
        QCOMPARE(r.status(), 200);
        const QJsonObject o = TestServer::json(r);
        QCOMPARE(base64UrlDecode(o.value(QStringLiteral("challenge")).toString())->size(), 32);
        QCOMPARE(o.value(QStringLiteral("rp")).toObject(),
                 (QJsonObject{{QStringLiteral("name"), QStringLiteral("Kernia")}, {QStringLiteral("id"), kRpId}}));
        const QJsonObject user = o.value(QStringLiteral("user")).toObject();
        QVERIFY(QRegularExpression(QStringLiteral("^[a-z0-9]{32}$")).match(QString::fromLatin1(*base64UrlDecode(user.value(QStringLiteral("id")).toString()))).hasMatch());
        QCOMPARE(user.value(QStringLiteral("name")).toString(), QStringLiteral("pat@example.com"));
        QCOMPARE(user.value(QStringLiteral("displayName")).toString(), QStringLiteral("pat@example.com"));
        QCOMPARE(QJsonDocument(o.value(QStringLiteral("pubKeyCredParams")).toArray()).toJson(QJsonDocument::Compact),
                 QByteArray(R"([{"alg":-8,"type":"public-key"},{"alg":-7,"type":"public-key"},{"alg":-257,"type":"public-key"}])"));
        QCOMPARE(o.value(QStringLiteral("timeout")).toInt(), 60000);
        QCOMPARE(o.value(QStringLiteral("attestation")).toString(), QStringLiteral("none"));
        QCOMPARE(o.value(QStringLiteral("excludeCredentials")).toArray().size(), 0);
        QCOMPARE(o.value(QStringLiteral("authenticatorSelection")).toObject(),
                 (QJsonObject{{QStringLiteral("residentKey"), QStringLiteral("preferred")},
                              {QStringLiteral("userVerification"), QStringLiteral("preferred")},
                              {QStringLiteral("requireResidentKey"), false}}));
        QCOMPARE(o.value(QStringLiteral("extensions")).toObject(), (QJsonObject{{QStringLiteral("credProps"), true}}));
        QCOMPARE(o.value(QStringLiteral("hints")).toArray().size(), 0);
        const auto cookie = r.cookie(kChallengeCookie);
        QVERIFY(cookie);
        QCOMPARE(cookie->attributes.maxAge, std::optional<qint64>(300));
        const QByteArray signedValue = Cookies::decodeURIComponent(cookie->value);
        const auto token = Cookies::verifySigned(signedValue, kSecret);
        QVERIFY(token);
        QVERIFY(QRegularExpression(QStringLiteral("^[A-Za-z0-9_-]{32}$")).match(QString::fromLatin1(*token)).hasMatch());
        const auto row = server.store->verificationByIdentifier(QString::fromLatin1(*token));
        QVERIFY(row);
        const QJsonObject value = QJsonDocument::fromJson(row->value.toUtf8()).object();
        QCOMPARE(value.value(QStringLiteral("type")).toString(), QStringLiteral("registration"));
        QCOMPARE(value.value(QStringLiteral("expectedChallenge")), o.value(QStringLiteral("challenge")));
        QVERIFY(value.value(QStringLiteral("context")).isNull());

        const Response q = server.get(QStringLiteral("/passkey/generate-register-options?authenticatorAttachment=platform&name=my-key"), session);
        QCOMPARE(q.status(), 200);
        QCOMPARE(TestServer::json(q).value(QStringLiteral("user")).toObject().value(QStringLiteral("name")).toString(), QStringLiteral("my-key"));
        QCOMPARE(TestServer::json(q).value(QStringLiteral("authenticatorSelection")).toObject().value(QStringLiteral("authenticatorAttachment")).toString(),
                 QStringLiteral("platform"));
        const Response bad = server.get(QStringLiteral("/passkey/generate-register-options?authenticatorAttachment=usb"), session);
        QCOMPARE(bad.status(), 400);
        QCOMPARE(code(bad), QStringLiteral("VALIDATION_ERROR"));
    }

    void registerListAuthenticate_data()
    {
        QTest::addColumn<qint64>("alg");
        QTest::addColumn<QString>("fmt");
        QTest::newRow("ES256 none") << qint64(CoseAlg::ES256) << QStringLiteral("none");
        QTest::newRow("EdDSA packed") << qint64(CoseAlg::EdDSA) << QStringLiteral("packed");
        QTest::newRow("RS256 packed") << qint64(CoseAlg::RS256) << QStringLiteral("packed");
    }
    void registerListAuthenticate()
    {
        QFETCH(qint64, alg);
        QFETCH(QString, fmt);
        PasskeyServer server;
        QString userId;
        const QByteArray session = server.signUp(QStringLiteral("pat@example.com"), &userId);
        SoftAuthenticator a = SoftAuthenticator::make(alg);
        a.countUp = alg != CoseAlg::ES256; // ES256: an authenticator without a counter (always 0)

        const Response reg = server.registerPasskey(session, a, fmt, {{QStringLiteral("name"), QStringLiteral("  soft key  ")}});
        QVERIFY2(reg.status() == 200, reg.body().constData());
        const QJsonObject row = TestServer::json(reg);
        QCOMPARE(row.value(QStringLiteral("name")).toString(), QStringLiteral("soft key"));
        QCOMPARE(row.value(QStringLiteral("publicKey")).toString(), QString::fromLatin1(a.coseKey().toBase64()));
        QCOMPARE(row.value(QStringLiteral("userId")).toString(), userId);
        QCOMPARE(row.value(QStringLiteral("credentialID")).toString(), a.credentialIdB64());
        QCOMPARE(row.value(QStringLiteral("counter")).toInt(), 0);
        QCOMPARE(row.value(QStringLiteral("deviceType")).toString(), QStringLiteral("singleDevice"));
        QCOMPARE(row.value(QStringLiteral("backedUp")).toBool(true), false);
        QCOMPARE(row.value(QStringLiteral("transports")).toString(), QStringLiteral("internal,hybrid"));
        QCOMPARE(row.value(QStringLiteral("aaguid")).toString(), QStringLiteral("00000000-0000-0000-0000-000000000000"));
        QVERIFY(QRegularExpression(QStringLiteral("^[A-Za-z0-9]{32}$")).match(row.value(QStringLiteral("id")).toString()).hasMatch());
        QVERIFY(!row.contains(QStringLiteral("session")));
        QVERIFY(!reg.cookie(server.auth->sessions().sessionTokenCookie()));

        const Response list = server.get(QStringLiteral("/passkey/list-user-passkeys"), session);
        QCOMPARE(list.status(), 200);
        QCOMPARE(QJsonDocument::fromJson(list.body()).array(), QJsonArray{row});
        // the registered credential is excluded from the next registration, allowed when signed in
        const Response next = server.get(QStringLiteral("/passkey/generate-register-options"), session);
        QCOMPARE(TestServer::json(next).value(QStringLiteral("excludeCredentials")).toArray().at(0).toObject(),
                 (QJsonObject{{QStringLiteral("id"), a.credentialIdB64()},
                              {QStringLiteral("transports"), QJsonArray{QStringLiteral("internal"), QStringLiteral("hybrid")}},
                              {QStringLiteral("type"), QStringLiteral("public-key")}}));
        const Response signedIn = server.get(QStringLiteral("/passkey/generate-authenticate-options"), session);
        QCOMPARE(TestServer::json(signedIn).value(QStringLiteral("allowCredentials")).toArray().size(), 1);

        // sign in (no session)
        const auto c = server.authenticationChallenge();
        const Response opts = server.get(QStringLiteral("/passkey/generate-authenticate-options"));
        QCOMPARE(TestServer::json(opts).keys(), (QStringList{QStringLiteral("challenge"), QStringLiteral("rpId"),
                                                               QStringLiteral("timeout"), QStringLiteral("userVerification")}));
        const QJsonObject assertion = a.makeAssertion(c.challenge, kWebOrigin, kRpId);
        const Response auth = server.authenticate(assertion, c.cookie);
        QVERIFY2(auth.status() == 200, auth.body().constData());
        const QJsonObject body = TestServer::json(auth);
        QCOMPARE(body.value(QStringLiteral("user")).toObject().value(QStringLiteral("id")).toString(), userId);
        QCOMPARE(body.value(QStringLiteral("session")).toObject().value(QStringLiteral("userId")).toString(), userId);
        const QByteArray newSession = server.sessionCookie(auth);
        QVERIFY(!newSession.isEmpty());
        QCOMPARE(auth.header("set-auth-token").isEmpty(), false);
        QCOMPARE(TestServer::json(server.get(QStringLiteral("/get-session"), newSession)).value(QStringLiteral("user")).toObject()
                     .value(QStringLiteral("id")).toString(), userId);
        QCOMPARE(server.store->passkeyByCredentialId(a.credentialIdB64())->counter, qint64(a.counter));

        // replays: the same challenge cookie is spent; a fresh challenge does not match
        const Response again = server.authenticate(assertion, c.cookie);
        QCOMPARE(again.status(), 400);
        QCOMPARE(code(again), QStringLiteral("CHALLENGE_NOT_FOUND"));
        const auto c2 = server.authenticationChallenge();
        const Response replay = server.authenticate(assertion, c2.cookie);
        QCOMPARE(replay.status(), 400);
        QCOMPARE(code(replay), QStringLiteral("AUTHENTICATION_FAILED"));
        // and a second real sign-in works (counter increases, or stays 0 for ES256 here)
        const auto c3 = server.authenticationChallenge();
        QCOMPARE(server.authenticate(a.makeAssertion(c3.challenge, kWebOrigin, kRpId), c3.cookie).status(), 200);
    }

    void registrationErrors()
    {
        PasskeyServer server;
        QString patId;
        const QByteArray pat = server.signUp(QStringLiteral("pat@example.com"), &patId);
        const QByteArray eve = server.signUp(QStringLiteral("eve@example.com"));
        SoftAuthenticator a = SoftAuthenticator::make(CoseAlg::ES256);
        const QString reg = QStringLiteral("/passkey/verify-registration");

        auto options = [&](const QByteArray &session) { return server.get(QStringLiteral("/passkey/generate-register-options"), session); };
        auto challengeOf = [](const Response &r) { return TestServer::json(r).value(QStringLiteral("challenge")).toString(); };
        auto body = [&](const QString &challenge, const QString &origin = kWebOrigin, const QString &rpId = kRpId) {
            return QJsonObject{{QStringLiteral("response"), a.makeRegistration(challenge, origin, rpId)}};
        };

        // no session
        Response o = options(pat);
        Response r = server.postWith(reg, body(challengeOf(o)), PasskeyServer::challengeCookie(o));
        QCOMPARE(r.status(), 401);
        // no challenge cookie
        r = server.postWith(reg, body(challengeOf(o)), pat);
        QCOMPARE(r.status(), 400);
        QCOMPARE(code(r), QStringLiteral("CHALLENGE_NOT_FOUND"));
        // tampered challenge cookie
        r = server.postWith(reg, body(challengeOf(o)), pat + "; " + PasskeyServer::challengeCookie(o).replace("%3D", "%3E"));
        QCOMPARE(code(r), QStringLiteral("CHALLENGE_NOT_FOUND"));
        // no Origin header (and no configured origin)
        r = server.postWith(reg, body(challengeOf(o)), QByteArray(), QByteArray());
        QCOMPARE(r.status(), 401); // no cookie at all: the session check comes first
        // challenge issued to eve, used by pat
        const Response eveOptions = options(eve);
        r = server.postWith(reg, body(challengeOf(eveOptions)), pat + "; " + PasskeyServer::challengeCookie(eveOptions));
        QCOMPARE(r.status(), 401);
        QCOMPARE(code(r), QStringLiteral("YOU_ARE_NOT_ALLOWED_TO_REGISTER_THIS_PASSKEY"));
        // an authentication challenge is not a registration challenge
        const auto authChallenge = server.authenticationChallenge(pat);
        r = server.postWith(reg, body(authChallenge.challenge), pat + "; " + authChallenge.cookie);
        QCOMPARE(r.status(), 400);
        QCOMPARE(code(r), QStringLiteral("CHALLENGE_NOT_FOUND"));
        // verification failures: 400 FAILED_TO_VERIFY_REGISTRATION, never 500
        struct Case { const char *what; std::function<QJsonObject(const QString &)> make; };
        const QList<Case> cases{
            {"wrong challenge", [&](const QString &) { return body(base64UrlEncode(Crypto::randomBytes(32))); }},
            {"wrong origin", [&](const QString &c) { return body(c, QStringLiteral("https://evil.example")); }},
            {"wrong rp id", [&](const QString &c) { return body(c, kWebOrigin, QStringLiteral("evil.example")); }},
            {"garbage CBOR", [&](const QString &c) {
                 QJsonObject cred = a.makeRegistration(c, kWebOrigin, kRpId);
                 QJsonObject resp = cred.value(QStringLiteral("response")).toObject();
                 resp.insert(QStringLiteral("attestationObject"), base64UrlEncode(QByteArray::fromHex("bf5bffffffffffffffff")));
                 cred.insert(QStringLiteral("response"), resp);
                 return QJsonObject{{QStringLiteral("response"), cred}}; }},
            {"not an object", [&](const QString &) { return QJsonObject{{QStringLiteral("response"), QStringLiteral("x")}}; }},
            {"missing", [&](const QString &) { return QJsonObject(); }},
        };
        for (const Case &c : cases) {
            o = options(pat);
            r = server.postWith(reg, c.make(challengeOf(o)), pat + "; " + PasskeyServer::challengeCookie(o));
            QVERIFY2(r.status() == 400, c.what);
            QVERIFY2(code(r) == QLatin1String("FAILED_TO_VERIFY_REGISTRATION"), c.what);
        }
        o = options(pat);
        r = server.postWith(reg, body(challengeOf(o)), pat + "; " + PasskeyServer::challengeCookie(o), QByteArray());
        QCOMPARE(r.status(), 403); // cookies without Origin: the router's CSRF rule
        QVERIFY(server.store->passkeysByUser(patId).isEmpty());

        // the same credential twice
        QCOMPARE(server.registerPasskey(pat, a).status(), 200);
        r = server.registerPasskey(pat, a);
        QCOMPARE(r.status(), 400);
        QCOMPARE(code(r), QStringLiteral("FAILED_TO_VERIFY_REGISTRATION"));
        // expired challenge row
        o = options(pat);
        const auto token = Cookies::verifySigned(Cookies::decodeURIComponent(o.cookie(kChallengeCookie)->value), kSecret);
        auto row = server.store->consumeVerification(QString::fromLatin1(*token));
        row->expiresAt = nowUtc().addSecs(-1);
        server.store->createVerification(*row);
        SoftAuthenticator b = SoftAuthenticator::make(CoseAlg::ES256);
        r = server.postWith(reg, QJsonObject{{QStringLiteral("response"), b.makeRegistration(challengeOf(o), kWebOrigin, kRpId)}},
                            pat + "; " + PasskeyServer::challengeCookie(o));
        QCOMPARE(code(r), QStringLiteral("CHALLENGE_NOT_FOUND"));
    }

    void createSessionOnRegistration()
    {
        int links = 0;
        AnonymousOptions anonymous;
        anonymous.onLink = [&](const AnonymousLink &, QString *) { ++links; return true; };
        PasskeyServer server(anonymous);
        const auto [guestCookie, guestId] = server.signInAnonymous();
        SoftAuthenticator a = SoftAuthenticator::make(CoseAlg::ES256);
        const Response r = server.registerPasskey(guestCookie, a, QStringLiteral("none"), {{QStringLiteral("createSession"), true}});
        QVERIFY2(r.status() == 200, r.body().constData());
        const QJsonObject o = TestServer::json(r);
        QCOMPARE(o.value(QStringLiteral("user")).toObject().value(QStringLiteral("id")).toString(), guestId);
        QCOMPARE(o.value(QStringLiteral("session")).toObject().value(QStringLiteral("userId")).toString(), guestId);
        QCOMPARE(o.value(QStringLiteral("credentialID")).toString(), a.credentialIdB64());
        QVERIFY(!server.sessionCookie(r).isEmpty());
        QCOMPARE(links, 0); // registration never links
        QVERIFY(server.store->userById(guestId));
    }

    void authenticationErrors()
    {
        PasskeyServer server;
        const QByteArray pat = server.signUp(QStringLiteral("pat@example.com"));
        SoftAuthenticator a = SoftAuthenticator::make(CoseAlg::ES256);
        a.countUp = true;
        QCOMPARE(server.registerPasskey(pat, a).status(), 200);
        const QString path = QStringLiteral("/passkey/verify-authentication");

        // transcript 08
        Response r = server.postWith(path, {{QStringLiteral("response"), QJsonObject{{QStringLiteral("id"), QStringLiteral("nope")}}}},
                                     QByteArray(), QByteArray());
        QCOMPARE(r.status(), 400);
        QCOMPARE(r.body(), QByteArray(R"({"message":"origin missing"})"));
        r = server.postWith(path, {{QStringLiteral("response"), QJsonObject{{QStringLiteral("id"), QStringLiteral("nope")}}}}, QByteArray());
        QCOMPARE(r.status(), 400);
        QCOMPARE(code(r), QStringLiteral("CHALLENGE_NOT_FOUND"));
        auto c = server.authenticationChallenge();
        r = server.authenticate(QJsonObject{{QStringLiteral("id"), QStringLiteral("nope")}, {QStringLiteral("rawId"), QStringLiteral("nope")},
                                            {QStringLiteral("type"), QStringLiteral("public-key")}, {QStringLiteral("response"), QJsonObject()}},
                                c.cookie);
        QCOMPARE(r.status(), 401);
        QCOMPARE(code(r), QStringLiteral("PASSKEY_NOT_FOUND"));
        r = server.postWith(path, {}, QByteArray());
        QCOMPARE(r.status(), 400);
        QCOMPARE(code(r), QStringLiteral("VALIDATION_ERROR"));
        // a registration challenge is not an authentication challenge
        const Response regOptions = server.get(QStringLiteral("/passkey/generate-register-options"), pat);
        r = server.authenticate(a.makeAssertion(TestServer::json(regOptions).value(QStringLiteral("challenge")).toString(), kWebOrigin, kRpId),
                                PasskeyServer::challengeCookie(regOptions));
        QCOMPARE(code(r), QStringLiteral("CHALLENGE_NOT_FOUND"));

        struct Case { const char *what; int status; std::function<QJsonObject(const QString &)> make; };
        const QList<Case> cases{
            {"wrong origin", 400, [&](const QString &ch) { return a.makeAssertion(ch, QStringLiteral("https://evil.example"), kRpId); }},
            {"wrong rp id", 400, [&](const QString &ch) { return a.makeAssertion(ch, kWebOrigin, QStringLiteral("evil.example")); }},
            {"wrong challenge", 400, [&](const QString &) { return a.makeAssertion(base64UrlEncode("x"), kWebOrigin, kRpId); }},
            {"user not present", 400, [&](const QString &ch) { return a.assertionJson(a.makeAssertionParts(ch, kWebOrigin, kRpId, 0x04)); }},
            {"bad signature", 401, [&](const QString &ch) {
                 SoftAuthenticator::Assertion p = a.makeAssertionParts(ch, kWebOrigin, kRpId);
                 p.signature[8] = char(p.signature[8] ^ 0x10);
                 return a.assertionJson(p); }},
            {"counter not increasing", 400, [&](const QString &ch) {
                 a.counter = 0;
                 return a.assertionJson(a.makeAssertionParts(ch, kWebOrigin, kRpId)); }},
            {"garbage authenticatorData", 400, [&](const QString &ch) {
                 QJsonObject j = a.makeAssertion(ch, kWebOrigin, kRpId);
                 QJsonObject resp = j.value(QStringLiteral("response")).toObject();
                 resp.insert(QStringLiteral("authenticatorData"), base64UrlEncode(QByteArray::fromHex("ffff")));
                 j.insert(QStringLiteral("response"), resp);
                 return j; }},
        };
        a.counter = 5;   // one good sign-in stores counter 6
        c = server.authenticationChallenge();
        QCOMPARE(server.authenticate(a.makeAssertion(c.challenge, kWebOrigin, kRpId), c.cookie).status(), 200);
        QCOMPARE(server.store->passkeyByCredentialId(a.credentialIdB64())->counter, 6);
        for (const Case &k : cases) {
            c = server.authenticationChallenge();
            r = server.authenticate(k.make(c.challenge), c.cookie);
            QVERIFY2(r.status() == k.status, k.what);
            QVERIFY2(code(r) == QLatin1String("AUTHENTICATION_FAILED"), k.what);
            QVERIFY2(!r.cookie(server.auth->sessions().sessionTokenCookie()), k.what);
        }
        // still works afterwards with a higher counter; UV is not required
        a.counter = 100;
        c = server.authenticationChallenge();
        r = server.authenticate(a.assertionJson(a.makeAssertionParts(c.challenge, kWebOrigin, kRpId, 0x01)), c.cookie);
        QVERIFY2(r.status() == 200, r.body().constData());
    }

    void requireUserVerificationOption()
    {
        PasskeyOptions options;
        options.requireUserVerification = true;
        PasskeyServer server({}, options);
        const QByteArray pat = server.signUp(QStringLiteral("pat@example.com"));
        SoftAuthenticator a = SoftAuthenticator::make(CoseAlg::EdDSA);
        QCOMPARE(server.registerPasskey(pat, a).status(), 200);
        auto c = server.authenticationChallenge();
        QCOMPARE(server.authenticate(a.assertionJson(a.makeAssertionParts(c.challenge, kWebOrigin, kRpId, 0x01)), c.cookie).status(), 400);
        c = server.authenticationChallenge();
        QCOMPARE(server.authenticate(a.assertionJson(a.makeAssertionParts(c.challenge, kWebOrigin, kRpId, 0x05)), c.cookie).status(), 200);
    }

    void nativeAppOriginsAndRpId()
    {
        PasskeyOptions options;
        options.rpId = QStringLiteral("example.com");
        options.rpName = QStringLiteral("Example");
        options.origins = {QStringLiteral("android:apk-key-hash:Zm9v"), QStringLiteral("https://example.com")};
        PasskeyServer server({}, options);
        const QByteArray pat = server.signUp(QStringLiteral("pat@example.com"));
        const Response o = server.get(QStringLiteral("/passkey/generate-register-options"), pat);
        QCOMPARE(TestServer::json(o).value(QStringLiteral("rp")).toObject(),
                 (QJsonObject{{QStringLiteral("name"), QStringLiteral("Example")}, {QStringLiteral("id"), QStringLiteral("example.com")}}));
        SoftAuthenticator a = SoftAuthenticator::make(CoseAlg::ES256);
        const QJsonObject body{{QStringLiteral("response"),
                                a.makeRegistration(TestServer::json(o).value(QStringLiteral("challenge")).toString(),
                                                   QStringLiteral("android:apk-key-hash:Zm9v"), QStringLiteral("example.com"))}};
        const Response r = server.postWith(QStringLiteral("/passkey/verify-registration"), body, pat + "; " + PasskeyServer::challengeCookie(o));
        QVERIFY2(r.status() == 200, r.body().constData());

        const Response ao = server.get(QStringLiteral("/passkey/generate-authenticate-options"));
        QCOMPARE(TestServer::json(ao).value(QStringLiteral("rpId")).toString(), QStringLiteral("example.com"));
        // The request Origin is irrelevant once origins are configured; without a cookie no
        // Origin header is needed at all (native app), but the challenge cookie is a cookie:
        // the router then wants a trusted Origin (Better Auth's CSRF rule).
        auto c = server.authenticationChallenge();
        QCOMPARE(server.authenticate(a.makeAssertion(c.challenge, kWebOrigin, QStringLiteral("example.com")), c.cookie).status(), 400);
        c = server.authenticationChallenge();
        QCOMPARE(server.authenticate(a.makeAssertion(c.challenge, QStringLiteral("android:apk-key-hash:Zm9v"), QStringLiteral("example.com")),
                                     c.cookie).status(), 200);
        c = server.authenticationChallenge();
        QCOMPARE(server.authenticate(a.makeAssertion(c.challenge, QStringLiteral("https://example.com"), kRpId), c.cookie).status(), 400);
    }

    void listUpdateDelete()
    {
        PasskeyServer server;
        const QByteArray pat = server.signUp(QStringLiteral("pat@example.com"));
        const QByteArray eve = server.signUp(QStringLiteral("eve@example.com"));
        SoftAuthenticator a = SoftAuthenticator::make(CoseAlg::ES256);
        const QString id = TestServer::json(server.registerPasskey(pat, a)).value(QStringLiteral("id")).toString();
        QCOMPARE(server.get(QStringLiteral("/passkey/list-user-passkeys")).status(), 401);
        QCOMPARE(QJsonDocument::fromJson(server.get(QStringLiteral("/passkey/list-user-passkeys"), eve).body()).array().size(), 0);

        const QString update = QStringLiteral("/passkey/update-passkey");
        Response r = server.post(update, {{QStringLiteral("id"), id}, {QStringLiteral("name"), QStringLiteral("  laptop ")}}, pat);
        QCOMPARE(r.status(), 200);
        QCOMPARE(TestServer::json(r).value(QStringLiteral("passkey")).toObject().value(QStringLiteral("name")).toString(), QStringLiteral("laptop"));
        QCOMPARE(server.store->passkeyById(id)->name, std::optional<QString>(QStringLiteral("laptop")));
        r = server.post(update, {{QStringLiteral("id"), id}, {QStringLiteral("name"), QStringLiteral("   ")}}, pat);
        QCOMPARE(r.status(), 400);
        QCOMPARE(code(r), QStringLiteral("VALIDATION_ERROR"));
        r = server.post(update, {{QStringLiteral("id"), QStringLiteral("nope")}, {QStringLiteral("name"), QStringLiteral("x")}}, pat);
        QCOMPARE(r.status(), 404);
        QCOMPARE(r.body(), QByteArray(R"({"code":"PASSKEY_NOT_FOUND","message":"Passkey not found"})"));
        r = server.post(update, {{QStringLiteral("id"), id}, {QStringLiteral("name"), QStringLiteral("mine")}}, eve);
        QCOMPARE(r.status(), 401);
        QCOMPARE(code(r), QStringLiteral("YOU_ARE_NOT_ALLOWED_TO_REGISTER_THIS_PASSKEY"));
        r = server.post(update, {{QStringLiteral("id"), id}, {QStringLiteral("name"), QStringLiteral("x")}});
        QCOMPARE(r.status(), 401);

        const QString del = QStringLiteral("/passkey/delete-passkey");
        r = server.post(del, {}, pat);
        QCOMPARE(code(r), QStringLiteral("VALIDATION_ERROR"));
        r = server.post(del, {{QStringLiteral("id"), QString(QLatin1String(""))}}, pat);
        QCOMPARE(r.status(), 400);
        QCOMPARE(r.body(), QByteArray(R"({"message":"Missing required parameter: id"})"));
        r = server.post(del, {{QStringLiteral("id"), QStringLiteral("nope")}}, pat);
        QCOMPARE(r.status(), 404);
        QCOMPARE(code(r), QStringLiteral("PASSKEY_NOT_FOUND"));
        r = server.post(del, {{QStringLiteral("id"), id}}, eve);
        QCOMPARE(r.status(), 401);
        QCOMPARE(r.body(), QByteArray(R"({"code":"UNAUTHORIZED","message":"Unauthorized"})"));
        r = server.post(del, {{QStringLiteral("id"), id}}, pat);
        QCOMPARE(r.status(), 200);
        QCOMPARE(r.body(), QByteArray(R"({"status":true})"));
        QVERIFY(!server.store->passkeyById(id));
        // a deleted passkey cannot sign in
        const auto c = server.authenticationChallenge();
        QCOMPARE(server.authenticate(a.makeAssertion(c.challenge, kWebOrigin, kRpId), c.cookie).status(), 401);
    }

    void guestLinksIntoAccountViaPasskey()
    {
        int links = 0;
        QString linkedPath, linkedGuest, linkedUser;
        AnonymousOptions anonymous;
        anonymous.onLink = [&](const AnonymousLink &link, QString *) {
            ++links;
            linkedPath = link.path;
            linkedGuest = link.anonymous.user.id;
            linkedUser = link.newUser.user.id;
            return true;
        };
        PasskeyServer server(anonymous);
        QString patId;
        const QByteArray pat = server.signUp(QStringLiteral("pat@example.com"), &patId);
        SoftAuthenticator a = SoftAuthenticator::make(CoseAlg::ES256);
        QCOMPARE(server.registerPasskey(pat, a).status(), 200);

        const auto [guestCookie, guestId] = server.signInAnonymous();
        const Response r = server.authenticateAsGuest({guestCookie, guestId}, a);
        QVERIFY2(r.status() == 200, r.body().constData());
        QCOMPARE(TestServer::json(r).value(QStringLiteral("user")).toObject().value(QStringLiteral("id")).toString(), patId);
        QCOMPARE(links, 1);
        QCOMPARE(linkedPath, QStringLiteral("/passkey/verify-authentication"));
        QCOMPARE(linkedGuest, guestId);
        QCOMPARE(linkedUser, patId);
        QVERIFY(!server.store->userById(guestId));
        QCOMPARE(server.scalar(QStringLiteral("SELECT count(*) FROM session WHERE userId = :u"), {{QStringLiteral("u"), guestId}}), 0);
        QCOMPARE(server.get(QStringLiteral("/get-session"), guestCookie).body(), QByteArray("null"));
    }

    void disableDeleteKeepsGuestOnPasskeyLink()
    {
        int links = 0;
        AnonymousOptions anonymous;
        anonymous.disableDeleteAnonymousUser = true;
        anonymous.onLink = [&](const AnonymousLink &, QString *) { ++links; return true; };
        PasskeyServer server(anonymous);
        QString patId;
        const QByteArray pat = server.signUp(QStringLiteral("pat@example.com"), &patId);
        SoftAuthenticator a = SoftAuthenticator::make(CoseAlg::ES256);
        QCOMPARE(server.registerPasskey(pat, a).status(), 200);

        const auto [guestCookie, guestId] = server.signInAnonymous();
        const Response r = server.authenticateAsGuest({guestCookie, guestId}, a);
        QVERIFY2(r.status() == 200, r.body().constData());
        QCOMPARE(links, 1);
        // The guest and its session stay; the new session belongs to the passkey's owner.
        QVERIFY(server.store->userById(guestId));
        QCOMPARE(TestServer::json(server.get(QStringLiteral("/get-session"), guestCookie))
                     .value(QStringLiteral("user")).toObject().value(QStringLiteral("id")).toString(), guestId);
        QCOMPARE(TestServer::json(server.get(QStringLiteral("/get-session"), server.sessionCookie(r)))
                     .value(QStringLiteral("user")).toObject().value(QStringLiteral("id")).toString(), patId);
    }

    void guestLinkFailureRollsBackCounter()
    {
        AnonymousOptions anonymous;
        anonymous.onLink = [](const AnonymousLink &, QString *error) { *error = QStringLiteral("no"); return false; };
        PasskeyServer server(anonymous);
        const QByteArray pat = server.signUp(QStringLiteral("pat@example.com"));
        SoftAuthenticator a = SoftAuthenticator::make(CoseAlg::ES256);
        a.countUp = true;
        QCOMPARE(server.registerPasskey(pat, a).status(), 200);
        const auto [guestCookie, guestId] = server.signInAnonymous();
        const Response r = server.authenticateAsGuest({guestCookie, guestId}, a);
        QCOMPARE(r.status(), 500);
        QCOMPARE(code(r), QStringLiteral("ACCOUNT_LINK_FAILED"));
        QVERIFY(server.store->userById(guestId));
        QCOMPARE(server.store->passkeyByCredentialId(a.credentialIdB64())->counter, 0);
    }

    void guestsOwnPasskeyKeepsGuest()
    {
        int links = 0;
        AnonymousOptions anonymous;
        anonymous.onLink = [&](const AnonymousLink &, QString *) { ++links; return true; };
        PasskeyServer server(anonymous);
        const auto [guestCookie, guestId] = server.signInAnonymous();
        SoftAuthenticator a = SoftAuthenticator::make(CoseAlg::EdDSA);
        const Response reg = server.registerPasskey(guestCookie, a);
        QVERIFY2(reg.status() == 200, reg.body().constData());
        QCOMPARE(TestServer::json(reg).value(QStringLiteral("userId")).toString(), guestId);
        QCOMPARE(links, 0);

        const Response r = server.authenticateAsGuest({guestCookie, guestId}, a);
        QVERIFY2(r.status() == 200, r.body().constData());
        QCOMPARE(TestServer::json(r).value(QStringLiteral("user")).toObject().value(QStringLiteral("id")).toString(), guestId);
        QVERIFY(TestServer::json(r).value(QStringLiteral("user")).toObject().value(QStringLiteral("isAnonymous")).toBool());
        QVERIFY(server.store->userById(guestId));   // kept: the passkey is the guest's own
        QCOMPARE(links, 1);                          // Better Auth still fires onLinkAccount (same user)
        QCOMPARE(server.store->passkeysByUser(guestId).size(), 1);
        // the old guest session still works, and so does the new one
        QCOMPARE(TestServer::json(server.get(QStringLiteral("/get-session"), guestCookie)).value(QStringLiteral("user")).toObject()
                     .value(QStringLiteral("id")).toString(), guestId);
    }
};

QTEST_GUILESS_MAIN(TestPasskey)
#include "tst_passkey.moc"
