// Kernia::Client with no usable keychain (ctest runs this with a session bus address
// that leads nowhere). The client must say so clearly and never fall back to plaintext
// unless the app opted in.
#include "clientfixture.h"

#include <Kernia/Collection>

#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

using Kernia::Client;
using Kernia::ClientOptions;
using Kernia::Error;
using namespace KerniaTest;

class TestNoKeychain : public QObject
{
    Q_OBJECT

    TestServer m_server;
    QTemporaryDir m_dir;

    std::unique_ptr<Client> makeClient(const QString &sub, bool plaintext)
    {
        ClientOptions options(m_server.url());
        options.setDataDirectory(m_dir.filePath(sub));
        options.setKeychainService(QStringLiteral("kernia-test-nokeychain:") + sub);
        options.setRetryInitialDelay(100);
        options.setRetryMaxDelay(1000);
        options.setUseSystemNetworkInformation(false);
        options.setAllowInsecurePlaintextTokenStorage(plaintext);
        return std::make_unique<Client>(options);
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY2(QFile::exists(serverBinary()), "KERNIA_SERVER is not set or missing");
        QVERIFY2(m_server.start(), qPrintable(m_server.output()));
        // ctest points this test at a session bus that leads nowhere; a working keychain
        // here means that set-up is broken, and every test below would prove nothing.
        const KeychainEntry probe = readToken(QStringLiteral("kernia-test-nokeychain-probe"));
        QVERIFY2(probe.error != QKeychain::NoError && probe.error != QKeychain::EntryNotFound,
                 "a keychain answered although this test runs without one");
    }

    void reportsClearlyAndKeepsUser()
    {
        QString userId;
        {
            auto client = makeClient(QStringLiteral("a"), false);
            QCOMPARE(client->state(), Client::State::Guest);
            QTRY_VERIFY_WITH_TIMEOUT(client->isReady(), Long);
            QVERIFY(!client->isKeychainAvailable());
            // The guest still gets its server session for this run (token in memory)...
            QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
            userId = client->user().id();
            // ...and the problem is visible.
            QTRY_COMPARE_WITH_TIMEOUT(client->lastError().code(), QStringLiteral("KEYCHAIN_UNAVAILABLE"), Long);
            QCOMPARE(client->lastError().kind(), Error::Kind::KeychainUnavailable);
            QCOMPARE(await(client->refreshSession()), Error());
        }
        // No plaintext token anywhere without the opt-in.
        QVERIFY(!QFile::exists(m_dir.filePath(QStringLiteral("a/session-token.insecure"))));

        // Restart: the user is restored and not replaced (no definite answer), the
        // error says why the session cannot be used.
        auto client = makeClient(QStringLiteral("a"), false);
        QCOMPARE(client->state(), Client::State::Guest);
        QCOMPARE(client->user().id(), userId);
        QTRY_COMPARE_WITH_TIMEOUT(client->lastError().code(), QStringLiteral("KEYCHAIN_UNAVAILABLE"), Long);
        QTRY_VERIFY_WITH_TIMEOUT(client->isOnline(), Long);
        const Error e = await(client->refreshSession());
        QCOMPARE(e.code(), QStringLiteral("KEYCHAIN_UNAVAILABLE"));
        QCOMPARE(client->user().id(), userId);
        QCOMPARE(client->state(), Client::State::Guest);
    }

    void plaintextOnlyWhenOptedIn()
    {
        QString userId;
        {
            auto client = makeClient(QStringLiteral("b"), true);
            QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
            userId = client->user().id();
            QVERIFY(!client->isKeychainAvailable());
        }
        const QString file = m_dir.filePath(QStringLiteral("b/session-token.insecure"));
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(file), Long);
        QCOMPARE(QFile::permissions(file) & (QFileDevice::ReadGroup | QFileDevice::ReadOther), QFileDevice::Permissions());

        auto client = makeClient(QStringLiteral("b"), true);
        QTRY_VERIFY_WITH_TIMEOUT(client->isReady(), Long);
        QTRY_VERIFY_WITH_TIMEOUT(client->isOnline(), Long);
        QCOMPARE(await(client->refreshSession()), Error());
        QCOMPARE(client->user().id(), userId);
        QCOMPARE(await(client->signOut()), Error());
        QVERIFY(!QFile::exists(file));
    }

    // The token could not be stored anywhere (no keychain, the opt-in file cannot be
    // written): the account works for this run; after a restart that reads "no token"
    // it is signed out without its data being offered away, and signing in again
    // gets the data back.
    void unstoredTokenKeepsTheAccountsData()
    {
        const QString file = m_dir.filePath(QStringLiteral("c/session-token.insecure"));
        QVERIFY(QDir().mkpath(file));   // a directory where the token file goes: every write fails
        const QString email = QStringLiteral("n%1@example.com").arg(QUuid::createUuid().toString(QUuid::Id128).left(16));
        QString localId;
        {
            auto client = makeClient(QStringLiteral("c"), true);
            QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
            QCOMPARE(await(client->signUpEmail(email, QStringLiteral("password123"))), Error());
            QCOMPARE(client->state(), Client::State::SignedIn);
            QVERIFY2(client->lastError().isError(), "the token could not be stored: lastError says so");
            QVERIFY(client->collection(QStringLiteral("cart"))->put(QStringLiteral("apple"),
                                                                   QJsonObject{ { QStringLiteral("qty"), 2 } }).isError() == false);
            localId = client->user().localId();
        }
        QVERIFY(QDir(file).removeRecursively());   // from now on the token file works

        auto client = makeClient(QStringLiteral("c"), true);
        QTRY_VERIFY_WITH_TIMEOUT(client->isReady(), Long);
        QTRY_COMPARE_WITH_TIMEOUT(client->state(), Client::State::SignedOut, Long);
        QVERIFY(client->lastError().isError());
        QVERIFY(client->offeredLocalData().isEmpty());
        QTRY_VERIFY_WITH_TIMEOUT(client->isOnline(), Long);
        QCOMPARE(await(client->signInEmail(email, QStringLiteral("password123"))), Error());
        QCOMPARE(client->user().localId(), localId);
        const auto apple = client->collection(QStringLiteral("cart"))->get(QStringLiteral("apple"));
        QVERIFY(apple);
        QCOMPARE(apple->data.value(QLatin1String("qty")).toInt(), 2);
    }
};

QTEST_GUILESS_MAIN(TestNoKeychain)
#include "tst_nokeychain.moc"
