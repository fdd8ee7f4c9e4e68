// Kernia collections and sync against a real kernia-server process: offline writes,
// guest upgrade (sign-up and sign-in, with the account's own data), a guest that never
// reached the server, convergence of two devices, a push retried after the server was
// SIGKILLed mid-push, and an app SIGKILLed at random points (tests/sdk/sync_worker.cpp).
// Every wait is bounded.
#include "clientfixture.h"

#include <Kernia/Collection>

#include <QtCore/QDir>
#include <QtCore/QRegularExpression>
#include <QtCore/QJsonArray>
#include <QtCore/QRandomGenerator>
#include <QtCore/QUrlQuery>
#include <QtSql/QSqlDatabase>
#include <QtSql/QSqlError>
#include <QtSql/QSqlQuery>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <signal.h>
#include <sys/types.h>

using Kernia::Client;
using Kernia::ClientOptions;
using Kernia::Collection;
using Kernia::Error;
using Kernia::Record;
using namespace KerniaTest;

namespace {

QString uniqueEmail()
{
    return KerniaTest::uniqueEmail(QLatin1Char('s'));
}

QJsonObject obj(std::initializer_list<QPair<QString, QJsonValue>> fields)
{
    QJsonObject o;
    for (const auto &f : fields)
        o.insert(f.first, f.second);
    return o;
}

// The server's view of one user, pulled with a bearer token.
struct ServerState
{
    qint64 version = -1;
    QHash<QString, QJsonObject> live;   // "collection/id" -> data
    int tombstones = 0;
    int status = 0;
};

ServerState pullAll(const QUrl &server, const QByteArray &token)
{
    ServerState state;
    qint64 since = 0;
    for (int page = 0; page < 100; ++page) {
        QUrl url = server;
        url.setPath(QStringLiteral("/api/sync/pull"));
        url.setQuery(QStringLiteral("since=%1&limit=1000").arg(since));
        const RawReply r = rawRequest("GET", url, {}, token);
        state.status = r.status;
        if (r.status != 200)
            return state;
        const QJsonObject body = r.body.toObject();
        const QJsonArray changes = body.value(QLatin1String("changes")).toArray();
        for (const QJsonValue &v : changes) {
            const QJsonObject c = v.toObject();
            const QString key = c.value(QLatin1String("collection")).toString() + QLatin1Char('/')
                    + c.value(QLatin1String("id")).toString();
            if (c.value(QLatin1String("deleted")).toBool()) {
                ++state.tombstones;
                state.live.remove(key);
            } else {
                state.live.insert(key, c.value(QLatin1String("data")).toObject());
            }
        }
        since = qint64(body.value(QLatin1String("version")).toDouble());
        state.version = since;
        if (!body.value(QLatin1String("more")).toBool())
            break;
    }
    return state;
}

QByteArray signUpRaw(const QUrl &server, const QString &email)
{
    const RawReply r = rawRequest("POST", api(server, QStringLiteral("/sign-up/email")),
                                  QJsonObject{ { QStringLiteral("email"), email },
                                               { QStringLiteral("password"), Password },
                                               { QStringLiteral("name"), QStringLiteral("Sync Test") } });
    return r.status == 200 ? r.setAuthToken : QByteArray();
}

QByteArray signInRaw(const QUrl &server, const QString &email)
{
    const RawReply r = rawRequest("POST", api(server, QStringLiteral("/sign-in/email")),
                                  QJsonObject{ { QStringLiteral("email"), email }, { QStringLiteral("password"), Password } });
    return r.status == 200 ? r.setAuthToken : QByteArray();
}

// "id" -> data of a collection's live records, for comparisons.
QHash<QString, QJsonObject> contents(Collection *c)
{
    QHash<QString, QJsonObject> out;
    const QList<Record> records = c->list();
    for (const Record &r : records)
        out.insert(r.id, r.data);
    return out;
}

} // namespace

class TestSync : public QObject
{
    Q_OBJECT

private:
    // The shared test client, pushing 50 ms after a write.
    std::unique_ptr<Client> makeClient(const QUrl &url, const Install &install,
                                       const std::function<void(ClientOptions &)> &tweak = {})
    {
        return KerniaTest::makeClient(url, install, [&tweak](ClientOptions &options) {
            options.setSyncDelay(50);
            if (tweak)
                tweak(options);
        });
    }

    // A second device of an account: signs in, pulls, and is returned ready.
    std::unique_ptr<Client> secondDevice(const QUrl &url, const Install &install, const QString &email)
    {
        auto client = makeClient(url, install, [](ClientOptions &o) { o.setAutomaticGuest(false); });
        const Error e = await(client->signInEmail(email, Password));
        if (e.isError()) {
            qWarning() << "second device sign-in failed:" << e;
            return nullptr;
        }
        const Error s = await(client->syncNow());
        if (s.isError()) {
            qWarning() << "second device sync failed:" << s;
            return nullptr;
        }
        return client;
    }

    static bool settled(Client *c) { return c->pendingChanges() == 0 && c->syncState() == Client::SyncState::Idle; }

    TestServer m_server;

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY2(!serverBinary().isEmpty(), "KERNIA_SERVER is not set");
        QVERIFY2(m_server.start(), qPrintable(m_server.output()));
        QCOMPARE(probeKeychain(), QKeychain::NoError);
    }

    // Local writes: validation, one record + one outbox entry each, notifications, model.
    void localWritesAndModel()
    {
        Install install;
        const QUrl down(QStringLiteral("http://127.0.0.1:%1").arg(freePort()));
        auto client = makeClient(down, install);
        Collection *cart = client->collection(QStringLiteral("cart"));
        QCOMPARE(client->collection(QStringLiteral("cart")), cart);   // one object per name
        QCOMPARE(cart->name(), QStringLiteral("cart"));

        Kernia::CollectionModel model;
        model.setFields({ QStringLiteral("qty") });
        model.setCollection(cart);
        QSignalSpy changed(cart, &Collection::recordChanged);

        QVERIFY(!cart->put(QStringLiteral("b"), obj({ { QStringLiteral("qty"), 1 } })).isError());
        QVERIFY(!cart->put(QStringLiteral("a"), obj({ { QStringLiteral("qty"), 2 }, { QStringLiteral("x"), 1 } })).isError());
        QVERIFY(!cart->patch(QStringLiteral("a"), obj({ { QStringLiteral("x"), QJsonValue::Null },
                                                        { QStringLiteral("note"), QStringLiteral("ripe") } })).isError());
        QVERIFY(!cart->remove(QStringLiteral("b")).isError());
        QCOMPARE(changed.count(), 4);
        QCOMPARE(cart->count(), 1);
        QCOMPARE(client->pendingChanges(), 4);
        const auto a = cart->get(QStringLiteral("a"));
        QVERIFY(a);
        QVERIFY(a->pending);
        QCOMPARE(a->data, obj({ { QStringLiteral("qty"), 2 }, { QStringLiteral("note"), QStringLiteral("ripe") } }));
        QCOMPARE(cart->value(QStringLiteral("a")).value(QStringLiteral("qty")).toInt(), 2);
        QVERIFY(!cart->get(QStringLiteral("b")));

        QCOMPARE(model.rowCount(), 1);
        QCOMPARE(model.data(model.index(0), Kernia::CollectionModel::IdRole).toString(), QStringLiteral("a"));
        QCOMPARE(model.data(model.index(0), Kernia::CollectionModel::FirstFieldRole).toInt(), 2);
        QCOMPARE(model.data(model.index(0), Kernia::CollectionModel::PendingRole).toBool(), true);
        QVERIFY(model.roleNames().values().contains("qty"));

        // Invalid input is refused and writes nothing.
        QCOMPARE(cart->put(QString(), {}).kind(), Error::Kind::InvalidArgument);
        QCOMPARE(cart->put(QString(QChar(0xD800)), {}).kind(), Error::Kind::InvalidArgument);   // lone surrogate
        QCOMPARE(client->collection(QStringLiteral("bad name!"))->put(QStringLiteral("x"), {}).kind(),
                 Error::Kind::InvalidArgument);
        QJsonObject huge{ { QStringLiteral("blob"), QString(70000, QLatin1Char('x')) } };
        QCOMPARE(cart->put(QStringLiteral("big"), huge).kind(), Error::Kind::InvalidArgument);
        QCOMPARE(client->pendingChanges(), 4);

        // The outbox survives a restart.
        client.reset();
        auto again = makeClient(down, install);
        QCOMPARE(again->pendingChanges(), 4);
        QCOMPARE(again->collection(QStringLiteral("cart"))->count(), 1);
    }

    // The model keeps its rows in the store's order (SQLite compares ids by their UTF-8
    // bytes, i.e. by code point), also for ids where UTF-16 order differs: "ａ" (U+FF41)
    // comes before "😀" (U+1F600) in code point order but after it in UTF-16 units. A write
    // neither duplicates nor misplaces a row, whether the model was filled by writes one at
    // a time or loaded at once. It used to search in UTF-16 order: a loaded model showed a
    // patched "😀" twice.
    void modelOrderMatchesStore()
    {
        Install install;
        const QUrl down(QStringLiteral("http://127.0.0.1:%1").arg(freePort()));
        auto client = makeClient(down, install);
        Collection *cart = client->collection(QStringLiteral("cart"));
        auto ids = [](const QList<Record> &records) {
            QStringList out;
            for (const Record &r : records)
                out.append(r.id);
            return out;
        };
        auto modelIds = [](const Kernia::CollectionModel &model) {
            QStringList out;
            for (int row = 0; row < model.rowCount(); ++row)
                out.append(model.data(model.index(row), Kernia::CollectionModel::IdRole).toString());
            return out;
        };
        // ASCII, U+00E9, U+D7FF (below the surrogates), U+E000, U+FF41, U+FFFD, U+1D49C, U+1F600.
        const QStringList written{ QStringLiteral("😀"), QStringLiteral("a"), QStringLiteral("ａ"),
                                   QString(QChar(0xE000)), QStringLiteral("𝒜"), QStringLiteral("é"),
                                   QString(QChar(0xD7FF)), QStringLiteral("z"), QString(QChar(0xFFFD)),
                                   QStringLiteral("😀x") };

        Kernia::CollectionModel growing;
        growing.setCollection(cart);
        for (const QString &id : written)
            QVERIFY(!cart->put(id, obj({ { QStringLiteral("n"), 1 } })).isError());
        const QStringList stored = ids(cart->list());
        QCOMPARE(stored.size(), written.size());
        QCOMPARE(stored.indexOf(QStringLiteral("ａ")) < stored.indexOf(QStringLiteral("😀")), true);
        QCOMPARE(modelIds(growing), stored);

        Kernia::CollectionModel loaded;
        loaded.setCollection(cart);
        QCOMPARE(modelIds(loaded), stored);
        for (const QString &id : written) {
            QVERIFY(!cart->patch(id, obj({ { QStringLiteral("n"), 2 } })).isError());
            QCOMPARE(modelIds(loaded), stored);
            QCOMPARE(modelIds(growing), stored);
        }
        for (int row = 0; row < loaded.rowCount(); ++row)
            QCOMPARE(loaded.recordAt(row).data.value(QLatin1String("n")).toInt(), 2);

        // Removing each row removes that row.
        QStringList left = stored;
        for (const QString &id : written) {
            QVERIFY(!cart->remove(id).isError());
            left.removeOne(id);
            QCOMPARE(ids(cart->list()), left);
            QCOMPARE(modelIds(loaded), left);
            QCOMPARE(modelIds(growing), left);
        }
    }

    // A local read that fails (here its table is renamed away beside the SDK) answers
    // "nothing" and says why in the log; once the table is back, so is the data.
    void failedLocalReadIsLogged()
    {
        Install install;
        const QUrl down(QStringLiteral("http://127.0.0.1:%1").arg(freePort()));
        auto client = makeClient(down, install);
        Collection *cart = client->collection(QStringLiteral("cart"));
        QVERIFY(!cart->put(QStringLiteral("a"), obj({ { QStringLiteral("qty"), 1 } })).isError());
        QCOMPARE(cart->count(), 1);

        QVERIFY(execOnSdkDatabase(install, QStringLiteral("ALTER TABLE sync_records RENAME TO sync_records_away")));
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("Cannot count records.*no such table")));
        QCOMPARE(cart->count(), 0);
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("Cannot read a record.*no such table")));
        QVERIFY(!cart->get(QStringLiteral("a")));

        QVERIFY(execOnSdkDatabase(install, QStringLiteral("ALTER TABLE sync_records_away RENAME TO sync_records")));
        QCOMPARE(cart->count(), 1);
        QCOMPARE(cart->get(QStringLiteral("a"))->data, obj({ { QStringLiteral("qty"), 1 } }));
    }

    // A local write is the record and its outbox entry, both or neither: when the second
    // half fails (here a trigger refuses outbox rows), the record is not left behind and
    // the error says what failed.
    void failedLocalWriteLeavesNothingBehind()
    {
        Install install;
        const QUrl down(QStringLiteral("http://127.0.0.1:%1").arg(freePort()));
        auto client = makeClient(down, install);
        Collection *cart = client->collection(QStringLiteral("cart"));
        QVERIFY(!cart->put(QStringLiteral("a"), obj({ { QStringLiteral("qty"), 1 } })).isError());

        QVERIFY(execOnSdkDatabase(install, QStringLiteral("CREATE TRIGGER refuse_outbox BEFORE INSERT ON sync_outbox "
                                          "BEGIN SELECT RAISE(ABORT, 'outbox refused by the test'); END")));

        const Error refused = cart->put(QStringLiteral("b"), obj({ { QStringLiteral("qty"), 2 } }));
        QCOMPARE(refused.kind(), Error::Kind::LocalStore);
        QVERIFY2(refused.message().contains(QLatin1String("Cannot queue the change")), qPrintable(refused.message()));
        QVERIFY(!cart->get(QStringLiteral("b")));
        const Error refusedPatch = cart->patch(QStringLiteral("a"), obj({ { QStringLiteral("qty"), 5 } }));
        QCOMPARE(refusedPatch.kind(), Error::Kind::LocalStore);
        QCOMPARE(cart->get(QStringLiteral("a"))->data, obj({ { QStringLiteral("qty"), 1 } }));
        QCOMPARE(client->pendingChanges(), 1);

        QVERIFY(execOnSdkDatabase(install, QStringLiteral("DROP TRIGGER refuse_outbox")));
        QVERIFY(!cart->put(QStringLiteral("b"), obj({ { QStringLiteral("qty"), 2 } })).isError());
        client.reset();
        auto again = makeClient(down, install);
        QCOMPARE(again->pendingChanges(), 2);
        QCOMPARE(again->collection(QStringLiteral("cart"))->count(), 2);
    }

    // put/patch/remove offline, then the server comes up: the guest registers and syncs.
    void offlineWritesThenSync()
    {
        Install install;
        const quint16 port = freePort();
        auto client = makeClient(QUrl(QStringLiteral("http://127.0.0.1:%1").arg(port)), install);
        QTRY_COMPARE_WITH_TIMEOUT(client->lastError().code(), QStringLiteral("NETWORK_ERROR"), Long);
        QCOMPARE(client->syncState(), Client::SyncState::Offline);
        Collection *cart = client->collection(QStringLiteral("cart"));
        QVERIFY(!cart->put(QStringLiteral("apple"), obj({ { QStringLiteral("qty"), 1 } })).isError());
        QVERIFY(!cart->put(QStringLiteral("pear"), obj({ { QStringLiteral("qty"), 5 } })).isError());
        QVERIFY(!cart->patch(QStringLiteral("apple"), obj({ { QStringLiteral("qty"), 3 }, { QStringLiteral("size"), QStringLiteral("L") } })).isError());
        QVERIFY(!cart->remove(QStringLiteral("pear")).isError());
        QCOMPARE(client->pendingChanges(), 4);

        TestServer late;
        QVERIFY2(late.start(port), qPrintable(late.output()));
        QSignalSpy synced(client.get(), &Client::synced);
        QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
        QTRY_VERIFY_WITH_TIMEOUT(settled(client.get()), Long);
        QVERIFY(synced.count() >= 1);
        QVERIFY(!cart->get(QStringLiteral("apple"))->pending);

        QTRY_COMPARE_WITH_TIMEOUT(readToken(install.service).error, QKeychain::NoError, Long);
        const ServerState server = pullAll(late.url(), readToken(install.service).value.toUtf8());
        QCOMPARE(server.status, 200);
        QCOMPARE(server.version, 4);   // four mutations, each applied once
        QCOMPARE(server.live.size(), 1);
        QCOMPARE(server.live.value(QStringLiteral("cart/apple")),
                 obj({ { QStringLiteral("qty"), 3 }, { QStringLiteral("size"), QStringLiteral("L") } }));
        QCOMPARE(server.tombstones, 1);
    }

    // 40 records of ~60 KB written offline are ~2.4 MB of outbox, more than a server takes
    // in one push (1 MiB body limit): the client splits its pushes by size, so every
    // record still lands (one push of everything was refused with a 413, again and again).
    void largeOutboxIsPushedInParts()
    {
        Install install;
        const quint16 port = freePort();
        auto client = makeClient(QUrl(QStringLiteral("http://127.0.0.1:%1").arg(port)), install);
        QTRY_COMPARE_WITH_TIMEOUT(client->lastError().code(), QStringLiteral("NETWORK_ERROR"), Long);
        Collection *photos = client->collection(QStringLiteral("photos"));
        const QString blob(60000, QLatin1Char('p'));
        for (int i = 0; i < 40; ++i) {
            QVERIFY(!photos->put(QStringLiteral("p%1").arg(i),
                                 obj({ { QStringLiteral("n"), i }, { QStringLiteral("blob"), blob } })).isError());
        }
        QCOMPARE(client->pendingChanges(), 40);

        TestServer late;
        QVERIFY2(late.start(port), qPrintable(late.output()));
        QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
        QTRY_VERIFY_WITH_TIMEOUT(settled(client.get()), Long);
        QCOMPARE(client->pendingChanges(), 0);
        QTRY_COMPARE_WITH_TIMEOUT(readToken(install.service).error, QKeychain::NoError, Long);
        const ServerState server = pullAll(late.url(), readToken(install.service).value.toUtf8());
        QCOMPARE(server.status, 200);
        QCOMPARE(server.version, 40);
        QCOMPARE(server.live.size(), 40);
        QCOMPARE(server.live.value(QStringLiteral("photos/p39")).value(QStringLiteral("blob")).toString(), blob);
    }

    // A registered guest fills its cart while the server is down, then signs up: the
    // account has the cart (seen by a second device).
    void guestOfflineCartSignsUp()
    {
        Install install;
        TestServer server;
        QVERIFY2(server.start(), qPrintable(server.output()));
        const quint16 port = server.port();
        auto client = makeClient(server.url(), install);
        QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
        QTRY_VERIFY_WITH_TIMEOUT(settled(client.get()), Long);
        Collection *cart = client->collection(QStringLiteral("cart"));
        QVERIFY(!cart->put(QStringLiteral("early"), obj({ { QStringLiteral("qty"), 1 } })).isError());
        QTRY_VERIFY_WITH_TIMEOUT(settled(client.get()), Long);   // this one reached the guest on the server

        server.kill();
        QVERIFY(!cart->put(QStringLiteral("shoe"), obj({ { QStringLiteral("qty"), 2 } })).isError());
        QVERIFY(!cart->patch(QStringLiteral("early"), obj({ { QStringLiteral("qty"), 7 } })).isError());
        QTRY_COMPARE_WITH_TIMEOUT(client->syncState(), Client::SyncState::Offline, Long);
        QCOMPARE(client->pendingChanges(), 2);

        QVERIFY2(server.start(port), qPrintable(server.output()));
        const QString email = uniqueEmail();
        QSignalSpy upgraded(client.get(), &Client::guestUpgraded);
        QCOMPARE(await(client->signUpEmail(email, Password)), Error());
        QCOMPARE(upgraded.count(), 1);
        QTRY_VERIFY_WITH_TIMEOUT(settled(client.get()), Long);

        Install other;
        auto second = secondDevice(server.url(), other, email);
        QVERIFY(second);
        Collection *cart2 = second->collection(QStringLiteral("cart"));
        QCOMPARE(contents(cart2).size(), 2);
        QCOMPARE(cart2->value(QStringLiteral("shoe")).value(QStringLiteral("qty")).toInt(), 2);
        QCOMPARE(cart2->value(QStringLiteral("early")).value(QStringLiteral("qty")).toInt(), 7);
        QCOMPARE(contents(cart), contents(cart2));
    }

    // A guest signs in to an account whose other device already has a cart: both
    // devices end with the merged cart.
    void guestSignsInToAccountWithCart()
    {
        const QString email = uniqueEmail();
        Install laptopInstall;
        auto laptop = makeClient(m_server.url(), laptopInstall);
        QTRY_VERIFY_WITH_TIMEOUT(laptop->isReady(), Long);
        QCOMPARE(await(laptop->signUpEmail(email, Password)), Error());
        Collection *laptopCart = laptop->collection(QStringLiteral("cart"));
        QVERIFY(!laptopCart->put(QStringLiteral("shoe"), obj({ { QStringLiteral("qty"), 1 }, { QStringLiteral("color"), QStringLiteral("red") } })).isError());
        QVERIFY(!laptopCart->put(QStringLiteral("hat"), obj({ { QStringLiteral("qty"), 1 } })).isError());
        QCOMPARE(await(laptop->syncNow()), Error());
        QCOMPARE(laptop->pendingChanges(), 0);

        Install phoneInstall;
        auto phone = makeClient(m_server.url(), phoneInstall);
        QTRY_VERIFY_WITH_TIMEOUT(phone->hasServerSession(), Long);
        Collection *phoneCart = phone->collection(QStringLiteral("cart"));
        // Later than the laptop's write: the guest's qty wins the field merge.
        QTest::qWait(20);
        QVERIFY(!phoneCart->put(QStringLiteral("shoe"), obj({ { QStringLiteral("qty"), 3 }, { QStringLiteral("size"), QStringLiteral("L") } })).isError());
        QVERIFY(!phoneCart->put(QStringLiteral("sock"), obj({ { QStringLiteral("qty"), 6 } })).isError());
        QCOMPARE(await(phone->syncNow()), Error());
        QCOMPARE(phone->pendingChanges(), 0);
        // One more change still pending at sign-in time.
        QVERIFY(!phoneCart->patch(QStringLiteral("sock"), obj({ { QStringLiteral("color"), QStringLiteral("blue") } })).isError());

        QCOMPARE(await(phone->signInEmail(email, Password)), Error());
        QCOMPARE(phone->state(), Client::State::SignedIn);
        QTRY_VERIFY_WITH_TIMEOUT(settled(phone.get()), Long);
        QCOMPARE(await(phone->syncNow()), Error());
        QCOMPARE(await(laptop->syncNow()), Error());

        const QHash<QString, QJsonObject> expected{
            { QStringLiteral("shoe"), obj({ { QStringLiteral("qty"), 3 }, { QStringLiteral("color"), QStringLiteral("red") },
                                            { QStringLiteral("size"), QStringLiteral("L") } }) },
            { QStringLiteral("hat"), obj({ { QStringLiteral("qty"), 1 } }) },
            { QStringLiteral("sock"), obj({ { QStringLiteral("qty"), 6 }, { QStringLiteral("color"), QStringLiteral("blue") } }) },
        };
        QCOMPARE(contents(phoneCart), expected);
        QCOMPARE(contents(laptopCart), expected);
        const ServerState server = pullAll(m_server.url(), signInRaw(m_server.url(), email));
        QCOMPARE(server.live.size(), 3);
    }

    // A guest that never reached the server (it came up later) signs up: its cart arrives.
    void neverReachedServerSignsUp()
    {
        Install install;
        const quint16 port = freePort();
        // A long probe backoff: the guest does not register by itself before signing up.
        auto client = makeClient(QUrl(QStringLiteral("http://127.0.0.1:%1").arg(port)), install,
                                 [](ClientOptions &o) { o.setRetryInitialDelay(60000); o.setRetryMaxDelay(60000); });
        QTRY_COMPARE_WITH_TIMEOUT(client->lastError().code(), QStringLiteral("NETWORK_ERROR"), Long);
        QVERIFY(client->user().isLocalOnly());
        Collection *cart = client->collection(QStringLiteral("cart"));
        QVERIFY(!cart->put(QStringLiteral("apple"), obj({ { QStringLiteral("qty"), 4 } })).isError());
        QVERIFY(!cart->put(QStringLiteral("plum"), obj({ { QStringLiteral("qty"), 1 } })).isError());
        QVERIFY(!cart->remove(QStringLiteral("plum")).isError());

        TestServer late;
        QVERIFY2(late.start(port), qPrintable(late.output()));
        const QString email = uniqueEmail();
        QSignalSpy upgraded(client.get(), &Client::guestUpgraded);
        QCOMPARE(await(client->signUpEmail(email, Password)), Error());
        QCOMPARE(upgraded.count(), 1);
        QVERIFY(!client->isAnonymous());
        QTRY_VERIFY_WITH_TIMEOUT(settled(client.get()), Long);

        Install other;
        auto second = secondDevice(late.url(), other, email);
        QVERIFY(second);
        const QHash<QString, QJsonObject> expected{ { QStringLiteral("apple"), obj({ { QStringLiteral("qty"), 4 } }) } };
        QCOMPARE(contents(second->collection(QStringLiteral("cart"))), expected);
        QCOMPARE(contents(cart), expected);
    }

    // Two devices of one account write concurrently and converge.
    void twoClientsConverge()
    {
        const QString email = uniqueEmail();
        Install ia, ib;
        auto a = makeClient(m_server.url(), ia, [](ClientOptions &o) { o.setAutomaticGuest(false); });
        QTRY_VERIFY_WITH_TIMEOUT(a->isReady(), Long);
        QCOMPARE(await(a->signUpEmail(email, Password)), Error());
        auto b = secondDevice(m_server.url(), ib, email);
        QVERIFY(b);
        Collection *ca = a->collection(QStringLiteral("notes"));
        Collection *cb = b->collection(QStringLiteral("notes"));
        QVERIFY(!ca->put(QStringLiteral("x"), obj({ { QStringLiteral("by"), QStringLiteral("a") }, { QStringLiteral("n"), 1 } })).isError());
        QVERIFY(!cb->put(QStringLiteral("y"), obj({ { QStringLiteral("by"), QStringLiteral("b") } })).isError());
        QCOMPARE(await(a->syncNow()), Error());
        QCOMPARE(await(b->syncNow()), Error());
        QVERIFY(!cb->patch(QStringLiteral("x"), obj({ { QStringLiteral("n"), 2 } })).isError());
        QVERIFY(!ca->remove(QStringLiteral("y")).isError());
        QVERIFY(!ca->put(QStringLiteral("z"), obj({ { QStringLiteral("by"), QStringLiteral("a") } })).isError());
        // Both sync until nothing changes (automatic sync runs too).
        for (int round = 0; round < 2; ++round) {
            QCOMPARE(await(a->syncNow()), Error());
            QCOMPARE(await(b->syncNow()), Error());
        }
        QTRY_VERIFY_WITH_TIMEOUT(settled(a.get()) && settled(b.get()), Long);
        QCOMPARE(await(a->syncNow()), Error());
        const QHash<QString, QJsonObject> expected{
            { QStringLiteral("x"), obj({ { QStringLiteral("by"), QStringLiteral("a") }, { QStringLiteral("n"), 2 } }) },
            { QStringLiteral("z"), obj({ { QStringLiteral("by"), QStringLiteral("a") } }) },
        };
        QCOMPARE(contents(ca), expected);
        QCOMPARE(contents(cb), expected);
    }

    // Two devices each add ~40 KB to one record. Each edit is fine on its own device, but
    // merged on the server the record passes 64 KiB: the second device's patch is refused
    // (RECORD_TOO_LARGE) for good. It leaves the outbox with a changeRejected signal, the
    // record shows the server's state, and the change queued after it still lands; before,
    // the refused push was retried forever and blocked everything behind it.
    void refusedChangeDoesNotBlockTheOutbox()
    {
        const QString email = uniqueEmail();
        Install ia, ib;
        auto a = makeClient(m_server.url(), ia, [](ClientOptions &o) { o.setAutomaticGuest(false); });
        QTRY_VERIFY_WITH_TIMEOUT(a->isReady(), Long);
        QCOMPARE(await(a->signUpEmail(email, Password)), Error());
        Collection *ca = a->collection(QStringLiteral("notes"));
        QVERIFY(!ca->put(QStringLiteral("x"), obj({ { QStringLiteral("title"), QStringLiteral("shared") } })).isError());
        QCOMPARE(await(a->syncNow()), Error());
        auto b = secondDevice(m_server.url(), ib, email);   // has x, synced
        QVERIFY(b);
        Collection *cb = b->collection(QStringLiteral("notes"));
        QVERIFY(cb->get(QStringLiteral("x")));

        const QString fromA(40000, QLatin1Char('a'));
        const QString fromB(40000, QLatin1Char('b'));
        QVERIFY(!ca->patch(QStringLiteral("x"), obj({ { QStringLiteral("a"), fromA } })).isError());
        QCOMPARE(await(a->syncNow()), Error());
        QSignalSpy rejected(b.get(), &Client::changeRejected);
        QVERIFY(!cb->patch(QStringLiteral("x"), obj({ { QStringLiteral("b"), fromB } })).isError());
        QVERIFY(!cb->put(QStringLiteral("y"), obj({ { QStringLiteral("after"), true } })).isError());

        QCOMPARE(await(b->syncNow()), Error());
        QTRY_VERIFY_WITH_TIMEOUT(settled(b.get()), Long);
        QCOMPARE(rejected.count(), 1);
        QCOMPARE(rejected.at(0).at(0).toString(), QStringLiteral("notes"));
        QCOMPARE(rejected.at(0).at(1).toString(), QStringLiteral("x"));
        QCOMPARE(rejected.at(0).at(2).value<Error>().code(), QStringLiteral("RECORD_TOO_LARGE"));
        QCOMPARE(b->pendingChanges(), 0);
        const QJsonObject expectedX = obj({ { QStringLiteral("title"), QStringLiteral("shared") },
                                            { QStringLiteral("a"), fromA } });
        QCOMPARE(cb->get(QStringLiteral("x"))->data, expectedX);   // the server's state again
        QCOMPARE(await(a->syncNow()), Error());
        QCOMPARE(contents(ca), contents(cb));
        QCOMPARE(ca->get(QStringLiteral("y"))->data, obj({ { QStringLiteral("after"), true } }));
    }

    // A server with a small per-user quota (--sync-max-user-bytes): the change that would
    // take the user above it is refused for good (SYNC_QUOTA_EXCEEDED) and leaves the outbox
    // with changeRejected; the changes after it still sync, the outbox ends empty, and once
    // the user deleted something the same change fits.
    void changeAboveTheQuotaIsRejected()
    {
        TestServer server;
        QVERIFY2(server.start(0, { QStringLiteral("--sync-max-user-bytes"), QStringLiteral("2000") }),
                 qPrintable(server.output()));
        Install install;
        auto client = makeClient(server.url(), install, [](ClientOptions &o) { o.setAutomaticGuest(false); });
        QTRY_VERIFY_WITH_TIMEOUT(client->isReady(), Long);
        const QString email = uniqueEmail();
        QCOMPARE(await(client->signUpEmail(email, Password)), Error());
        const auto sized = [](char fill) {   // {"t":"..."}: 900 bytes
            return obj({ { QStringLiteral("t"), QString(900 - 8, QLatin1Char(fill)) } });
        };
        QCOMPARE(QJsonDocument(sized('a')).toJson(QJsonDocument::Compact).size(), 900);
        Collection *notes = client->collection(QStringLiteral("notes"));
        QVERIFY(!notes->put(QStringLiteral("a"), sized('a')).isError());
        QCOMPARE(await(client->syncNow()), Error());

        QSignalSpy rejected(client.get(), &Client::changeRejected);
        QVERIFY(!notes->put(QStringLiteral("b"), sized('b')).isError());    // 1800: fits
        QVERIFY(!notes->put(QStringLiteral("c"), sized('c')).isError());    // 2700: does not
        QVERIFY(!notes->put(QStringLiteral("d"), obj({ { QStringLiteral("after"), true } })).isError());
        QCOMPARE(await(client->syncNow()), Error());
        QTRY_VERIFY_WITH_TIMEOUT(settled(client.get()), Long);
        QCOMPARE(rejected.count(), 1);
        QCOMPARE(rejected.at(0).at(0).toString(), QStringLiteral("notes"));
        QCOMPARE(rejected.at(0).at(1).toString(), QStringLiteral("c"));
        QCOMPARE(rejected.at(0).at(2).value<Error>().code(), QStringLiteral("SYNC_QUOTA_EXCEEDED"));
        QCOMPARE(client->pendingChanges(), 0);
        QVERIFY(!notes->get(QStringLiteral("c")));   // the server never had it
        ServerState state = pullAll(server.url(), signInRaw(server.url(), email));
        QCOMPARE(state.status, 200);
        QCOMPARE(QSet<QString>(state.live.keyBegin(), state.live.keyEnd()),
                 (QSet<QString>{ QStringLiteral("notes/a"), QStringLiteral("notes/b"), QStringLiteral("notes/d") }));

        // A delete frees the space: the same change fits now.
        QVERIFY(!notes->remove(QStringLiteral("a")).isError());
        QVERIFY(!notes->put(QStringLiteral("c"), sized('c')).isError());
        QCOMPARE(await(client->syncNow()), Error());
        QTRY_VERIFY_WITH_TIMEOUT(settled(client.get()), Long);
        QCOMPARE(rejected.count(), 1);
        QCOMPARE(client->pendingChanges(), 0);
        state = pullAll(server.url(), signInRaw(server.url(), email));
        QCOMPARE(QSet<QString>(state.live.keyBegin(), state.live.keyEnd()),
                 (QSet<QString>{ QStringLiteral("notes/b"), QStringLiteral("notes/c"), QStringLiteral("notes/d") }));
        QCOMPARE(state.live.value(QStringLiteral("notes/c")), sized('c'));
    }

    // A guest's 64 KiB note meets the account's own version of it at sign-in: too large to
    // merge, so the server files the guest's note whole in "_conflicts", wrapped, a few
    // hundred bytes above 64 KiB. The device pulls it and can change it as the server
    // allows (patches that do not grow it), and remove it; before, every local write to
    // it was refused (the limit applied to records already above it).
    void conflictRecordAboveTheLimitCanBeChanged()
    {
        const QString email = uniqueEmail();
        Install laptopInstall, phoneInstall;
        auto laptop = makeClient(m_server.url(), laptopInstall, [](ClientOptions &o) { o.setAutomaticGuest(false); });
        QTRY_VERIFY_WITH_TIMEOUT(laptop->isReady(), Long);
        QCOMPARE(await(laptop->signUpEmail(email, Password)), Error());
        QVERIFY(!laptop->collection(QStringLiteral("notes"))->put(QStringLiteral("n1"),
                    obj({ { QStringLiteral("a"), QString(40000, QLatin1Char('a')) } })).isError());
        QCOMPARE(await(laptop->syncNow()), Error());

        auto phone = makeClient(m_server.url(), phoneInstall);
        QTRY_VERIFY_WITH_TIMEOUT(phone->hasServerSession(), Long);
        const QJsonObject guestNote = obj({ { QStringLiteral("g"), QString(65536 - 8, QLatin1Char('g')) } });   // exactly 64 KiB
        QVERIFY(!phone->collection(QStringLiteral("notes"))->put(QStringLiteral("n1"), guestNote).isError());
        QCOMPARE(await(phone->syncNow()), Error());
        QCOMPARE(await(phone->signInEmail(email, Password)), Error());
        QTRY_VERIFY_WITH_TIMEOUT(settled(phone.get()), Long);
        QCOMPARE(await(phone->syncNow()), Error());

        Collection *conflicts = phone->collection(QStringLiteral("_conflicts"));
        QCOMPARE(conflicts->count(), 1);
        const Record conflict = conflicts->list().constFirst();
        QCOMPARE(conflict.data.value(QStringLiteral("data")).toObject(), guestNote);
        const auto bytes = [&] {
            return QJsonDocument(conflicts->get(conflict.id)->data).toJson(QJsonDocument::Compact).size();
        };
        const qsizetype wrapped = bytes();
        QVERIFY2(wrapped > 65536, QByteArray::number(wrapped));

        // Growing it is refused on the device, as the server would.
        QCOMPARE(conflicts->patch(conflict.id, obj({ { QStringLiteral("seen"), true } })).kind(),
                 Error::Kind::InvalidArgument);
        QCOMPARE(phone->pendingChanges(), 0);
        // A patch that shrinks it is written, pushed and accepted (no changeRejected).
        QSignalSpy rejected(phone.get(), &Client::changeRejected);
        QVERIFY(!conflicts->patch(conflict.id, obj({ { QStringLiteral("reason"), QJsonValue::Null } })).isError());
        QVERIFY(bytes() < wrapped);
        QCOMPARE(await(phone->syncNow()), Error());
        QCOMPARE(phone->pendingChanges(), 0);
        QCOMPARE(rejected.count(), 0);
        QCOMPARE(await(laptop->syncNow()), Error());
        const auto onLaptop = laptop->collection(QStringLiteral("_conflicts"))->get(conflict.id);
        QVERIFY(onLaptop);
        QVERIFY(!onLaptop->data.contains(QStringLiteral("reason")));
        QCOMPARE(onLaptop->data.value(QStringLiteral("data")).toObject(), guestNote);
        // And the user removes it once decided.
        QVERIFY(!conflicts->remove(conflict.id).isError());
        QCOMPARE(await(phone->syncNow()), Error());
        QCOMPARE(await(laptop->syncNow()), Error());
        QCOMPARE(laptop->collection(QStringLiteral("_conflicts"))->count(), 0);
    }

    // An account larger than one sync's page budget (here 1 page of 500): each sync pulls
    // its part and ends normally, and the next part follows by itself shortly after (also
    // without autoSync); synced() comes once, at the end. A full pull split over several
    // syncs still drops at its end the settled records the server does not have, and a
    // change written between two parts is pushed and kept.
    void largeAccountIsPulledInParts()
    {
        const QString email = uniqueEmail();
        const QByteArray token = signUpRaw(m_server.url(), email);
        QVERIFY(!token.isEmpty());
        constexpr int N = 1100;   // three pages: 500, 500, 100
        for (int first = 0; first < N; first += 500) {
            QJsonArray mutations;
            for (int i = first; i < qMin(N, first + 500); ++i) {
                mutations.append(QJsonObject{ { QStringLiteral("mid"), i + 1 }, { QStringLiteral("op"), QStringLiteral("put") },
                                              { QStringLiteral("collection"), QStringLiteral("items") },
                                              { QStringLiteral("id"), QStringLiteral("r%1").arg(i, 4, 10, QLatin1Char('0')) },
                                              { QStringLiteral("data"), obj({ { QStringLiteral("n"), i } }) } });
            }
            QUrl push = m_server.url();
            push.setPath(QStringLiteral("/api/sync/push"));
            QCOMPARE(rawRequest("POST", push, QJsonObject{ { QStringLiteral("clientId"), QStringLiteral("other-device") },
                                                           { QStringLiteral("mutations"), mutations } }, token).status, 200);
        }
        Install install;
        auto tweak = [](ClientOptions &o) {
            o.setAutomaticGuest(false);
            o.setAutoSync(false);
            o.setMaxPullPagesPerSync(1);
        };
        // The records each sync ended with.
        auto countEachRun = [](Client *client, QList<int> *ends) {
            QObject::connect(client, &Client::syncStateChanged, client, [client, ends](Client::SyncState state) {
                if (state != Client::SyncState::Syncing)
                    ends->append(client->collection(QStringLiteral("items"))->count());
            });
        };
        QString localId;
        {
            QList<int> ends;
            auto client = makeClient(m_server.url(), install, tweak);
            QTRY_VERIFY_WITH_TIMEOUT(client->isReady(), Long);
            QCOMPARE(await(client->signInEmail(email, Password)), Error());
            localId = client->user().localId();
            countEachRun(client.get(), &ends);
            QSignalSpy synced(client.get(), &Client::synced);
            QCOMPARE(await(client->syncNow()), Error());
            QTRY_COMPARE_WITH_TIMEOUT(synced.count(), 1, Long);
            QCOMPARE(ends, (QList<int>{ 500, 1000, N }));
            QTest::qWait(300);
            QCOMPARE(ends.size(), 3);   // and no sync after the last part
        }

        // A settled record the server does not have, and a pull from 0 again.
        QVERIFY(execOnSdkDatabase(install, QStringLiteral("INSERT INTO sync_records (owner_local_id, collection, id, data, "
                                                          "pending, deleted) VALUES ('%1', 'items', 'ghost', '{}', 0, 0)")
                                                   .arg(localId)));
        QVERIFY(execOnSdkDatabase(install, QStringLiteral("UPDATE sync_state SET cursor = 0")));
        QList<int> ends;
        auto client = makeClient(m_server.url(), install, tweak);
        QTRY_VERIFY_WITH_TIMEOUT(client->isReady(), Long);
        Collection *items = client->collection(QStringLiteral("items"));
        QVERIFY(items->get(QStringLiteral("ghost")));
        countEachRun(client.get(), &ends);
        QObject::connect(client.get(), &Client::syncStateChanged, items, [items, &ends](Client::SyncState state) {
            if (state != Client::SyncState::Syncing && ends.size() == 1)   // between the first and second part
                items->put(QStringLiteral("written-meanwhile"), obj({ { QStringLiteral("n"), -1 } }));
        });
        QSignalSpy synced(client.get(), &Client::synced);
        QCOMPARE(await(client->syncNow()), Error());
        QTRY_COMPARE_WITH_TIMEOUT(synced.count(), 1, Long);
        QCOMPARE(ends.size(), 3);
        QVERIFY2(!items->get(QStringLiteral("ghost")), "the full pull in parts kept a record the server does not have");
        QVERIFY(items->get(QStringLiteral("written-meanwhile")));
        QVERIFY(!items->get(QStringLiteral("written-meanwhile"))->pending);
        QCOMPARE(items->count(), N + 1);
        QCOMPARE(pullAll(m_server.url(), token).live.size(), N + 1);
    }

    // The server is SIGKILLed while pushes are in flight; the retried pushes (same mids)
    // apply every mutation exactly once.
    void retriedPushAfterServerKill()
    {
        Install install;
        TestServer server;
        QVERIFY2(server.start(), qPrintable(server.output()));
        const quint16 port = server.port();
        const QString email = uniqueEmail();
        QVERIFY(!signUpRaw(server.url(), email).isEmpty());
        auto client = makeClient(server.url(), install, [](ClientOptions &o) {
            o.setAutomaticGuest(false);
            o.setAutoSync(false);   // the test decides when the pushes start
        });
        QTRY_VERIFY_WITH_TIMEOUT(client->isReady(), Long);
        QCOMPARE(await(client->signInEmail(email, Password)), Error());
        Collection *c = client->collection(QStringLiteral("items"));
        constexpr int N = 2000;
        const QString pad(300, QLatin1Char('p'));   // bigger bodies: the pushes take a while
        for (int i = 1; i <= N; ++i)
            QVERIFY(!c->put(QStringLiteral("item-%1").arg(i), obj({ { QStringLiteral("i"), i }, { QStringLiteral("pad"), pad } })).isError());
        QCOMPARE(client->pendingChanges(), N);

        QFuture<Error> first = client->syncNow();
        // Kill as soon as the first batch was acknowledged: the next push is in flight.
        QDeadlineTimer deadline(Long);
        while (client->pendingChanges() == N && !first.isFinished() && !deadline.hasExpired())
            QCoreApplication::processEvents(QEventLoop::AllEvents, 1);
        QVERIFY(client->pendingChanges() < N);
        server.kill();
        const Error failed = await(first);
        QVERIFY2(failed.isError() || client->pendingChanges() == 0, qPrintable(failed.toString()));
        const int left = client->pendingChanges();
        qInfo() << "pending after the kill:" << left;

        QVERIFY2(server.start(port), qPrintable(server.output()));
        Error e;
        for (int attempt = 0; attempt < 20; ++attempt) {
            e = await(client->syncNow());
            if (!e.isError())
                break;
            QTest::qWait(200);
        }
        QCOMPARE(e, Error());
        QCOMPARE(client->pendingChanges(), 0);
        const ServerState state = pullAll(server.url(), signInRaw(server.url(), email));
        QCOMPARE(state.live.size(), N);
        QCOMPARE(state.version, qint64(N));   // every put applied once: no duplicate versions
        for (int i = 1; i <= N; ++i)
            QCOMPARE(state.live.value(QStringLiteral("items/item-%1").arg(i)).value(QLatin1String("i")).toInt(), i);
    }

    // A push that landed but whose answer was lost: the SDK's retry (same client id, its
    // profile's, and mids) is answered "skipped" and the outbox is cleared without applying
    // anything twice.
    void lostAnswerIsSkipped()
    {
        Install install;
        const QString email = uniqueEmail();
        QVERIFY(!signUpRaw(m_server.url(), email).isEmpty());
        auto client = makeClient(m_server.url(), install, [](ClientOptions &o) {
            o.setAutomaticGuest(false);
            o.setAutoSync(false);
        });
        QTRY_VERIFY_WITH_TIMEOUT(client->isReady(), Long);
        QCOMPARE(await(client->signInEmail(email, Password)), Error());
        QCOMPARE(await(client->syncNow()), Error());
        Collection *c = client->collection(QStringLiteral("cart"));
        QVERIFY(!c->put(QStringLiteral("a"), obj({ { QStringLiteral("qty"), 1 } })).isError());
        QVERIFY(!c->patch(QStringLiteral("a"), obj({ { QStringLiteral("qty"), 2 } })).isError());
        QVERIFY(!c->put(QStringLiteral("b"), obj({ { QStringLiteral("qty"), 5 } })).isError());
        QCOMPARE(client->pendingChanges(), 3);

        // What the SDK would push (a fresh database numbers its mids 1, 2, 3), sent by
        // "the same client" whose answer never arrived.
        QTRY_COMPARE_WITH_TIMEOUT(readToken(install.service).error, QKeychain::NoError, Long);
        const QByteArray token = readToken(install.service).value.toUtf8();
        QUrl push = m_server.url();
        push.setPath(QStringLiteral("/api/sync/push"));
        const QJsonArray mutations{
            obj({ { QStringLiteral("mid"), 1 }, { QStringLiteral("op"), QStringLiteral("put") }, { QStringLiteral("collection"), QStringLiteral("cart") },
                  { QStringLiteral("id"), QStringLiteral("a") }, { QStringLiteral("data"), obj({ { QStringLiteral("qty"), 1 } }) } }),
            obj({ { QStringLiteral("mid"), 2 }, { QStringLiteral("op"), QStringLiteral("patch") }, { QStringLiteral("collection"), QStringLiteral("cart") },
                  { QStringLiteral("id"), QStringLiteral("a") }, { QStringLiteral("data"), obj({ { QStringLiteral("qty"), 2 } }) } }),
            obj({ { QStringLiteral("mid"), 3 }, { QStringLiteral("op"), QStringLiteral("put") }, { QStringLiteral("collection"), QStringLiteral("cart") },
                  { QStringLiteral("id"), QStringLiteral("b") }, { QStringLiteral("data"), obj({ { QStringLiteral("qty"), 5 } }) } }) };
        // The profile's own client id: the install's plus a suffix.
        const QString clientId = queryDatabase(install, QStringLiteral("SELECT client_id FROM profiles WHERE local_id = '%1'")
                                                            .arg(client->user().localId())).toString();
        QVERIFY2(clientId.startsWith(client->clientId() + QLatin1Char(':')), qPrintable(clientId));
        const RawReply landed = rawRequest("POST", push,
                                           QJsonObject{ { QStringLiteral("clientId"), clientId },
                                                        { QStringLiteral("mutations"), mutations } }, token);
        QCOMPARE(landed.status, 200);
        QCOMPARE(landed.body.toObject().value(QLatin1String("applied")).toInt(), 3);

        QCOMPARE(await(client->syncNow()), Error());
        QCOMPARE(client->pendingChanges(), 0);
        QVERIFY(!c->get(QStringLiteral("a"))->pending);
        const ServerState state = pullAll(m_server.url(), token);
        QCOMPARE(state.version, qint64(3));   // nothing applied twice
        QCOMPARE(state.live.value(QStringLiteral("cart/a")), obj({ { QStringLiteral("qty"), 2 } }));
    }

    // The app is SIGKILLed at random points while writing and syncing; restarted until it
    // is done, every record is on the server exactly once.
    void crashWorker()
    {
        const QString worker = qEnvironmentVariable("KERNIA_SYNC_WORKER");
        QVERIFY2(QFile::exists(worker), qPrintable(worker));
        const QString email = uniqueEmail();
        QVERIFY(!signUpRaw(m_server.url(), email).isEmpty());
        Install install;
        constexpr int N = 2000;
        const QStringList common{ QStringLiteral("--server"), m_server.url().toString(),
                                  QStringLiteral("--data"), install.dir.path(),
                                  QStringLiteral("--service"), install.service,
                                  QStringLiteral("--count"), QString::number(N),
                                  QStringLiteral("--email"), email, QStringLiteral("--password"), Password,
                                  QStringLiteral("--pace"), QStringLiteral("2") };
        {
            QProcess setup;
            setup.setProcessChannelMode(QProcess::MergedChannels);
            setup.start(worker, common + QStringList{ QStringLiteral("--setup") });
            QVERIFY(setup.waitForFinished(Long));
            QVERIFY2(setup.exitStatus() == QProcess::NormalExit && setup.exitCode() == 0, setup.readAll().constData());
        }

        int kills = 0;
        bool done = false;
        for (int round = 0; round < 15 && !done; ++round) {
            QProcess p;
            p.setProcessChannelMode(QProcess::MergedChannels);
            p.start(worker, common);
            QVERIFY(p.waitForStarted(Long));
            const int delay = 30 + int(QRandomGenerator::global()->bounded(1000));
            if (p.waitForFinished(delay)) {
                QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0, p.readAll().constData());
                done = true;
                break;
            }
            ::kill(pid_t(p.processId()), SIGKILL);
            QVERIFY(p.waitForFinished(Long));
            ++kills;
        }
        if (!done) {
            QProcess p;
            p.setProcessChannelMode(QProcess::MergedChannels);
            p.start(worker, common);
            QVERIFY(p.waitForFinished(180000));
            QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0, p.readAll().constData());
        }
        qInfo() << "worker killed" << kills << "times";
        QVERIFY2(kills >= 5, "the worker finished too early for a meaningful crash test");

        const ServerState state = pullAll(m_server.url(), signInRaw(m_server.url(), email));
        QCOMPARE(state.status, 200);
        QCOMPARE(state.live.size(), N);
        QCOMPARE(state.version, qint64(N));   // N puts, each applied exactly once
        for (int i = 1; i <= N; ++i) {
            const QString key = QStringLiteral("numbers/rec-%1").arg(i, 4, 10, QLatin1Char('0'));
            QCOMPARE(state.live.value(key).value(QLatin1String("n")).toInt(), i);
        }
    }
};

QTEST_GUILESS_MAIN(TestSync)
#include "tst_sync.moc"
