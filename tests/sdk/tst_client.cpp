// Kernia::Client against a real kernia-server process and the real Secret Service
// (gnome-keyring inside dbus-run-session, see scripts/test.sh). Every wait is bounded.
#include "clientfixture.h"

#include <Kernia/Collection>

#include <QtCore/QJsonArray>
#include <QtCore/QLoggingCategory>
#include <QtCore/QPointer>
#include <QtCore/QTimer>
#include <QtSql/QSqlDatabase>
#include <QtSql/QSqlQuery>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <signal.h>
#include <unistd.h>

using Kernia::Client;
using Kernia::ClientOptions;
using Kernia::Error;
using Kernia::User;
using namespace KerniaTest;

namespace {

QString uniqueEmail()
{
    return KerniaTest::uniqueEmail(QLatin1Char('u'));
}

QString userIdOf(const RawReply &r)
{
    return r.body.toObject().value(QLatin1String("user")).toObject().value(QLatin1String("id")).toString();
}

QUrl syncApi(const QUrl &server, const QString &path)
{
    QUrl u = server;
    u.setPath(QStringLiteral("/api/sync") + path);
    return u;
}

// The live records of a server user ("collection/id" -> data), pulled with its token.
QHash<QString, QJsonObject> serverRecords(const QUrl &server, const QByteArray &token)
{
    QHash<QString, QJsonObject> live;
    QUrl url = syncApi(server, QStringLiteral("/pull"));
    url.setQuery(QStringLiteral("since=0&limit=1000"));
    const QJsonArray changes = rawRequest("GET", url, {}, token).body.toObject().value(QLatin1String("changes")).toArray();
    for (const QJsonValue &v : changes) {
        const QJsonObject c = v.toObject();
        const QString key = c.value(QLatin1String("collection")).toString() + QLatin1Char('/')
                + c.value(QLatin1String("id")).toString();
        if (c.value(QLatin1String("deleted")).toBool())
            live.remove(key);
        else
            live.insert(key, c.value(QLatin1String("data")).toObject());
    }
    return live;
}

// A profile made by hand beside `like` (the same server user), "newer" by the clock, with
// one pending put of cart/`id`: how a crash between a sign-in and taking back what the
// account left, or a failed take-back, leaves a database. `clientId` "NULL" for a profile
// of an older SDK; `mid` "NULL" for the install's next one.
bool addProfileWithPendingPut(const Install &install, const QString &like, const QString &localId, const QString &status,
                              const QString &clientId, const QString &mid, const QString &id, const QString &json)
{
    return execOnSdkDatabase(install, QStringLiteral("INSERT INTO profiles (local_id, user_id, user_json, status, created_at, updated_at, client_id)"
                                                     " SELECT '%1', user_id, user_json, '%2', created_at, '2999-01-01T00:00:00.000Z', %3"
                                                     " FROM profiles WHERE local_id = '%4'").arg(localId, status, clientId, like))
        && execOnSdkDatabase(install, QStringLiteral("INSERT INTO sync_outbox (mid, owner_local_id, op, collection, id, data)"
                                                     " VALUES (%1, '%2', 'put', 'cart', '%3', '%4')").arg(mid, localId, id, json))
        && execOnSdkDatabase(install, QStringLiteral("INSERT INTO sync_records (owner_local_id, collection, id, data, updated_at, pending, deleted)"
                                                     " VALUES ('%1', 'cart', '%2', '%3', '2999-01-01T00:00:00.000Z', 1, 0)").arg(localId, id, json));
}

// A client whose guest signed up as `email`, syncing only when asked; null (the test
// failed) if it could not.
std::unique_ptr<Client> signedUpWithoutAutoSync(const QUrl &server, const Install &install, const QString &email)
{
    auto client = makeClient(server, install, [](ClientOptions &o) { o.setAutoSync(false); });
    QDeadlineTimer deadline(Long);
    while (!client->hasServerSession() && !deadline.hasExpired())
        QTest::qWait(10);
    const Error signedUp = await(client->signUpEmail(email, Password));
    if (!client->hasServerSession() || signedUp.isError()) {
        qWarning() << "signing up" << email << "failed:" << signedUp.toString();
        return nullptr;
    }
    return client;
}

// Another device of the account (its own session) puts cart/`id` {qty}; its token, to
// read the server's state with.
QByteArray putFromAnotherDevice(const QUrl &server, const QString &email, const QString &id, int qty)
{
    const QByteArray token = rawRequest("POST", api(server, QStringLiteral("/sign-in/email")),
                                        { { "email", email }, { "password", Password } }).setAuthToken;
    const QJsonObject push{ { "clientId", "another-device" },
                            { "mutations", QJsonArray{ QJsonObject{ { "mid", 1 }, { "op", "put" },
                                                                    { "collection", "cart" }, { "id", id },
                                                                    { "data", QJsonObject{ { "qty", qty } } } } } } };
    [&] { QCOMPARE(rawRequest("POST", syncApi(server, QStringLiteral("/push")), push, token).status, 200); }();
    return token;
}

// Sends the current profile's latest pending change as the SDK would (its mid, under the
// profile's client id) and drops the answer: a push that landed but whose answer was lost.
void landLatestChange(const QUrl &server, const Install &install, const Client *client)
{
    const QString where = QStringLiteral(" FROM sync_outbox o JOIN profiles p ON p.local_id = o.owner_local_id"
                                         " WHERE o.owner_local_id = '%1' ORDER BY o.mid DESC LIMIT 1").arg(client->user().localId());
    const auto column = [&](const char *name) {
        return queryDatabase(install, QStringLiteral("SELECT ") + QLatin1String(name) + where);
    };
    const QJsonObject change{ { "mid", column("o.mid").toLongLong() }, { "op", column("o.op").toString() },
                              { "collection", column("o.collection").toString() }, { "id", column("o.id").toString() },
                              { "data", QJsonDocument::fromJson(column("o.data").toString().toUtf8()).object() } };
    const QString clientId = column("p.client_id").toString();
    QVERIFY2(clientId.startsWith(client->clientId() + QLatin1Char(':')), qPrintable(clientId));   // the profile's own
    const QJsonObject push{ { "clientId", clientId }, { "mutations", QJsonArray{ change } } };
    const RawReply landed = rawRequest("POST", syncApi(server, QStringLiteral("/push")), push,
                                       readToken(install.service).value.toUtf8());
    QCOMPARE(landed.status, 200);
    QCOMPARE(landed.body.toObject().value(QLatin1String("applied")).toInt(), 1);
}

// --- a client process that is SIGKILLed in the middle of a sign-up ----------------------
//
// tst_sdk_client --signup-child URL DATADIR SERVICE EMAIL POINT runs one client in this
// process (a guest with a cart, then a sign-up) and kills itself with SIGKILL at POINT:
//   "state": when stateChanged(SignedIn) is emitted (the app sees the account);
//   "token": when the SDK logs that the keychain confirmed the account's token, before
//            the account is saved locally;
//   "journal": when the SDK logs that it noted the switch, before the keychain write.
// It exits with 3 if POINT never came.

QString g_killPoint;
bool g_signingUp = false;   // the guest's own token was stored before
QtMessageHandler g_previousHandler = nullptr;

void killOnTokenStored(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    const bool sdk = g_signingUp && qstrcmp(context.category, "kernia.sdk.client") == 0;
    if (sdk && g_killPoint == QLatin1String("token") && message.contains(QLatin1String("session token stored in the keychain")))
        ::kill(::getpid(), SIGKILL);
    if (sdk && g_killPoint == QLatin1String("journal") && message.contains(QLatin1String("session switch noted")))
        ::kill(::getpid(), SIGKILL);
    if (g_previousHandler)
        g_previousHandler(type, context, message);
}

int signUpChild(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    if (args.size() < 7)
        return 2;
    g_killPoint = args.at(6);
    QLoggingCategory::setFilterRules(QStringLiteral("kernia.sdk.client.debug=true"));
    g_previousHandler = qInstallMessageHandler(killOnTokenStored);
    Install install;   // only for its defaults; the data directory comes from the parent
    auto client = makeClient(QUrl(args.at(2)), install, [&args](ClientOptions &o) {
        o.setDataDirectory(args.at(3));
        o.setKeychainService(args.at(4));
    });
    QObject::connect(client.get(), &Client::stateChanged, client.get(), [](Client::State state) {
        if (g_killPoint == QLatin1String("state") && state == Client::State::SignedIn)
            ::kill(::getpid(), SIGKILL);
    });
    QDeadlineTimer deadline(Long);
    while (!client->hasServerSession() && !deadline.hasExpired())
        QTest::qWait(10);
    if (!client->hasServerSession())
        return 4;
    client->collection(QStringLiteral("cart"))->put(QStringLiteral("apple"), QJsonObject{ { QStringLiteral("qty"), 2 } });
    g_signingUp = true;
    const Error e = await(client->signUpEmail(args.at(5), Password));
    qWarning() << "signup child: not killed; sign-up ended with" << e;
    return 3;
}

} // namespace

class TestClient : public QObject
{
    Q_OBJECT

private:
    TestServer m_server;
    QTemporaryDir m_mail;

    // The last mail of `kind` to `email` in the server's --mail-outbox (JSON lines).
    QJsonObject lastMail(const QString &kind, const QString &email)
    {
        QFile f(m_mail.filePath(QStringLiteral("mail.jsonl")));
        QJsonObject found;
        if (f.open(QIODevice::ReadOnly)) {
            const QList<QByteArray> lines = f.readAll().split('\n');
            for (const QByteArray &line : lines) {
                const QJsonObject o = QJsonDocument::fromJson(line).object();
                if (o.value(QLatin1String("kind")).toString() == kind
                    && o.value(QLatin1String("email")).toString().compare(email, Qt::CaseInsensitive) == 0)
                    found = o;
            }
        }
        return found;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY2(!serverBinary().isEmpty(), "KERNIA_SERVER is not set");
        QVERIFY2(QFile::exists(serverBinary()), qPrintable(serverBinary()));
        QVERIFY2(m_server.start(0, { QStringLiteral("--mail-outbox"), m_mail.filePath(QStringLiteral("mail.jsonl")) }),
                 qPrintable(m_server.output()));
        QCOMPARE(probeKeychain(), QKeychain::NoError);
    }

    // 1 + 5: first launch with the server down gives a usable guest at once; no hang.
    void firstLaunchOffline()
    {
        Install install;
        const QUrl down(QStringLiteral("http://127.0.0.1:%1").arg(freePort()));
        auto client = makeClient(down, install);
        QCOMPARE(client->state(), Client::State::Guest);   // synchronously, before any network
        QVERIFY(client->user().isValid());
        QVERIFY(client->user().isAnonymous());
        QVERIFY(client->user().isLocalOnly());
        QVERIFY(!client->user().localId().isEmpty());
        QVERIFY(!client->hasServerSession());
        QTRY_VERIFY_WITH_TIMEOUT(client->isReady(), Long);
        QTRY_COMPARE_WITH_TIMEOUT(client->lastError().code(), QStringLiteral("NETWORK_ERROR"), Long);
        QVERIFY(!client->isOnline());
        QCOMPARE(client->state(), Client::State::Guest);
    }

    // Destroying a client waits (bounded) for its keychain job in a local event loop. A
    // deleteLater() already posted for that client must not run in there: it would delete
    // the client a second time, from inside its own destructor.
    void destroyedWithItsDeleteLaterPending()
    {
        Install install;
        QPointer<Client> client = makeClient(m_server.url(), install).release();
        auto *owner = new QObject;
        client->setParent(owner);   // its first keychain read is on its way now
        client->deleteLater();
        delete owner;   // the client with it, its own deleteLater still queued
        QVERIFY(client.isNull());
        QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);   // nothing left to run
    }

    // 5: when the server comes up, the local guest gets its anonymous session by itself.
    void guestRegistersWhenServerComesUp()
    {
        Install install;
        const quint16 port = freePort();
        auto client = makeClient(QUrl(QStringLiteral("http://127.0.0.1:%1").arg(port)), install);
        const QString localId = client->user().localId();
        QSignalSpy registered(client.get(), &Client::guestRegistered);
        QTRY_COMPARE_WITH_TIMEOUT(client->lastError().code(), QStringLiteral("NETWORK_ERROR"), Long);

        TestServer late;
        QVERIFY2(late.start(port), qPrintable(late.output()));
        QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
        QTRY_VERIFY_WITH_TIMEOUT(client->isOnline(), Long);
        QCOMPARE(registered.count(), 1);
        QCOMPARE(client->state(), Client::State::Guest);
        QVERIFY(!client->user().id().isEmpty());
        QCOMPARE(client->user().localId(), localId);   // same local guest, now known to the server

        // The token is in the keychain and is a live anonymous session.
        QTRY_COMPARE_WITH_TIMEOUT(readToken(install.service).error, QKeychain::NoError, Long);
        const RawReply session = rawRequest("GET", api(late.url(), QStringLiteral("/get-session")), {},
                                            readToken(install.service).value.toUtf8());
        QCOMPARE(session.status, 200);
        QCOMPARE(session.body.toObject().value(QLatin1String("user")).toObject().value(QLatin1String("id")).toString(),
                 client->user().id());
        QVERIFY(session.body.toObject().value(QLatin1String("user")).toObject().value(QLatin1String("isAnonymous")).toBool());
    }

    // 4 + 8: a restart with the server down restores the guest at once; a temporary
    // failure never replaces it; when the server returns, the same guest goes on.
    void restartOfflineKeepsGuest()
    {
        Install install;
        TestServer server;
        QVERIFY2(server.start(), qPrintable(server.output()));
        const quint16 port = server.port();
        QString userId, localId;
        {
            auto client = makeClient(server.url(), install);
            QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
            userId = client->user().id();
            localId = client->user().localId();
        }
        server.kill();

        auto client = makeClient(QUrl(QStringLiteral("http://127.0.0.1:%1").arg(port)), install);
        QSignalSpy lost(client.get(), &Client::sessionLost);
        // Restored synchronously from SQLite.
        QCOMPARE(client->state(), Client::State::Guest);
        QCOMPARE(client->user().id(), userId);
        QCOMPARE(client->user().localId(), localId);
        QVERIFY(client->hasServerSession());
        QTRY_VERIFY_WITH_TIMEOUT(client->isReady(), Long);
        QTRY_COMPARE_WITH_TIMEOUT(client->lastError().code(), QStringLiteral("NETWORK_ERROR"), Long);
        QVERIFY(!client->isOnline());
        // An explicit refresh fails transiently and changes nothing.
        const Error refresh = await(client->refreshSession());
        QVERIFY2(refresh.isTransient(), qPrintable(refresh.toString()));
        QCOMPARE(client->user().id(), userId);
        QCOMPARE(lost.count(), 0);

        // The server comes back on the same port with the same database.
        QVERIFY2(server.start(port), qPrintable(server.output()));
        QTRY_VERIFY_WITH_TIMEOUT(client->isOnline(), Long);
        QCOMPARE(await(client->refreshSession()), Error());
        QCOMPARE(client->user().id(), userId);
        QCOMPARE(client->state(), Client::State::Guest);
        QCOMPARE(lost.count(), 0);
    }

    // 6: sign-up while a guest links: the client switches to the account, stores the
    // new token and the old guest token is dead.
    void upgradeGuestBySignUp()
    {
        Install install;
        auto client = makeClient(m_server.url(), install);
        QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
        QTRY_COMPARE_WITH_TIMEOUT(readToken(install.service).error, QKeychain::NoError, Long);
        const QString guestToken = readToken(install.service).value;
        const User guest = client->user();
        QSignalSpy upgraded(client.get(), &Client::guestUpgraded);
        QSignalSpy states(client.get(), &Client::stateChanged);
        QSignalSpy finished(client.get(), &Client::finished);

        const QString email = uniqueEmail();
        const Error e = await(client->signUpEmail(email, Password, QStringLiteral("Alice")));
        QCOMPARE(e, Error());
        QCOMPARE(client->state(), Client::State::SignedIn);
        QVERIFY(!client->isAnonymous());
        QCOMPARE(client->user().email(), email);
        QCOMPARE(client->user().name(), QStringLiteral("Alice"));
        QCOMPARE(client->user().localId(), guest.localId());   // local data goes with the user
        QVERIFY(client->user().id() != guest.id());
        QCOMPARE(upgraded.count(), 1);
        QCOMPARE(upgraded.at(0).at(0).value<User>().id(), guest.id());
        QCOMPARE(upgraded.at(0).at(1).value<User>().email(), email);
        QCOMPARE(states.count(), 1);
        QCOMPARE(finished.count(), 1);
        QCOMPARE(finished.at(0).at(0).value<Client::Operation>(), Client::Operation::SignUpEmail);
        QVERIFY(!client->lastError().isError());

        QTRY_VERIFY_WITH_TIMEOUT(readToken(install.service).value != guestToken, Long);
        const QString accountToken = readToken(install.service).value;
        const RawReply oldSession = rawRequest("GET", api(m_server.url(), QStringLiteral("/get-session")), {},
                                               guestToken.toUtf8());
        QVERIFY(oldSession.body.isNull());   // the server linked and deleted the guest
        const RawReply newSession = rawRequest("GET", api(m_server.url(), QStringLiteral("/get-session")), {},
                                               accountToken.toUtf8());
        QCOMPARE(newSession.body.toObject().value(QLatin1String("user")).toObject().value(QLatin1String("email")).toString(),
                 email);

        // A restart restores the account from the cache and validates it.
        const QString accountId = client->user().id();
        client.reset();
        client = makeClient(m_server.url(), install);
        QCOMPARE(client->state(), Client::State::SignedIn);
        QCOMPARE(client->user().id(), accountId);
        QTRY_VERIFY_WITH_TIMEOUT(client->isOnline(), Long);
        QCOMPARE(await(client->refreshSession()), Error());
        QCOMPARE(client->state(), Client::State::SignedIn);
    }

    // 6: a failed upgrade leaves the guest intact and the error visible.
    void failedUpgradeKeepsGuest()
    {
        Install install;
        auto client = makeClient(m_server.url(), install);
        QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
        const User guest = client->user();
        QTRY_COMPARE_WITH_TIMEOUT(readToken(install.service).error, QKeychain::NoError, Long);
        const QString guestToken = readToken(install.service).value;

        Error e = await(client->signUpEmail(uniqueEmail(), QStringLiteral("short")));
        QCOMPARE(e.code(), QStringLiteral("PASSWORD_TOO_SHORT"));
        QCOMPARE(e.httpStatus(), 400);
        QCOMPARE(e.kind(), Error::Kind::Rejected);
        QVERIFY(!e.message().isEmpty());
        QCOMPARE(client->lastError(), e);

        // An existing email: 422 with the server's code and message.
        const QString taken = uniqueEmail();
        QCOMPARE(rawRequest("POST", api(m_server.url(), QStringLiteral("/sign-up/email")),
                            { { "email", taken }, { "password", Password }, { "name", "X" } }).status, 200);
        e = await(client->signUpEmail(taken, Password));
        QCOMPARE(e.code(), QStringLiteral("USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"));
        QCOMPARE(e.httpStatus(), 422);
        e = await(client->signInEmail(taken, QStringLiteral("wrong-password")));
        QCOMPARE(e.code(), QStringLiteral("INVALID_EMAIL_OR_PASSWORD"));
        QCOMPARE(e.httpStatus(), 401);

        QCOMPARE(client->state(), Client::State::Guest);
        QCOMPARE(client->user(), guest);
        QCOMPARE(readToken(install.service).value, guestToken);
        const RawReply session = rawRequest("GET", api(m_server.url(), QStringLiteral("/get-session")), {},
                                            guestToken.toUtf8());
        QCOMPARE(session.body.toObject().value(QLatin1String("user")).toObject().value(QLatin1String("id")).toString(),
                 guest.id());
        QCOMPARE(client->lastError().code(), QStringLiteral("INVALID_EMAIL_OR_PASSWORD"));
        client->clearError();
        QVERIFY(!client->lastError().isError());
    }

    // 6: a guest signs in to an existing account; sign-out, then sign in again gets the
    // same local data back.
    void signInExistingAccountThenSignOut()
    {
        const QString email = uniqueEmail();
        QCOMPARE(rawRequest("POST", api(m_server.url(), QStringLiteral("/sign-up/email")),
                            { { "email", email }, { "password", Password }, { "name", "Bob" } }).status, 200);
        Install install;
        auto client = makeClient(m_server.url(), install);
        QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
        const User guest = client->user();
        QSignalSpy upgraded(client.get(), &Client::guestUpgraded);
        QCOMPARE(await(client->signInEmail(email, Password)), Error());
        QCOMPARE(client->state(), Client::State::SignedIn);
        QCOMPARE(client->user().email(), email);
        QCOMPARE(client->user().localId(), guest.localId());
        QCOMPARE(upgraded.count(), 1);

        // Operations that do not fit the state are refused, nothing changes.
        QCOMPARE(await(client->signInAsGuest()).code(), QStringLiteral("INVALID_STATE"));
        QCOMPARE(await(client->deleteGuest()).code(), QStringLiteral("INVALID_STATE"));
        QCOMPARE(await(client->signInEmail(email, Password)).code(), QStringLiteral("INVALID_STATE"));

        QCOMPARE(readToken(install.service).error, QKeychain::NoError);
        const QString accountToken = readToken(install.service).value;
        QSignalSpy signedOut(client.get(), &Client::signedOut);
        QCOMPARE(await(client->signOut()), Error());
        QCOMPARE(client->state(), Client::State::SignedOut);
        QVERIFY(!client->user().isValid());
        QCOMPARE(signedOut.count(), 1);
        QCOMPARE(readToken(install.service).error, QKeychain::EntryNotFound);
        QTRY_VERIFY_WITH_TIMEOUT(rawRequest("GET", api(m_server.url(), QStringLiteral("/get-session")), {},
                                            accountToken.toUtf8()).body.isNull(), Long);

        // Signed out stays signed out across a restart (no automatic guest).
        client.reset();
        client = makeClient(m_server.url(), install);
        QCOMPARE(client->state(), Client::State::SignedOut);

        QSignalSpy signedIn(client.get(), &Client::signedIn);
        QCOMPARE(await(client->signInEmail(email, Password)), Error());
        QCOMPARE(client->state(), Client::State::SignedIn);
        QCOMPARE(signedIn.count(), 1);
        QCOMPARE(client->user().localId(), guest.localId());   // its local data again
    }

    // 2: sign in as guest explicitly (automatic guest off), offline then online.
    void explicitGuestWithoutAutomaticGuest()
    {
        Install install;
        const quint16 port = freePort();
        auto client = makeClient(QUrl(QStringLiteral("http://127.0.0.1:%1").arg(port)), install,
                                 [](ClientOptions &o) { o.setAutomaticGuest(false); });
        QCOMPARE(client->state(), Client::State::SignedOut);
        QVERIFY(!client->user().isValid());
        QCOMPARE(await(client->signInAsGuest()), Error());   // offline: a local guest, usable now
        QCOMPARE(client->state(), Client::State::Guest);
        QVERIFY(client->user().isLocalOnly());

        TestServer late;
        QVERIFY2(late.start(port), qPrintable(late.output()));
        QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
        QCOMPARE(await(client->signInAsGuest()), Error());   // already a guest: nothing to do
        QCOMPARE(client->state(), Client::State::Guest);
    }

    // 2: delete the guest, on the server and locally.
    void deleteGuest()
    {
        Install install;
        auto client = makeClient(m_server.url(), install);
        QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
        QTRY_COMPARE_WITH_TIMEOUT(readToken(install.service).error, QKeychain::NoError, Long);
        const QString token = readToken(install.service).value;
        QCOMPARE(await(client->deleteGuest()), Error());
        QCOMPARE(client->state(), Client::State::SignedOut);
        QCOMPARE(readToken(install.service).error, QKeychain::EntryNotFound);
        QVERIFY(rawRequest("GET", api(m_server.url(), QStringLiteral("/get-session")), {}, token.toUtf8()).body.isNull());
        QCOMPARE(await(client->deleteGuest()).code(), QStringLiteral("INVALID_STATE"));
    }

    // The account deletes itself; the server's mailer is on, but the address is not
    // verified, so the server deletes at once. Token, identity and local data go too.
    void deleteAccount()
    {
        Install install;
        auto client = makeClient(m_server.url(), install, [](ClientOptions &o) { o.setAutomaticGuest(false); });
        QTRY_VERIFY_WITH_TIMEOUT(client->isReady(), Long);
        QCOMPARE(await(client->deleteAccount()).code(), QStringLiteral("INVALID_STATE"));   // nobody signed in
        const QString email = uniqueEmail(QLatin1Char('x'));
        QCOMPARE(await(client->signUpEmail(email, Password)), Error());
        QVERIFY(!client->collection(QStringLiteral("notes"))->put(QStringLiteral("n"), QJsonObject{ { QStringLiteral("t"), 1 } }).isError());
        QTRY_COMPARE_WITH_TIMEOUT(readToken(install.service).error, QKeychain::NoError, Long);
        const QString token = readToken(install.service).value;
        QSignalSpy deleted(client.get(), &Client::accountDeleted);
        QSignalSpy signedOut(client.get(), &Client::signedOut);

        QCOMPARE(await(client->deleteAccount(QStringLiteral("wrong-password"))).code(), QStringLiteral("INVALID_PASSWORD"));
        QCOMPARE(client->state(), Client::State::SignedIn);
        QCOMPARE(deleted.count(), 0);
        QCOMPARE(await(client->deleteAccount()), Error());
        QCOMPARE(client->state(), Client::State::SignedOut);
        QCOMPARE(deleted.count(), 1);
        QCOMPARE(deleted.at(0).at(0).value<User>().email(), email.toLower());
        QCOMPARE(signedOut.count(), 1);
        QCOMPARE(readToken(install.service).error, QKeychain::EntryNotFound);
        QVERIFY(rawRequest("GET", api(m_server.url(), QStringLiteral("/get-session")), {}, token.toUtf8()).body.isNull());
        QCOMPARE(queryDatabase(install, QStringLiteral("SELECT COUNT(*) FROM sync_records")).toInt(), 0);
        QCOMPARE(queryDatabase(install, QStringLiteral("SELECT COUNT(*) FROM sync_outbox")).toInt(), 0);
        const RawReply again = rawRequest("POST", api(m_server.url(), QStringLiteral("/sign-in/email")),
                                          { { QStringLiteral("email"), email }, { QStringLiteral("password"), Password } });
        QCOMPARE(again.status, 401);
    }

    // A verified address: deleteAccount() only gets a link mailed (accountDeletionMailed);
    // the account goes when the app hands that link to completeAccountDeletion().
    void deleteAccountConfirmedByMail()
    {
        Install install;
        auto client = makeClient(m_server.url(), install, [](ClientOptions &o) { o.setAutomaticGuest(false); });
        QTRY_VERIFY_WITH_TIMEOUT(client->isReady(), Long);
        const QString email = uniqueEmail(QLatin1Char('y')).toLower();
        QCOMPARE(await(client->signUpEmail(email, Password)), Error());
        QTRY_COMPARE_WITH_TIMEOUT(readToken(install.service).error, QKeychain::NoError, Long);
        const QByteArray bearer = readToken(install.service).value.toUtf8();
        const RawReply sent = rawRequest("POST", api(m_server.url(), QStringLiteral("/send-verification-email")),
                                         { { QStringLiteral("email"), email } }, bearer);
        QCOMPARE(sent.status, 200);
        QUrl verify = api(m_server.url(), QStringLiteral("/verify-email"));
        verify.setQuery(QStringLiteral("token=") + lastMail(QStringLiteral("verify-email"), email).value(QLatin1String("token")).toString());
        QCOMPARE(rawRequest("GET", verify).status, 200);

        QSignalSpy mailed(client.get(), &Client::accountDeletionMailed);
        QSignalSpy deleted(client.get(), &Client::accountDeleted);
        QCOMPARE(await(client->deleteAccount()), Error());
        QCOMPARE(mailed.count(), 1);
        QCOMPARE(deleted.count(), 0);
        QCOMPARE(client->state(), Client::State::SignedIn);
        const QJsonObject mail = lastMail(QStringLiteral("delete-account"), email);
        const QUrl link(mail.value(QLatin1String("url")).toString());
        QVERIFY2(link.path().endsWith(QLatin1String("/delete-user/callback")), qPrintable(link.toString()));

        QCOMPARE(await(client->completeAccountDeletion(QUrl(QStringLiteral("myapp://delete")))).code(),
                 QStringLiteral("INVALID_ARGUMENT"));
        QCOMPARE(await(client->completeAccountDeletion(QUrl(QStringLiteral("myapp://delete?token=0123456789abcdefghijklmnopqrstuv")))).code(),
                 QStringLiteral("INVALID_TOKEN"));
        QCOMPARE(client->state(), Client::State::SignedIn);
        QCOMPARE(deleted.count(), 0);
        QCOMPARE(await(client->completeAccountDeletion(link)), Error());
        QCOMPARE(client->state(), Client::State::SignedOut);
        QCOMPARE(deleted.count(), 1);
        QCOMPARE(readToken(install.service).error, QKeychain::EntryNotFound);
        QVERIFY(rawRequest("GET", api(m_server.url(), QStringLiteral("/get-session")), {}, bearer).body.isNull());
        QCOMPARE(await(client->completeAccountDeletion(link)).code(), QStringLiteral("INVALID_STATE"));
    }

    // 8: a wrong token in the keychain is a definite "session gone": a new guest at once,
    // the old local data stays and is offered to it, the error is visible.
    void wrongTokenInKeychainReplacesGuest()
    {
        Install install;
        User old;
        {
            auto client = makeClient(m_server.url(), install);
            QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
            QTRY_COMPARE_WITH_TIMEOUT(readToken(install.service).error, QKeychain::NoError, Long);
            old = client->user();
        }
        QCOMPARE(writeToken(install.service, QStringLiteral("not-a-real-token.c2lnbmF0dXJl")), QKeychain::NoError);

        auto client = makeClient(m_server.url(), install);
        QSignalSpy lost(client.get(), &Client::sessionLost);
        QSignalSpy offered(client.get(), &Client::localDataOffered);
        QCOMPARE(client->user().id(), old.id());   // the cache first
        QTRY_COMPARE_WITH_TIMEOUT(lost.count(), 1, Long);
        QCOMPARE(lost.at(0).at(0).value<User>().id(), old.id());
        QCOMPARE(lost.at(0).at(1).value<Error>().code(), QStringLiteral("SESSION_GONE"));
        QCOMPARE(client->state(), Client::State::Guest);
        QVERIFY(client->user().localId() != old.localId());
        QTRY_COMPARE_WITH_TIMEOUT(offered.count(), 1, Long);
        QCOMPARE(offered.at(0).at(0).toString(), old.localId());
        QCOMPARE(client->offeredLocalData(), QStringList{ old.localId() });
        QCOMPARE(client->offeredLocalDataUser(old.localId()).id(), old.id());
        QCOMPARE(client->lastError().code(), QStringLiteral("SESSION_GONE"));
        // The new guest registers itself.
        QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
        QVERIFY(client->user().id() != old.id());
        QVERIFY(!client->user().id().isEmpty());
        // Adopt the old guest's local data.
        QCOMPARE(client->adoptLocalData(old.localId()), Error());
        QVERIFY(client->offeredLocalData().isEmpty());
        QCOMPARE(client->adoptLocalData(old.localId()).code(), QStringLiteral("INVALID_ARGUMENT"));
    }

    // 8: an expired/revoked account session: SignedOut with a visible error.
    void revokedAccountSessionSignsOut()
    {
        Install install;
        QString token;
        const QString email = uniqueEmail();
        {
            auto client = makeClient(m_server.url(), install);
            QTRY_VERIFY_WITH_TIMEOUT(client->isReady(), Long);
            QCOMPARE(await(client->signUpEmail(email, Password)), Error());
            QTRY_COMPARE_WITH_TIMEOUT(readToken(install.service).error, QKeychain::NoError, Long);
            token = readToken(install.service).value;
        }
        // The session ends on the server while the app is closed.
        QCOMPARE(rawRequest("POST", api(m_server.url(), QStringLiteral("/sign-out")), {}, token.toUtf8()).status, 200);

        auto client = makeClient(m_server.url(), install);
        QCOMPARE(client->state(), Client::State::SignedIn);   // the cache, at once
        QSignalSpy lost(client.get(), &Client::sessionLost);
        QTRY_COMPARE_WITH_TIMEOUT(client->state(), Client::State::SignedOut, Long);
        QCOMPARE(lost.count(), 1);
        QCOMPARE(lost.at(0).at(0).value<User>().email(), email);
        QCOMPARE(client->lastError().code(), QStringLiteral("SESSION_GONE"));
        QCOMPARE(client->lastError().kind(), Error::Kind::SessionGone);
        QTRY_COMPARE_WITH_TIMEOUT(readToken(install.service).error, QKeychain::EntryNotFound, Long);
    }

    // 5: the session is checked periodically while online (here: every 300 ms), so a
    // session revoked elsewhere is noticed without any app call.
    void periodicRefreshNoticesRevocation()
    {
        Install install;
        auto client = makeClient(m_server.url(), install,
                                 [](ClientOptions &o) { o.setSessionRefreshInterval(300); });
        QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
        QTRY_COMPARE_WITH_TIMEOUT(readToken(install.service).error, QKeychain::NoError, Long);
        const QString oldId = client->user().id();
        QSignalSpy lost(client.get(), &Client::sessionLost);
        QCOMPARE(rawRequest("POST", api(m_server.url(), QStringLiteral("/delete-anonymous-user")), {},
                            readToken(install.service).value.toUtf8()).status, 200);
        QTRY_COMPARE_WITH_TIMEOUT(lost.count(), 1, Long);
        QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
        QVERIFY(client->user().id() != oldId);
    }

    // 8: the server is killed (SIGKILL) while a sign-up is in flight.
    void serverKilledMidRequest()
    {
        Install install;
        TestServer server;
        QVERIFY2(server.start(), qPrintable(server.output()));
        auto client = makeClient(server.url(), install);
        QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
        QTRY_VERIFY_WITH_TIMEOUT(client->isOnline(), Long);
        const User guest = client->user();

        QFuture<Error> f = client->signUpEmail(uniqueEmail(), Password);
        QTRY_VERIFY_WITH_TIMEOUT(client->isBusy(), Long);
        QTest::qWait(20);   // the request is on its way; scrypt keeps the server busy
        server.kill();
        const Error e = await(f);
        QVERIFY2(e.isError(), "the sign-up cannot have succeeded without an answer");
        QVERIFY2(e.isTransient(), qPrintable(e.toString()));
        QCOMPARE(client->lastError(), e);
        QCOMPARE(client->state(), Client::State::Guest);
        QCOMPARE(client->user(), guest);
        QTRY_VERIFY_WITH_TIMEOUT(!client->isOnline(), Long);
        QVERIFY(!client->isBusy());
    }

    // 8: a server that answers garbage (not HTTP).
    void garbageServer()
    {
        BadServer bad(BadServer::Mode::Nonsense);
        Install install;
        auto client = makeClient(bad.url(), install);
        QTRY_VERIFY_WITH_TIMEOUT(client->lastError().isError(), Long);
        QVERIFY2(client->lastError().isTransient(), qPrintable(client->lastError().toString()));
        QCOMPARE(client->state(), Client::State::Guest);
        QVERIFY(!client->hasServerSession());
        QVERIFY(!client->isOnline());
        const Error e = await(client->signUpEmail(uniqueEmail(), Password));
        QVERIFY2(e.isTransient(), qPrintable(e.toString()));
        QCOMPARE(client->state(), Client::State::Guest);
        QVERIFY(bad.connections() > 0);
    }

    // 8: an HTTP server that answers HTML where JSON is expected (e.g. a captive portal).
    void htmlServer()
    {
        BadServer bad(BadServer::Mode::HtmlOk);
        Install install;
        auto client = makeClient(bad.url(), install);
        QTRY_COMPARE_WITH_TIMEOUT(client->lastError().code(), QStringLiteral("BAD_RESPONSE"), Long);
        QCOMPARE(client->lastError().kind(), Error::Kind::BadResponse);
        QVERIFY(!client->isOnline());
        const Error e = await(client->signInEmail(uniqueEmail(), Password));
        QCOMPARE(e.code(), QStringLiteral("BAD_RESPONSE"));
        QCOMPARE(client->state(), Client::State::Guest);
        QVERIFY(client->user().isLocalOnly());
    }

    // 8: a server that accepts and never answers: the request times out.
    void hangingServer()
    {
        BadServer bad(BadServer::Mode::Hang);
        Install install;
        auto client = makeClient(bad.url(), install, [](ClientOptions &o) { o.setRequestTimeout(500); });
        const Error e = await(client->signUpEmail(uniqueEmail(), Password));
        QCOMPARE(e.code(), QStringLiteral("TIMEOUT"));
        QCOMPARE(e.kind(), Error::Kind::Timeout);
        QVERIFY(e.isTransient());
        QCOMPARE(client->state(), Client::State::Guest);
        QTRY_VERIFY_WITH_TIMEOUT(!client->isBusy(), Long);
    }

    // 4: versioned schema migrations; a newer schema is refused clearly.
    void localStoreSchema()
    {
        Install install;
        {
            auto client = makeClient(m_server.url(), install);
            QCOMPARE(client->state(), Client::State::Guest);
        }
        const QString path = QDir(install.dir.path()).filePath(QStringLiteral("kernia-client.db"));
        QVERIFY(QFile::exists(path));
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("tst-schema"));
            db.setDatabaseName(path);
            QVERIFY(db.open());
            QSqlQuery q(db);
            QVERIFY(q.exec(QStringLiteral("PRAGMA user_version")) && q.next());
            // 1: identity/profiles, 2: data sync, 3: token fingerprint, 4: magic-link requests,
            // 5: a sync client id per profile, 6: the local writes a record holds
            QCOMPARE(q.value(0).toInt(), 6);
            // The first launch's guest has its own: the install's generated id and a suffix.
            QVERIFY(q.exec(QStringLiteral("SELECT p.client_id, m.value FROM profiles p, kernia_meta m"
                                          " WHERE m.key = 'sync.client_id'")) && q.next());
            QVERIFY2(q.value(0).toString().startsWith(q.value(1).toString() + QLatin1Char(':')),
                     qPrintable(q.value(0).toString() + QStringLiteral(" / ") + q.value(1).toString()));
            QVERIFY(!q.value(1).toString().isEmpty());
            QVERIFY(!q.next());
            QVERIFY(q.exec(QStringLiteral("PRAGMA journal_mode")) && q.next());
            QCOMPARE(q.value(0).toString(), QStringLiteral("wal"));
            q.finish();
            QVERIFY(q.exec(QStringLiteral("PRAGMA user_version = 99")));
            db.close();
        }
        QSqlDatabase::removeDatabase(QStringLiteral("tst-schema"));
        auto client = makeClient(m_server.url(), install);
        QCOMPARE(client->lastError().code(), QStringLiteral("LOCAL_STORE_ERROR"));
        QCOMPARE(client->state(), Client::State::Guest);   // still usable, in memory
    }

    // An account is saved as signed in only once its token is in the keychain. A client
    // SIGKILLed in the middle of a guest's sign-up — right when it switched to the
    // account, or right after the keychain confirmed the new token — comes back as the
    // account, with the guest's cart and a working session (it used to come back with
    // the guest's dead token: the account signed out and its data offered away).
    void killedDuringUpgradeKeepsAccount_data()
    {
        QTest::addColumn<QString>("point");
        QTest::newRow("after the switch") << QStringLiteral("state");
        QTest::newRow("after the keychain write") << QStringLiteral("token");
    }

    void killedDuringUpgradeKeepsAccount()
    {
        QFETCH(QString, point);
        Install install;
        const QString email = uniqueEmail();
        QProcess child;
        child.setProcessChannelMode(QProcess::ForwardedChannels);
        child.start(QCoreApplication::applicationFilePath(),
                    { QStringLiteral("--signup-child"), m_server.url().toString(), install.dir.path(),
                      install.service, email, point });
        QVERIFY(child.waitForFinished(2 * Long));
        QVERIFY2(child.exitStatus() == QProcess::CrashExit,
                 qPrintable(QStringLiteral("the child was not killed at \"%1\" (exit code %2)").arg(point).arg(child.exitCode())));

        auto client = makeClient(m_server.url(), install);
        QSignalSpy lost(client.get(), &Client::sessionLost);
        QTRY_VERIFY_WITH_TIMEOUT(client->isReady(), Long);
        QTRY_VERIFY_WITH_TIMEOUT(client->isOnline(), Long);
        QCOMPARE(await(client->refreshSession()), Error());
        QCOMPARE(client->state(), Client::State::SignedIn);
        QCOMPARE(client->user().email(), email);
        QCOMPARE(lost.count(), 0);
        QVERIFY(client->offeredLocalData().isEmpty());
        const auto apple = client->collection(QStringLiteral("cart"))->get(QStringLiteral("apple"));
        QVERIFY(apple);
        QCOMPARE(apple->data.value(QLatin1String("qty")).toInt(), 2);
    }

    // Killed after the server linked the guest but before the keychain had the account's
    // token (the token is lost with the process): the guest's token is dead, so the
    // account comes back signed out, with the guest's cart kept for it — not offered
    // away — and signing in again brings it back.
    void killedBeforeTheKeychainHadTheToken()
    {
        Install install;
        const QString email = uniqueEmail();
        QProcess child;
        child.setProcessChannelMode(QProcess::ForwardedChannels);
        child.start(QCoreApplication::applicationFilePath(),
                    { QStringLiteral("--signup-child"), m_server.url().toString(), install.dir.path(),
                      install.service, email, QStringLiteral("journal") });
        QVERIFY(child.waitForFinished(2 * Long));
        QVERIFY2(child.exitStatus() == QProcess::CrashExit,
                 qPrintable(QStringLiteral("the child was not killed (exit code %1)").arg(child.exitCode())));

        auto client = makeClient(m_server.url(), install);
        QSignalSpy lost(client.get(), &Client::sessionLost);
        QTRY_COMPARE_WITH_TIMEOUT(client->state(), Client::State::SignedOut, Long);
        QCOMPARE(lost.count(), 1);
        QCOMPARE(lost.at(0).at(0).value<User>().email(), email);
        QCOMPARE(client->lastError().kind(), Error::Kind::SessionGone);
        QVERIFY(client->offeredLocalData().isEmpty());
        QTRY_COMPARE_WITH_TIMEOUT(readToken(install.service).error, QKeychain::EntryNotFound, Long);   // the dead guest token
        QTRY_VERIFY_WITH_TIMEOUT(client->isOnline(), Long);
        QCOMPARE(await(client->signInEmail(email, Password)), Error());
        const auto apple = client->collection(QStringLiteral("cart"))->get(QStringLiteral("apple"));
        QVERIFY(apple);
        QCOMPARE(apple->data.value(QLatin1String("qty")).toInt(), 2);
        QCOMPARE(await(client->syncNow()), Error());
        QCOMPARE(client->pendingChanges(), 0);
    }

    // Signed in as A with unsynced changes, signed out, continued as a guest, signed in
    // as A again (the guest is upgraded): A's changes are pushed, nothing is stranded,
    // and what A had already synced does not overwrite another device's newer write.
    void signInFromGuestPushesTheAccountsPendingChanges_data()
    {
        QTest::addColumn<bool>("olderSdk");
        QTest::newRow("profiles with their own client id") << false;
        // The account's profile pushed under the install's id (schema 4): its change is
        // taken back with a fresh mid, above the guest's.
        QTest::newRow("account profile of an older SDK") << true;
    }

    void signInFromGuestPushesTheAccountsPendingChanges()
    {
        QFETCH(bool, olderSdk);
        Install install;
        const QString email = uniqueEmail();
        auto client = signedUpWithoutAutoSync(m_server.url(), install, email);
        QVERIFY(client);
        if (olderSdk)
            QVERIFY(execOnSdkDatabase(install, QStringLiteral("UPDATE profiles SET client_id = NULL")));
        Kernia::Collection *cart = client->collection(QStringLiteral("cart"));
        QCOMPARE(cart->put(QStringLiteral("plum"), QJsonObject{ { QStringLiteral("qty"), 1 } }), Error());
        QCOMPARE(await(client->syncNow()), Error());
        QCOMPARE(cart->put(QStringLiteral("apple"), QJsonObject{ { QStringLiteral("qty"), 1 } }), Error());
        QCOMPARE(client->pendingChanges(), 1);
        const QByteArray other = putFromAnotherDevice(m_server.url(), email, QStringLiteral("plum"), 9);
        if (QTest::currentTestFailed())
            return;

        QCOMPARE(await(client->signOut()), Error());
        QCOMPARE(await(client->signInAsGuest()), Error());
        QVERIFY(client->hasServerSession());
        if (olderSdk)   // the guest pushes under the install's id too, above the apple's mid
            QVERIFY(execOnSdkDatabase(install, QStringLiteral("UPDATE profiles SET client_id = NULL")));
        QCOMPARE(cart->put(QStringLiteral("pear"), QJsonObject{ { QStringLiteral("qty"), 3 } }), Error());
        // The guest pushes: its mark on the server (moved into the account when the guest
        // is linked) goes above the mid of the account's pending apple, which the server
        // would skip if the apple were sent under the guest's client id with its old mid.
        QCOMPARE(await(client->syncNow()), Error());
        QCOMPARE(client->pendingChanges(), 0);
        QCOMPARE(await(client->signInEmail(email, Password)), Error());
        QCOMPARE(client->state(), Client::State::SignedIn);
        QCOMPARE(client->pendingChanges(), 1);   // the account's own apple
        QCOMPARE(await(client->syncNow()), Error());
        QCOMPARE(client->pendingChanges(), 0);

        const QHash<QString, QJsonObject> server = serverRecords(m_server.url(), other);
        QCOMPARE(server.value(QStringLiteral("cart/apple")).value(QLatin1String("qty")).toInt(), 1);
        QCOMPARE(server.value(QStringLiteral("cart/pear")).value(QLatin1String("qty")).toInt(), 3);
        QCOMPARE(server.value(QStringLiteral("cart/plum")).value(QLatin1String("qty")).toInt(), 9);
        QCOMPARE(cart->get(QStringLiteral("plum"))->data.value(QLatin1String("qty")).toInt(), 9);
        QVERIFY(cart->get(QStringLiteral("apple")));
        QVERIFY(cart->get(QStringLiteral("pear")));
        QVERIFY(client->offeredLocalData().isEmpty());
        // Nothing left behind: one profile, no outbox.
        QCOMPARE(queryDatabase(install, QStringLiteral("SELECT COUNT(*) FROM sync_outbox")).toInt(), 0);
        QCOMPARE(queryDatabase(install, QStringLiteral("SELECT COUNT(*) FROM profiles")).toInt(), 1);
    }

    // A revoked account signs in again: it gets its own (offered) local data back, its
    // pending change is pushed, and its settled records do not overwrite what another
    // device wrote meanwhile.
    void returningAccountKeepsNewerServerData()
    {
        Install install;
        const QString email = uniqueEmail();
        auto client = makeClient(m_server.url(), install, [](ClientOptions &o) { o.setAutoSync(false); });
        QTRY_VERIFY_WITH_TIMEOUT(client->isReady(), Long);
        QCOMPARE(await(client->signUpEmail(email, Password)), Error());
        const QString localId = client->user().localId();
        Kernia::Collection *cart = client->collection(QStringLiteral("cart"));
        QCOMPARE(cart->put(QStringLiteral("apple"), QJsonObject{ { QStringLiteral("qty"), 1 } }), Error());
        QCOMPARE(await(client->syncNow()), Error());
        QCOMPARE(cart->put(QStringLiteral("pear"), QJsonObject{ { QStringLiteral("qty"), 4 } }), Error());   // not synced

        // Another device of the account changes the apple.
        const QByteArray other = putFromAnotherDevice(m_server.url(), email, QStringLiteral("apple"), 7);
        if (QTest::currentTestFailed())
            return;
        // This device's session is revoked.
        QCOMPARE(rawRequest("POST", api(m_server.url(), QStringLiteral("/sign-out")), {},
                            readToken(install.service).value.toUtf8()).status, 200);
        QCOMPARE(await(client->refreshSession()).code(), QStringLiteral("SESSION_GONE"));
        QCOMPARE(client->state(), Client::State::SignedOut);

        QCOMPARE(await(client->signInEmail(email, Password)), Error());
        QCOMPARE(client->user().localId(), localId);   // its own data, not offered leftovers
        QVERIFY(client->offeredLocalData().isEmpty());
        QCOMPARE(await(client->syncNow()), Error());
        const QHash<QString, QJsonObject> server = serverRecords(m_server.url(), other);
        QCOMPARE(server.value(QStringLiteral("cart/apple")).value(QLatin1String("qty")).toInt(), 7);
        QCOMPARE(server.value(QStringLiteral("cart/pear")).value(QLatin1String("qty")).toInt(), 4);
        QCOMPARE(cart->get(QStringLiteral("apple"))->data.value(QLatin1String("qty")).toInt(), 7);
        QCOMPARE(client->pendingChanges(), 0);
    }

    // Signed in as A with unsynced changes, signed out, a guest changed the same records,
    // signed in as A again: the guest's newer writes win over A's older ones taken back,
    // here and on the server (a put replaces; patches merge in the order they were made).
    void takenBackChangesDoNotOverwriteNewerOnes()
    {
        Install install;
        const QString email = uniqueEmail();
        auto client = signedUpWithoutAutoSync(m_server.url(), install, email);
        QVERIFY(client);
        Kernia::Collection *cart = client->collection(QStringLiteral("cart"));
        QCOMPARE(cart->put(QStringLiteral("apple"), QJsonObject{ { QStringLiteral("qty"), 1 } }), Error());   // older
        QCOMPARE(cart->patch(QStringLiteral("pear"), QJsonObject{ { QStringLiteral("qty"), 2 }, { QStringLiteral("size"), QStringLiteral("L") } }), Error());
        QCOMPARE(cart->put(QStringLiteral("plum"), QJsonObject{ { QStringLiteral("qty"), 3 } }), Error());
        QCOMPARE(await(client->signOut()), Error());
        QCOMPARE(await(client->signInAsGuest()), Error());
        QCOMPARE(cart->put(QStringLiteral("apple"), QJsonObject{ { QStringLiteral("qty"), 5 } }), Error());   // newer
        QCOMPARE(cart->patch(QStringLiteral("pear"), QJsonObject{ { QStringLiteral("qty"), 7 } }), Error());
        QCOMPARE(cart->remove(QStringLiteral("plum")), Error());
        QCOMPARE(await(client->signInEmail(email, Password)), Error());
        auto check = [](const QString &what, const QJsonObject &apple, const QJsonObject &pear, bool plum) {
            QVERIFY2(apple.value(QLatin1String("qty")).toInt() == 5, qPrintable(what + QStringLiteral(" apple")));
            QVERIFY2(pear == (QJsonObject{ { QStringLiteral("qty"), 7 }, { QStringLiteral("size"), QStringLiteral("L") } }),
                     qPrintable(what + QStringLiteral(" pear ") + QString::fromUtf8(QJsonDocument(pear).toJson(QJsonDocument::Compact))));
            QVERIFY2(!plum, qPrintable(what + QStringLiteral(" plum")));
        };
        check(QStringLiteral("local before sync"), cart->get(QStringLiteral("apple"))->data,
              cart->get(QStringLiteral("pear"))->data, bool(cart->get(QStringLiteral("plum"))));
        QCOMPARE(await(client->syncNow()), Error());
        QCOMPARE(client->pendingChanges(), 0);
        check(QStringLiteral("local after sync"), cart->get(QStringLiteral("apple"))->data,
              cart->get(QStringLiteral("pear"))->data, bool(cart->get(QStringLiteral("plum"))));
        const QByteArray other = rawRequest("POST", api(m_server.url(), QStringLiteral("/sign-in/email")),
                                            { { "email", email }, { "password", Password } }).setAuthToken;
        const QHash<QString, QJsonObject> server = serverRecords(m_server.url(), other);
        check(QStringLiteral("server"), server.value(QStringLiteral("cart/apple")), server.value(QStringLiteral("cart/pear")),
              server.contains(QStringLiteral("cart/plum")));
    }

    void takenBackChangeDoesNotUndoANewerSyncedOne_data()
    {
        QTest::addColumn<QString>("guestWrites");
        QTest::addColumn<QJsonObject>("apple");   // empty: no apple
        // The guest's put replaces the account's older one.
        QTest::newRow("newer put") << QStringLiteral("put") << QJsonObject{ { QStringLiteral("qty"), 5 } };
        // The guest's patch is folded into the account's older put.
        QTest::newRow("newer patch") << QStringLiteral("patch")
                                     << QJsonObject{ { QStringLiteral("qty"), 5 }, { QStringLiteral("size"), QStringLiteral("L") } };
        // The guest's delete (its tombstone row stays after the sync) drops the older put.
        QTest::newRow("newer delete") << QStringLiteral("delete") << QJsonObject();
    }

    // The account writes the apple offline and signs out; the guest writes it and syncs
    // (nothing of it is pending any more); the account signs in again and takes its older
    // change back: the guest's newer write still wins, here and on the server.
    void takenBackChangeDoesNotUndoANewerSyncedOne()
    {
        QFETCH(QString, guestWrites);
        QFETCH(QJsonObject, apple);
        const auto appleOf = [](const std::optional<Kernia::Record> &r) { return r ? r->data : QJsonObject(); };
        Install install;
        const QString email = uniqueEmail();
        auto client = signedUpWithoutAutoSync(m_server.url(), install, email);
        QVERIFY(client);
        Kernia::Collection *cart = client->collection(QStringLiteral("cart"));
        QCOMPARE(cart->put(QStringLiteral("apple"), QJsonObject{ { QStringLiteral("qty"), 1 }, { QStringLiteral("size"), QStringLiteral("L") } }), Error());
        QCOMPARE(await(client->signOut()), Error());
        QCOMPARE(await(client->signInAsGuest()), Error());
        const QJsonObject five{ { QStringLiteral("qty"), 5 } };
        if (guestWrites == QLatin1String("patch"))
            QCOMPARE(cart->patch(QStringLiteral("apple"), five), Error());
        else
            QCOMPARE(cart->put(QStringLiteral("apple"), five), Error());
        if (guestWrites == QLatin1String("delete"))
            QCOMPARE(cart->remove(QStringLiteral("apple")), Error());
        QCOMPARE(await(client->syncNow()), Error());
        QCOMPARE(client->pendingChanges(), 0);
        QCOMPARE(await(client->signInEmail(email, Password)), Error());
        QCOMPARE(appleOf(cart->get(QStringLiteral("apple"))), apple);
        QCOMPARE(await(client->syncNow()), Error());
        QCOMPARE(client->pendingChanges(), 0);
        QCOMPARE(appleOf(cart->get(QStringLiteral("apple"))), apple);
        const QByteArray other = rawRequest("POST", api(m_server.url(), QStringLiteral("/sign-in/email")),
                                            { { "email", email }, { "password", Password } }).setAuthToken;
        QCOMPARE(serverRecords(m_server.url(), other).value(QStringLiteral("cart/apple")), apple);
    }

    // An older SDK's account profile (its changes numbered under the install's id) with a
    // put and then a patch of one record, taken back when the account signs in from a
    // guest: both are queued again under fresh mids, in their order, and the patch is not
    // taken for older than the put.
    void olderSdkChangesOfOneRecordKeepTheirOrder()
    {
        Install install;
        const QString email = uniqueEmail();
        auto client = signedUpWithoutAutoSync(m_server.url(), install, email);
        QVERIFY(client);
        QVERIFY(execOnSdkDatabase(install, QStringLiteral("UPDATE profiles SET client_id = NULL")));   // as before schema 5
        Kernia::Collection *cart = client->collection(QStringLiteral("cart"));
        QCOMPARE(cart->put(QStringLiteral("apple"), QJsonObject{ { QStringLiteral("qty"), 1 } }), Error());
        QCOMPARE(cart->patch(QStringLiteral("apple"), QJsonObject{ { QStringLiteral("qty"), 2 } }), Error());
        QCOMPARE(await(client->signOut()), Error());
        QCOMPARE(await(client->signInAsGuest()), Error());
        QCOMPARE(await(client->signInEmail(email, Password)), Error());
        QCOMPARE(client->pendingChanges(), 2);
        QCOMPARE(cart->get(QStringLiteral("apple"))->data, (QJsonObject{ { QStringLiteral("qty"), 2 } }));
        QCOMPARE(await(client->syncNow()), Error());
        const QByteArray other = rawRequest("POST", api(m_server.url(), QStringLiteral("/sign-in/email")),
                                            { { "email", email }, { "password", Password } }).setAuthToken;
        QCOMPARE(serverRecords(m_server.url(), other).value(QStringLiteral("cart/apple")), (QJsonObject{ { QStringLiteral("qty"), 2 } }));
    }

    // Changes whose push landed but whose answer was lost, on both sides of a take-back:
    // the account's put of the apple before it signed out, and the guest's patch of the
    // fig. Each keeps its mid and its profile's client id, so the server skips both: the
    // apple another device changed since stays as that device wrote it (a second
    // application would undo it), and the guest's newer fig patch still wins over the
    // account's older one taken back with it.
    void takenBackChangeWhoseAnswerWasLostIsNotAppliedTwice()
    {
        Install install;
        const QString email = uniqueEmail();
        auto client = signedUpWithoutAutoSync(m_server.url(), install, email);
        QVERIFY(client);
        Kernia::Collection *cart = client->collection(QStringLiteral("cart"));
        QCOMPARE(cart->put(QStringLiteral("apple"), QJsonObject{ { QStringLiteral("qty"), 1 } }), Error());
        landLatestChange(m_server.url(), install, client.get());
        if (QTest::currentTestFailed())
            return;
        QCOMPARE(cart->patch(QStringLiteral("fig"), QJsonObject{ { QStringLiteral("qty"), 2 }, { QStringLiteral("size"), QStringLiteral("L") } }), Error());
        const QByteArray other = putFromAnotherDevice(m_server.url(), email, QStringLiteral("apple"), 7);
        if (QTest::currentTestFailed())
            return;

        QCOMPARE(await(client->signOut()), Error());
        QCOMPARE(await(client->signInAsGuest()), Error());
        QCOMPARE(cart->patch(QStringLiteral("fig"), QJsonObject{ { QStringLiteral("qty"), 5 } }), Error());
        landLatestChange(m_server.url(), install, client.get());
        if (QTest::currentTestFailed())
            return;
        QCOMPARE(await(client->signInEmail(email, Password)), Error());
        QCOMPARE(client->state(), Client::State::SignedIn);
        QCOMPARE(client->pendingChanges(), 3);   // apple and fig taken back, the guest's fig
        QCOMPARE(await(client->syncNow()), Error());
        QCOMPARE(client->pendingChanges(), 0);

        const QHash<QString, QJsonObject> server = serverRecords(m_server.url(), other);
        const QJsonObject fig{ { QStringLiteral("qty"), 5 }, { QStringLiteral("size"), QStringLiteral("L") } };
        QCOMPARE(server.value(QStringLiteral("cart/apple")), (QJsonObject{ { QStringLiteral("qty"), 7 } }));
        QCOMPARE(server.value(QStringLiteral("cart/fig")), fig);
        QCOMPARE(cart->get(QStringLiteral("apple"))->data, (QJsonObject{ { QStringLiteral("qty"), 7 } }));
        QCOMPARE(cart->get(QStringLiteral("fig"))->data, fig);
    }

    // Two profiles the account left (rare; made by hand here) in a database of an older
    // SDK, whose profiles all pushed under the install's client id. One of them has a later
    // wall-clock time but an older pending change whose mid is at the server's mark for
    // that id: signing in continues neither, both are taken back with fresh mids under the
    // new profile's own client id, and every pending change reaches the server.
    void severalLeftProfilesOfAnOlderSdkAllReachTheServer()
    {
        Install install;
        const QString email = uniqueEmail();
        auto client = makeClient(m_server.url(), install, [](ClientOptions &o) { o.setAutoSync(false); });
        QTRY_VERIFY_WITH_TIMEOUT(client->isReady(), Long);
        QCOMPARE(await(client->signUpEmail(email, Password)), Error());
        const QString first = client->user().localId();
        QVERIFY(execOnSdkDatabase(install, QStringLiteral("UPDATE profiles SET client_id = NULL")));   // as before schema 5
        Kernia::Collection *cart = client->collection(QStringLiteral("cart"));
        QCOMPARE(cart->put(QStringLiteral("plum"), QJsonObject{ { QStringLiteral("qty"), 1 } }), Error());
        QCOMPARE(await(client->syncNow()), Error());   // the server's mark: plum's mid
        const qint64 plumMid = queryDatabase(install, QStringLiteral("SELECT seq FROM sqlite_sequence WHERE name = 'sync_outbox'")).toLongLong();
        QVERIFY(plumMid > 0);
        QCOMPARE(cart->put(QStringLiteral("apple"), QJsonObject{ { QStringLiteral("qty"), 2 } }), Error());
        QCOMPARE(await(client->signOut()), Error());
        // A second left profile, "newer" by the clock, with a pending pear under plum's mid.
        QVERIFY(addProfileWithPendingPut(install, first, QStringLiteral("second-left"), QStringLiteral("signed_out"),
                                         QStringLiteral("NULL"), QString::number(plumMid), QStringLiteral("pear"),
                                         QStringLiteral("{\"qty\":4}")));
        QCOMPARE(await(client->signInEmail(email, Password)), Error());
        QCOMPARE(client->pendingChanges(), 2);
        QCOMPARE(await(client->syncNow()), Error());
        QCOMPARE(client->pendingChanges(), 0);
        const QByteArray other = rawRequest("POST", api(m_server.url(), QStringLiteral("/sign-in/email")),
                                            { { "email", email }, { "password", Password } }).setAuthToken;
        const QHash<QString, QJsonObject> server = serverRecords(m_server.url(), other);
        QCOMPARE(server.value(QStringLiteral("cart/plum")).value(QLatin1String("qty")).toInt(), 1);
        QCOMPARE(server.value(QStringLiteral("cart/apple")).value(QLatin1String("qty")).toInt(), 2);
        QCOMPARE(server.value(QStringLiteral("cart/pear")).value(QLatin1String("qty")).toInt(), 4);
        QCOMPARE(queryDatabase(install, QStringLiteral("SELECT COUNT(*) FROM profiles")).toInt(), 1);
    }

    // Two profiles the account left, each with a pending put of the apple under a client id
    // of its own; the one the clock calls older holds the newer put (the higher mid).
    // Signing in takes both back into a new profile, the older one first, and the newer
    // put wins: it is not taken for older than the other profile's change, which the new
    // profile holds by then.
    void severalLeftProfilesEndWithTheNewestChange()
    {
        Install install;
        const QString email = uniqueEmail();
        auto client = signedUpWithoutAutoSync(m_server.url(), install, email);
        QVERIFY(client);
        const QString first = client->user().localId();
        Kernia::Collection *cart = client->collection(QStringLiteral("cart"));
        QCOMPARE(cart->put(QStringLiteral("apple"), QJsonObject{ { QStringLiteral("qty"), 1 } }), Error());
        QCOMPARE(await(client->signOut()), Error());
        QVERIFY(addProfileWithPendingPut(install, first, QStringLiteral("second-left"), QStringLiteral("signed_out"),
                                         QStringLiteral("'%1:00000000aa'").arg(client->clientId()), QStringLiteral("NULL"),
                                         QStringLiteral("apple"), QStringLiteral("{\"qty\":2}")));
        QCOMPARE(await(client->signInEmail(email, Password)), Error());
        QCOMPARE(cart->get(QStringLiteral("apple"))->data, (QJsonObject{ { QStringLiteral("qty"), 2 } }));
        QCOMPARE(await(client->syncNow()), Error());
        QCOMPARE(client->pendingChanges(), 0);
        const QByteArray other = rawRequest("POST", api(m_server.url(), QStringLiteral("/sign-in/email")),
                                            { { "email", email }, { "password", Password } }).setAuthToken;
        QCOMPARE(serverRecords(m_server.url(), other).value(QStringLiteral("cart/apple")),
                 (QJsonObject{ { QStringLiteral("qty"), 2 } }));
        QCOMPARE(cart->get(QStringLiteral("apple"))->data, (QJsonObject{ { QStringLiteral("qty"), 2 } }));
    }

    // The app adopts offered data of its own account while a push is on its way. The
    // adopted change keeps its lower mid; the push's answer acknowledges only what that
    // push sent, so the adopted change stays queued and goes in the next push.
    void adoptingWhilePushingKeepsTheAdoptedChange()
    {
        Install install;
        const QString email = uniqueEmail();
        auto client = signedUpWithoutAutoSync(m_server.url(), install, email);
        QVERIFY(client);
        // Offered (a lost session's leftovers, say), with a pending apple numbered before
        // anything the current profile writes now.
        QVERIFY(addProfileWithPendingPut(install, client->user().localId(), QStringLiteral("offered-one"),
                                         QStringLiteral("offered"), QStringLiteral("'%1:00000000bb'").arg(client->clientId()),
                                         QStringLiteral("NULL"), QStringLiteral("apple"), QStringLiteral("{\"qty\":3}")));
        QVERIFY(client->offeredLocalData().contains(QStringLiteral("offered-one")));
        Kernia::Collection *cart = client->collection(QStringLiteral("cart"));
        QCOMPARE(cart->put(QStringLiteral("pear"), QJsonObject{ { QStringLiteral("qty"), 1 } }), Error());
        // The cycle reads the outbox and sends the pear at once; a zero timer then runs
        // before the answer can arrive.
        Error adopted = Error::fromKind(Error::Kind::InvalidState, QStringLiteral("not adopted"));
        int pendingBeforeTheAnswer = -1;
        const QMetaObject::Connection watch = connect(client.get(), &Client::syncStateChanged, this, [&](Client::SyncState state) {
            if (state != Client::SyncState::Syncing)
                return;
            QTimer::singleShot(0, this, [&] {
                adopted = client->adoptLocalData(QStringLiteral("offered-one"));
                pendingBeforeTheAnswer = client->pendingChanges();
            });
        });
        QCOMPARE(await(client->syncNow()), Error());
        disconnect(watch);
        QCOMPARE(adopted, Error());
        QCOMPARE(pendingBeforeTheAnswer, 2);
        QCOMPARE(client->pendingChanges(), 0);   // the apple went in the cycle's next push
        const QByteArray other = rawRequest("POST", api(m_server.url(), QStringLiteral("/sign-in/email")),
                                            { { "email", email }, { "password", Password } }).setAuthToken;
        const QHash<QString, QJsonObject> server = serverRecords(m_server.url(), other);
        QCOMPARE(server.value(QStringLiteral("cart/apple")), (QJsonObject{ { QStringLiteral("qty"), 3 } }));
        QCOMPARE(server.value(QStringLiteral("cart/pear")), (QJsonObject{ { QStringLiteral("qty"), 1 } }));
    }

    // Two installs of one app (same appId, default keychain service) with their own data
    // directories each keep their own session token.
    void defaultKeychainEntryIsPerDataDirectory()
    {
        const QString appId = QStringLiteral("kernia-test-app-") + QUuid::createUuid().toString(QUuid::Id128);
        auto byAppId = [&appId](ClientOptions &o) {
            o.setKeychainService(QString());
            o.setAppId(appId);
        };
        Install first, second;
        QString firstId;
        {
            auto client = makeClient(m_server.url(), first, byAppId);
            QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
            firstId = client->user().id();
        }
        {
            auto client = makeClient(m_server.url(), second, byAppId);
            QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
            QVERIFY(client->user().id() != firstId);
        }
        auto client = makeClient(m_server.url(), first, byAppId);
        QTRY_VERIFY_WITH_TIMEOUT(client->isOnline(), Long);
        QCOMPARE(await(client->refreshSession()), Error());
        QCOMPARE(client->state(), Client::State::Guest);
        QCOMPARE(client->user().id(), firstId);
    }

    // An install of an older SDK (its token in the unscoped entry, no fingerprint, no
    // record of the entry) moves the token to its own entry once the server confirmed its
    // user, and keeps its session.
    void olderKeychainEntryIsMovedOnce()
    {
        const QString appId = QStringLiteral("kernia-test-app-") + QUuid::createUuid().toString(QUuid::Id128);
        const QString oldService = QStringLiteral("kernia:") + appId;   // the old default, key "session-token"
        Install install;
        QString id;
        {
            auto client = makeClient(m_server.url(), install, [&](ClientOptions &o) { o.setKeychainService(oldService); });
            QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
            id = client->user().id();
        }
        QCOMPARE(readToken(oldService).error, QKeychain::NoError);
        // What an older SDK's database looks like.
        QVERIFY(execOnSdkDatabase(install, QStringLiteral("UPDATE identity SET token_sha256 = NULL")));
        QVERIFY(execOnSdkDatabase(install, QStringLiteral("DELETE FROM kernia_meta WHERE key = 'keychain.entry'")));
        for (int run = 0; run < 2; ++run) {
            auto client = makeClient(m_server.url(), install, [&appId](ClientOptions &o) {
                o.setKeychainService(QString());
                o.setAppId(appId);
            });
            QTRY_VERIFY_WITH_TIMEOUT(client->isOnline(), Long);
            QCOMPARE(await(client->refreshSession()), Error());
            QCOMPARE(client->user().id(), id);
            QTRY_COMPARE_WITH_TIMEOUT(readToken(oldService).error, QKeychain::EntryNotFound, Long);   // moved, not copied
            QVERIFY(!queryDatabase(install, QStringLiteral("SELECT token_sha256 FROM identity")).toString().isEmpty());
            QVERIFY(!queryDatabase(install, QStringLiteral("SELECT value FROM kernia_meta WHERE key = 'keychain.entry'"))
                             .toString().isEmpty());
        }
    }

    // The keychain entry holds another server user's token (written by another client):
    // the cached account is signed out, not mixed with that user; its data stays for it.
    void foreignTokenIsNotTakenOver_data()
    {
        QTest::addColumn<bool>("olderInstall");
        QTest::addColumn<QString>("code");
        // Not the token this install stored: its own token is gone, whoever that one is.
        QTest::newRow("token fingerprint") << false << QStringLiteral("SESSION_GONE");
        // No fingerprint (an older SDK's database): the server names another user.
        QTest::newRow("install of an older SDK") << true << QStringLiteral("SESSION_USER_MISMATCH");
    }

    void foreignTokenIsNotTakenOver()
    {
        QFETCH(bool, olderInstall);
        QFETCH(QString, code);
        Install install;
        const QString email = uniqueEmail();
        QString localId;
        {
            auto client = makeClient(m_server.url(), install);
            QTRY_VERIFY_WITH_TIMEOUT(client->isReady(), Long);
            QCOMPARE(await(client->signUpEmail(email, Password)), Error());
            QCOMPARE(client->collection(QStringLiteral("cart"))->put(QStringLiteral("apple"),
                                                                    QJsonObject{ { QStringLiteral("qty"), 2 } }), Error());
            localId = client->user().localId();
        }
        const RawReply other = rawRequest("POST", api(m_server.url(), QStringLiteral("/sign-up/email")),
                                          { { "email", uniqueEmail() }, { "password", Password }, { "name", "Other" } });
        QCOMPARE(other.status, 200);
        const QString otherId = userIdOf(other);
        QCOMPARE(writeToken(install.service, QString::fromUtf8(other.setAuthToken)), QKeychain::NoError);
        if (olderInstall)   // no fingerprint of the stored token: only the server can tell
            QVERIFY(execOnSdkDatabase(install, QStringLiteral("UPDATE identity SET token_sha256 = NULL")));

        auto client = makeClient(m_server.url(), install);
        QSignalSpy lost(client.get(), &Client::sessionLost);
        QTRY_COMPARE_WITH_TIMEOUT(client->state(), Client::State::SignedOut, 10000);
        QCOMPARE(lost.count(), 1);
        QCOMPARE(lost.at(0).at(0).value<User>().email(), email);
        QCOMPARE(lost.at(0).at(1).value<Error>().code(), code);
        QCOMPARE(client->lastError().code(), code);
        // Apps show and log these: the other user is not named.
        QVERIFY2(!client->lastError().message().contains(otherId), qPrintable(client->lastError().message()));
        QVERIFY(!lost.at(0).at(1).value<Error>().message().contains(otherId));
        QVERIFY(client->offeredLocalData().isEmpty());   // the account's data is not offered to others
        QTRY_COMPARE_WITH_TIMEOUT(readToken(install.service).error, QKeychain::EntryNotFound, Long);
        // The other user's session is not ours to end.
        QCOMPARE(userIdOf(rawRequest("GET", api(m_server.url(), QStringLiteral("/get-session")), {}, other.setAuthToken)),
                 otherId);

        QCOMPARE(await(client->signInEmail(email, Password)), Error());
        QCOMPARE(client->user().localId(), localId);
        const auto apple = client->collection(QStringLiteral("cart"))->get(QStringLiteral("apple"));
        QVERIFY(apple);
        QCOMPARE(apple->data.value(QLatin1String("qty")).toInt(), 2);
    }

    // An older install (no token fingerprint) finds another user's token in its entry and
    // the app calls syncNow() at start: the token goes to get-session only, which names
    // another user; nothing is pushed to or pulled from that user's data.
    void unconfirmedTokenIsNotUsedForSync()
    {
        Install install;
        const QString email = uniqueEmail();
        {
            auto client = makeClient(m_server.url(), install, [](ClientOptions &o) { o.setAutoSync(false); });
            QTRY_VERIFY_WITH_TIMEOUT(client->isReady(), Long);
            QCOMPARE(await(client->signUpEmail(email, Password)), Error());
            QCOMPARE(client->collection(QStringLiteral("cart"))->put(QStringLiteral("secret-apple"),
                                                                    QJsonObject{ { QStringLiteral("qty"), 2 } }), Error());
        }
        const RawReply other = rawRequest("POST", api(m_server.url(), QStringLiteral("/sign-up/email")),
                                          { { "email", uniqueEmail() }, { "password", Password }, { "name", "Other" } });
        QCOMPARE(other.status, 200);
        const QJsonObject push{ { "clientId", "other-device" },
                                { "mutations", QJsonArray{ QJsonObject{ { "mid", 1 }, { "op", "put" },
                                                                        { "collection", "cart" }, { "id", "others-pear" },
                                                                        { "data", QJsonObject{ { "qty", 9 } } } } } } };
        QCOMPARE(rawRequest("POST", syncApi(m_server.url(), QStringLiteral("/push")), push, other.setAuthToken).status, 200);
        QCOMPARE(writeToken(install.service, QString::fromUtf8(other.setAuthToken)), QKeychain::NoError);
        QVERIFY(execOnSdkDatabase(install, QStringLiteral("UPDATE identity SET token_sha256 = NULL")));

        auto client = makeClient(m_server.url(), install);
        const Error synced = await(client->syncNow());   // at start: before the maintenance's check
        QCOMPARE(synced.code(), QStringLiteral("SESSION_USER_MISMATCH"));
        QVERIFY2(!synced.message().contains(userIdOf(other)), qPrintable(synced.message()));   // not the other id
        QCOMPARE(client->state(), Client::State::SignedOut);
        const QHash<QString, QJsonObject> server = serverRecords(m_server.url(), other.setAuthToken);
        QVERIFY2(!server.contains(QStringLiteral("cart/secret-apple")), "the account's change was pushed to another user");
        QCOMPARE(await(client->signInEmail(email, Password)), Error());
        QVERIFY2(!client->collection(QStringLiteral("cart"))->get(QStringLiteral("others-pear")),
                 "the other user's record was pulled into the account");
        QVERIFY(client->collection(QStringLiteral("cart"))->get(QStringLiteral("secret-apple")));
    }

    // The same offline: the unconfirmed token is not used at all. The operations that need
    // it fail with SESSION_UNCONFIRMED (of the kind of the check's failure, so still
    // transient), which says that the token awaits its check: they used to fail with
    // get-session's own NETWORK_ERROR, as if they had tried to reach the server themselves.
    // Local data works as always, also while the check waits for a server that does not
    // answer, and is pushed once the token is confirmed.
    void unconfirmedTokenWaitsOffline()
    {
        Install install;
        {
            auto client = makeClient(m_server.url(), install, [](ClientOptions &o) { o.setAutoSync(false); });
            QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
        }
        QVERIFY(execOnSdkDatabase(install, QStringLiteral("UPDATE identity SET token_sha256 = NULL")));
        const QString unconfirmed = QStringLiteral("SESSION_UNCONFIRMED");
        const QUrl dead(QStringLiteral("http://127.0.0.1:9"));
        {
            auto client = makeClient(dead, install);
            QTRY_VERIFY_WITH_TIMEOUT(client->isReady(), Long);
            const QList<std::pair<const char *, QFuture<Error>>> waiting{
                { "syncNow", client->syncNow() },
                { "deleteGuest", client->deleteGuest() },
                { "signUpEmail", client->signUpEmail(uniqueEmail(), Password) },
                { "requestMagicLink", client->requestMagicLink(uniqueEmail()) },
            };
            for (const auto &[what, future] : waiting) {
                const Error e = await(future);
                QVERIFY2(e.code() == unconfirmed, qPrintable(QStringLiteral("%1: %2").arg(what, e.toString())));
                QCOMPARE(e.kind(), Error::Kind::Network);
                QVERIFY(e.isTransient());
                QVERIFY2(e.message().contains(QLatin1String("awaits its check")), qPrintable(e.message()));
                QVERIFY2(e.message().contains(QLatin1String("NETWORK_ERROR")), qPrintable(e.message()));   // the check's failure
            }
            QCOMPARE(client->lastError().code(), unconfirmed);
            QCOMPARE(client->state(), Client::State::Guest);
            QVERIFY(client->hasServerSession());
            // Local data is not held up by the check.
            Kernia::Collection *cart = client->collection(QStringLiteral("cart"));
            QCOMPARE(cart->put(QStringLiteral("apple"), QJsonObject{ { QStringLiteral("qty"), 2 } }), Error());
            QCOMPARE(cart->patch(QStringLiteral("apple"), QJsonObject{ { QStringLiteral("ripe"), true } }), Error());
            QCOMPARE(cart->value(QStringLiteral("apple")).value(QStringLiteral("ripe")).toBool(), true);
            QCOMPARE(client->pendingChanges(), 2);
        }
        {   // A server that never answers: the check waits for its timeout; local data does not.
            BadServer hang(BadServer::Mode::Hang);
            auto client = makeClient(hang.url(), install, [](ClientOptions &o) { o.setRequestTimeout(1500); });
            QTRY_VERIFY_WITH_TIMEOUT(client->isReady(), Long);
            QFuture<Error> sync = client->syncNow();
            Kernia::Collection *cart = client->collection(QStringLiteral("cart"));
            QTRY_VERIFY_WITH_TIMEOUT(hang.connections() >= 1, Long);
            QCOMPARE(cart->put(QStringLiteral("pear"), QJsonObject{ { QStringLiteral("qty"), 1 } }), Error());
            QCOMPARE(cart->remove(QStringLiteral("apple")), Error());
            QVERIFY(!cart->get(QStringLiteral("apple")));
            QCOMPARE(cart->count(), 1);
            QCOMPARE(client->pendingChanges(), 4);
            QVERIFY(!sync.isFinished());
            const Error e = await(sync);
            QCOMPARE(e.code(), unconfirmed);
            QCOMPARE(e.kind(), Error::Kind::Timeout);
        }
        QVERIFY(queryDatabase(install, QStringLiteral("SELECT token_sha256 FROM identity")).isNull());
        auto client = makeClient(m_server.url(), install, [](ClientOptions &o) { o.setAutoSync(false); });
        QTRY_VERIFY_WITH_TIMEOUT(client->isOnline(), Long);
        QCOMPARE(await(client->syncNow()), Error());
        QCOMPARE(client->state(), Client::State::Guest);
        // Confirmed: its fingerprint protects the install from now on.
        QVERIFY(!queryDatabase(install, QStringLiteral("SELECT token_sha256 FROM identity")).toString().isEmpty());
        QCOMPARE(client->pendingChanges(), 0);   // what was written meanwhile reached the server
        QCOMPARE(client->collection(QStringLiteral("cart"))->count(), 1);
    }

    // An older guest install (no fingerprint) holds another guest's token; the app signs
    // up at start: the other guest is not linked into the new account (nor deleted).
    void unconfirmedGuestTokenLinksNothing()
    {
        Install install;
        {
            auto client = makeClient(m_server.url(), install, [](ClientOptions &o) { o.setAutoSync(false); });
            QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
        }
        const RawReply other = rawRequest("POST", api(m_server.url(), QStringLiteral("/sign-in/anonymous")), {});
        QCOMPARE(other.status, 200);
        const QJsonObject push{ { "clientId", "other-device" },
                                { "mutations", QJsonArray{ QJsonObject{ { "mid", 1 }, { "op", "put" },
                                                                        { "collection", "cart" }, { "id", "other-guests-pear" },
                                                                        { "data", QJsonObject{ { "qty", 9 } } } } } } };
        QCOMPARE(rawRequest("POST", syncApi(m_server.url(), QStringLiteral("/push")), push, other.setAuthToken).status, 200);
        QCOMPARE(writeToken(install.service, QString::fromUtf8(other.setAuthToken)), QKeychain::NoError);
        QVERIFY(execOnSdkDatabase(install, QStringLiteral("UPDATE identity SET token_sha256 = NULL")));

        auto client = makeClient(m_server.url(), install, [](ClientOptions &o) { o.setAutoSync(false); });
        const QString email = uniqueEmail();
        const Error e = await(client->signUpEmail(email, Password));   // at start: before the maintenance's check
        QCOMPARE(e.code(), QStringLiteral("SESSION_USER_MISMATCH"));
        QCOMPARE(client->state(), Client::State::Guest);   // a new guest; the old one's data is offered
        QCOMPARE(userIdOf(rawRequest("GET", api(m_server.url(), QStringLiteral("/get-session")), {}, other.setAuthToken)),
                 userIdOf(other));   // the other guest still exists
        QCOMPARE(await(client->signUpEmail(email, Password)), Error());
        QCOMPARE(await(client->syncNow()), Error());
        const QByteArray mine = rawRequest("POST", api(m_server.url(), QStringLiteral("/sign-in/email")),
                                           { { "email", email }, { "password", Password } }).setAuthToken;
        QVERIFY2(!serverRecords(m_server.url(), mine).contains(QStringLiteral("cart/other-guests-pear")),
                 "another guest's data was linked into this account");
        QVERIFY(!client->collection(QStringLiteral("cart"))->get(QStringLiteral("other-guests-pear")));
    }

    // Two data directories of an older SDK shared the default entry (X = A, Y = B, B's
    // token there). X starts first with this SDK: it copies the token, get-session names B,
    // X signs out (A's data kept for A) and the old entry is left alone; Y then moves it.
    void sharedOlderEntryGoesToItsOwner()
    {
        const QString appId = QStringLiteral("kernia-test-app-") + QUuid::createUuid().toString(QUuid::Id128);
        const QString oldService = QStringLiteral("kernia:") + appId;
        Install x, y;
        const QString emailA = uniqueEmail(), emailB = uniqueEmail();
        auto shared = [&](ClientOptions &o) { o.setKeychainService(oldService); o.setAutoSync(false); };
        for (auto [inst, email] : { std::pair<Install *, QString>{ &x, emailA }, { &y, emailB } }) {
            auto client = makeClient(m_server.url(), *inst, shared);
            QTRY_VERIFY_WITH_TIMEOUT(client->isReady(), Long);
            QCOMPARE(await(client->signUpEmail(email, Password)), Error());
            QCOMPARE(client->collection(QStringLiteral("cart"))->put(QStringLiteral("apple"), QJsonObject{ { "qty", 1 } }), Error());
        }
        const QString bToken = readToken(oldService).value;
        QVERIFY(!bToken.isEmpty());
        for (Install *inst : { &x, &y }) {   // an older SDK's databases
            QVERIFY(execOnSdkDatabase(*inst, QStringLiteral("UPDATE identity SET token_sha256 = NULL")));
            QVERIFY(execOnSdkDatabase(*inst, QStringLiteral("DELETE FROM kernia_meta WHERE key = 'keychain.entry'")));
        }
        auto byAppId = [&appId](ClientOptions &o) { o.setKeychainService(QString()); o.setAppId(appId); o.setAutoSync(false); };
        {
            auto client = makeClient(m_server.url(), x, byAppId);
            QSignalSpy lost(client.get(), &Client::sessionLost);
            QTRY_COMPARE_WITH_TIMEOUT(lost.count(), 1, Long);
            QCOMPARE(lost.at(0).at(1).value<Error>().code(), QStringLiteral("SESSION_USER_MISMATCH"));
            QCOMPARE(client->state(), Client::State::SignedOut);
            QVERIFY(client->offeredLocalData().isEmpty());
        }
        QCOMPARE(queryDatabase(x, QStringLiteral("SELECT status FROM profiles")).toString(), QStringLiteral("signed_out"));
        QCOMPARE(readToken(oldService).value, bToken);   // not X's to remove
        {
            auto client = makeClient(m_server.url(), y, byAppId);
            QTRY_VERIFY_WITH_TIMEOUT(client->isOnline(), Long);
            QCOMPARE(await(client->refreshSession()), Error());
            QCOMPARE(client->state(), Client::State::SignedIn);
            QCOMPARE(client->user().email(), emailB);
            QTRY_COMPARE_WITH_TIMEOUT(readToken(oldService).error, QKeychain::EntryNotFound, Long);   // moved now
        }
        {   // and Y keeps it at the next start, from its own entry
            auto client = makeClient(m_server.url(), y, byAppId);
            QTRY_VERIFY_WITH_TIMEOUT(client->isOnline(), Long);
            QCOMPARE(await(client->refreshSession()), Error());
            QCOMPARE(client->user().email(), emailB);
        }
        auto client = makeClient(m_server.url(), x, byAppId);
        QTRY_VERIFY_WITH_TIMEOUT(client->isOnline(), Long);
        QCOMPARE(client->state(), Client::State::SignedOut);
        QCOMPARE(await(client->signInEmail(emailA, Password)), Error());
        QVERIFY(client->collection(QStringLiteral("cart"))->get(QStringLiteral("apple")));
        QCOMPARE(client->pendingChanges(), 1);
    }

    // 2: magic link URL without a token; and the link flow when the server has it.
    void magicLink()
    {
        Install install;
        auto client = makeClient(m_server.url(), install);
        QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
        const User guest = client->user();
        Error e = await(client->completeMagicLink(QUrl(QStringLiteral("myapp://auth/callback?foo=bar"))));
        QCOMPARE(e.code(), QStringLiteral("INVALID_ARGUMENT"));

        // A wrong link token: the guest stays intact and the error is visible.
        QUrl link = api(m_server.url(), QStringLiteral("/magic-link/verify"));
        link.setQuery(QStringLiteral("token=doesnotexist&callbackURL=%2F"));
        e = await(client->completeMagicLink(link));
        QVERIFY(e.isError());
        QCOMPARE(client->state(), Client::State::Guest);
        QCOMPARE(client->user(), guest);
        QCOMPARE(client->lastError(), e);
        QCOMPARE(e.code(), QStringLiteral("INVALID_TOKEN"));

        // The real flow: request a link as the guest, hand the mailed URL to the client;
        // the new session reaches the app and the guest is upgraded.
        const QString email = uniqueEmail();
        QSignalSpy upgraded(client.get(), &Client::guestUpgraded);
        QCOMPARE(await(client->requestMagicLink(email)), Error());
        QCOMPARE(client->state(), Client::State::Guest);
        const QJsonObject mail = lastMail(QStringLiteral("magic-link"), email);
        QVERIFY2(!mail.isEmpty(), "no magic-link mail in the outbox");
        const QUrl url(mail.value(QLatin1String("url")).toString());
        QVERIFY(url.isValid());
        QCOMPARE(await(client->completeMagicLink(url)), Error());
        QCOMPARE(client->state(), Client::State::SignedIn);
        QCOMPARE(client->user().email(), email);
        QCOMPARE(client->user().localId(), guest.localId());
        QCOMPARE(upgraded.count(), 1);
        QCOMPARE(upgraded.at(0).at(0).value<User>().id(), guest.id());
        // The link is single-use.
        QCOMPARE(await(client->signOut()), Error());
        QCOMPARE(await(client->completeMagicLink(url)).code(), QStringLiteral("INVALID_TOKEN"));
        QCOMPARE(client->state(), Client::State::SignedOut);
    }

    // A guest with synced and pending records whose link was asked for elsewhere — signed
    // out, or by another install's guest: the server signs this install in to the account
    // without linking the guest, so its data must not be taken for the account's (the
    // account's full pull would drop it). It is offered; adopting pushes all of it.
    void magicLinkRequestedElsewhereOffersTheGuestData_data()
    {
        QTest::addColumn<bool>("byAnotherGuest");
        QTest::addColumn<bool>("adopt");
        QTest::addColumn<bool>("thisGuestAskedToo");
        QTest::newRow("signed out, adopted") << false << true << false;
        QTest::newRow("another install's guest, discarded") << true << false << false;
        // This guest asked for a link to the same address too, but follows the other one:
        // the server says it linked nobody (kernia-linked-guest), the address alone would not.
        QTest::newRow("also by this guest, signed out, adopted") << false << true << true;
        QTest::newRow("also by this guest, another install's guest, discarded") << true << false << true;
    }
    void magicLinkRequestedElsewhereOffersTheGuestData()
    {
        QFETCH(bool, byAnotherGuest);
        QFETCH(bool, adopt);
        QFETCH(bool, thisGuestAskedToo);
        Install install;
        auto client = makeClient(m_server.url(), install, [](ClientOptions &o) { o.setAutoSync(false); });
        QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
        const User guest = client->user();
        Kernia::Collection *cart = client->collection(QStringLiteral("cart"));
        QCOMPARE(cart->put(QStringLiteral("apple"), QJsonObject{ { QStringLiteral("qty"), 1 } }), Error());
        QCOMPARE(cart->put(QStringLiteral("pear"), QJsonObject{ { QStringLiteral("qty"), 2 } }), Error());
        QCOMPARE(await(client->syncNow()), Error());
        QCOMPARE(cart->put(QStringLiteral("fig"), QJsonObject{ { QStringLiteral("qty"), 3 } }), Error());
        QCOMPARE(client->pendingChanges(), 1);
        QTRY_COMPARE_WITH_TIMEOUT(readToken(install.service).error, QKeychain::NoError, Long);
        const QByteArray guestToken = readToken(install.service).value.toUtf8();

        const QString email = uniqueEmail();
        QJsonObject ownMail;
        if (thisGuestAskedToo) {
            QCOMPARE(await(client->requestMagicLink(email)), Error());
            ownMail = lastMail(QStringLiteral("magic-link"), email);
            QVERIFY(!ownMail.isEmpty());
        }
        Install otherInstall;
        std::unique_ptr<Client> other;
        if (byAnotherGuest) {
            other = makeClient(m_server.url(), otherInstall);
            QTRY_VERIFY_WITH_TIMEOUT(other->hasServerSession(), Long);
            QCOMPARE(await(other->requestMagicLink(email)), Error());
        } else {
            QCOMPARE(rawRequest("POST", api(m_server.url(), QStringLiteral("/sign-in/magic-link")),
                                { { "email", email } }).status, 200);
        }
        const QJsonObject mail = lastMail(QStringLiteral("magic-link"), email);
        QVERIFY2(!mail.isEmpty(), "no magic-link mail in the outbox");
        QVERIFY(mail.value(QLatin1String("url")) != ownMail.value(QLatin1String("url")));

        QSignalSpy upgraded(client.get(), &Client::guestUpgraded);
        QSignalSpy signedIn(client.get(), &Client::signedIn);
        QSignalSpy offered(client.get(), &Client::localDataOffered);
        QCOMPARE(await(client->completeMagicLink(QUrl(mail.value(QLatin1String("url")).toString()))), Error());
        QCOMPARE(client->state(), Client::State::SignedIn);
        QCOMPARE(client->user().email(), email);
        QCOMPARE(upgraded.count(), 0);
        QCOMPARE(signedIn.count(), 1);
        QVERIFY(client->user().localId() != guest.localId());
        QCOMPARE(client->offeredLocalData(), QStringList{ guest.localId() });
        QCOMPARE(offered.count(), 1);
        QCOMPARE(offered.at(0).at(0).toString(), guest.localId());
        QCOMPARE(client->offeredLocalDataUser(guest.localId()).id(), guest.id());
        // The account's full pull leaves the guest's records alone.
        QCOMPARE(await(client->syncNow()), Error());
        QCOMPARE(cart->count(), 0);
        QCOMPARE(client->offeredLocalData(), QStringList{ guest.localId() });
        QCOMPARE(queryDatabase(install, QStringLiteral("SELECT COUNT(*) FROM sync_records WHERE owner_local_id = '%1'")
                                                .arg(guest.localId())).toInt(), 3);
        // The server did not link: the guest keeps what it synced, the account has nothing.
        QCOMPARE(serverRecords(m_server.url(), guestToken).size(), 2);
        const QByteArray accountToken = readToken(install.service).value.toUtf8();
        QVERIFY(accountToken != guestToken);
        QVERIFY(serverRecords(m_server.url(), accountToken).isEmpty());

        if (adopt) {
            QCOMPARE(client->adoptLocalData(guest.localId()), Error());
            QCOMPARE(cart->count(), 3);
            QCOMPARE(await(client->syncNow()), Error());
            QCOMPARE(client->pendingChanges(), 0);
            const QHash<QString, QJsonObject> server = serverRecords(m_server.url(), accountToken);
            QCOMPARE(server.size(), 3);
            QCOMPARE(server.value(QStringLiteral("cart/apple")).value(QLatin1String("qty")).toInt(), 1);
            QCOMPARE(server.value(QStringLiteral("cart/pear")).value(QLatin1String("qty")).toInt(), 2);
            QCOMPARE(server.value(QStringLiteral("cart/fig")).value(QLatin1String("qty")).toInt(), 3);
        } else {
            QCOMPARE(client->discardLocalData(guest.localId()), Error());
            QCOMPARE(await(client->syncNow()), Error());
            QCOMPARE(cart->count(), 0);
            QVERIFY(serverRecords(m_server.url(), accountToken).isEmpty());
            QCOMPARE(queryDatabase(install, QStringLiteral("SELECT COUNT(*) FROM sync_records WHERE owner_local_id = '%1'")
                                                    .arg(guest.localId())).toInt(), 0);
        }
        QVERIFY(client->offeredLocalData().isEmpty());
        if (other) {
            // The requesting guest was not at the click: it is still a guest.
            QCOMPARE(other->state(), Client::State::Guest);
        }
    }

    // The guest asked for the link, and the app restarted before the link came back: it
    // is still this guest's link, so it upgrades as ever.
    void magicLinkRequestedByThisGuestSurvivesARestart()
    {
        Install install;
        const QString email = uniqueEmail();
        User guest;
        {
            auto client = makeClient(m_server.url(), install, [](ClientOptions &o) { o.setAutoSync(false); });
            QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
            guest = client->user();
            Kernia::Collection *cart = client->collection(QStringLiteral("cart"));
            QCOMPARE(cart->put(QStringLiteral("apple"), QJsonObject{ { QStringLiteral("qty"), 1 } }), Error());
            QCOMPARE(await(client->syncNow()), Error());
            QCOMPARE(await(client->requestMagicLink(email)), Error());
        }
        const QJsonObject mail = lastMail(QStringLiteral("magic-link"), email);
        QVERIFY2(!mail.isEmpty(), "no magic-link mail in the outbox");

        auto client = makeClient(m_server.url(), install, [](ClientOptions &o) { o.setAutoSync(false); });
        QCOMPARE(client->user().id(), guest.id());
        QSignalSpy upgraded(client.get(), &Client::guestUpgraded);
        QSignalSpy signedIn(client.get(), &Client::signedIn);
        QCOMPARE(await(client->completeMagicLink(QUrl(mail.value(QLatin1String("url")).toString()))), Error());
        QCOMPARE(client->state(), Client::State::SignedIn);
        QCOMPARE(client->user().email(), email);
        QCOMPARE(client->user().localId(), guest.localId());
        QCOMPARE(upgraded.count(), 1);
        QCOMPARE(signedIn.count(), 0);
        QVERIFY(client->offeredLocalData().isEmpty());
        QCOMPARE(await(client->syncNow()), Error());
        QVERIFY(client->collection(QStringLiteral("cart"))->get(QStringLiteral("apple")));
        const QHash<QString, QJsonObject> server = serverRecords(m_server.url(), readToken(install.service).value.toUtf8());
        QCOMPARE(server.size(), 1);
        QVERIFY(server.contains(QStringLiteral("cart/apple")));
    }

    // Guest A asked for the link, then lost its session and was replaced by guest B: the
    // server links only A, so B completing the link is not linked and B's data is offered.
    void magicLinkOfAReplacedGuestIsNotTheNewGuests()
    {
        Install install;
        const QString email = uniqueEmail();
        auto client = makeClient(m_server.url(), install, [](ClientOptions &o) { o.setAutoSync(false); });
        QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
        const User a = client->user();
        QCOMPARE(await(client->requestMagicLink(email)), Error());
        const QJsonObject mail = lastMail(QStringLiteral("magic-link"), email);
        QVERIFY2(!mail.isEmpty(), "no magic-link mail in the outbox");
        // A's session ends on the server (here: the guest is deleted); the client notices.
        QTRY_COMPARE_WITH_TIMEOUT(readToken(install.service).error, QKeychain::NoError, Long);
        QCOMPARE(rawRequest("POST", api(m_server.url(), QStringLiteral("/delete-anonymous-user")), {},
                            readToken(install.service).value.toUtf8()).status, 200);
        QSignalSpy lost(client.get(), &Client::sessionLost);
        QVERIFY(await(client->refreshSession()).isError());
        QCOMPARE(lost.count(), 1);
        QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
        const User b = client->user();
        QVERIFY(b.id() != a.id());
        QCOMPARE(client->offeredLocalData(), QStringList{ a.localId() });
        Kernia::Collection *cart = client->collection(QStringLiteral("cart"));
        QCOMPARE(cart->put(QStringLiteral("pear"), QJsonObject{ { QStringLiteral("qty"), 2 } }), Error());
        QCOMPARE(await(client->syncNow()), Error());

        QSignalSpy upgraded(client.get(), &Client::guestUpgraded);
        QSignalSpy signedIn(client.get(), &Client::signedIn);
        QCOMPARE(await(client->completeMagicLink(QUrl(mail.value(QLatin1String("url")).toString()))), Error());
        QCOMPARE(client->state(), Client::State::SignedIn);
        QCOMPARE(client->user().email(), email);
        QCOMPARE(upgraded.count(), 0);
        QCOMPARE(signedIn.count(), 1);
        QVERIFY(client->user().localId() != b.localId());
        QVERIFY(client->offeredLocalData().contains(b.localId()));
        QCOMPARE(await(client->syncNow()), Error());
        QCOMPARE(cart->count(), 0);
        QCOMPARE(client->adoptLocalData(b.localId()), Error());
        QCOMPARE(await(client->syncNow()), Error());
        const QHash<QString, QJsonObject> server = serverRecords(m_server.url(), readToken(install.service).value.toUtf8());
        QCOMPARE(server.value(QStringLiteral("cart/pear")).value(QLatin1String("qty")).toInt(), 2);
    }

    void username()
    {
        Install install;
        auto client = makeClient(m_server.url(), install);
        QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
        const Error e = await(client->signInUsername(QStringLiteral("nobody_here"), Password));
        QVERIFY(e.isError());
        QCOMPARE(client->state(), Client::State::Guest);
        QCOMPARE(e.code(), QStringLiteral("INVALID_USERNAME_OR_PASSWORD"));
        const QString name = QStringLiteral("user_%1").arg(QUuid::createUuid().toString(QUuid::Id128).left(10));
        QCOMPARE(await(client->signUpUsername(name, Password, uniqueEmail())), Error());
        QCOMPARE(client->state(), Client::State::SignedIn);
        QCOMPARE(client->user().username(), name.toLower());
        QCOMPARE(await(client->signOut()), Error());
        QCOMPARE(await(client->signInUsername(name, Password)), Error());
        QCOMPARE(client->user().username(), name.toLower());
    }
};

int main(int argc, char **argv)
{
    if (argc > 1 && qstrcmp(argv[1], "--signup-child") == 0)
        return signUpChild(argc, argv);
    QCoreApplication app(argc, argv);
    TestClient test;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}

#include "tst_client.moc"
