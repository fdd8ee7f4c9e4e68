// Data sync without sockets (docs/sync-protocol.md): /api/sync/push and /pull through the
// real AuthServer pipeline, the second mount in the Router, every limit and bad input, a
// concurrent push race, and the guest-data merge inside the link transaction.
#include "forwarding_store.h"
#include "test_server.h"

#include "auth/router.h"
#include "config/server_config.h"
#include "plugins/anonymous/anonymous_errors.h"
#include "sync/sync_endpoints.h"

#include <QJsonArray>
#include <QMutex>
#include <QSemaphore>
#include <QThread>

#include <algorithm>
#include <atomic>
#include <set>

using namespace Kernia::Server;
using namespace Kernia::Server::Testing;

namespace {

using Headers = QList<QPair<QByteArray, QByteArray>>;

// A TestServer with the sync unit mounted and its built-in on_link composed with `next`.
struct SyncServer
{
    explicit SyncServer(SyncOptions options = {}, OnLinkFunction next = {})
        : sync(std::make_shared<SyncService>(std::move(options)))
    {
        AnonymousOptions anonymous;
        anonymous.onLink = syncOnLink(sync, std::move(next));
        server = std::make_unique<TestServer>(std::move(anonymous));
        server->auth->addPlugin(std::make_unique<SyncPlugin>(sync));
    }

    Response call(const QByteArray &method, const QString &absolute, const QByteArray &body = {},
                  const Headers &headers = {})
    {
        return server->auth->handle(TestServer::requestAt(method, absolute, body, headers));
    }

    static Headers bearer(const QByteArray &token) { return {{"authorization", "Bearer " + token}}; }

    struct Client
    {
        QByteArray token;   // the signed token of set-auth-token
        QString userId;
    };

    Client fromResponse(const Response &r)
    {
        if (r.status() != 200)
            qFatal("sign-in failed: %d %s", r.status(), r.body().constData());
        return {r.header("set-auth-token"), TestServer::json(r).value("user").toObject().value("id").toString()};
    }

    Client guest() { return fromResponse(call("POST", QStringLiteral("/api/auth/sign-in/anonymous"))); }

    Response signUpRaw(const QString &email, const QByteArray &linkToken = {})
    {
        const QJsonObject body{{"name", "U"}, {"email", email}, {"password", "password123"}};
        return call("POST", QStringLiteral("/api/auth/sign-up/email"), QJsonDocument(body).toJson(QJsonDocument::Compact),
                    linkToken.isEmpty() ? Headers() : bearer(linkToken));
    }
    Client signUp(const QString &email, const QByteArray &linkToken = {}) { return fromResponse(signUpRaw(email, linkToken)); }

    Response signInRaw(const QString &email, const QByteArray &linkToken = {})
    {
        const QJsonObject body{{"email", email}, {"password", "password123"}};
        return call("POST", QStringLiteral("/api/auth/sign-in/email"), QJsonDocument(body).toJson(QJsonDocument::Compact),
                    linkToken.isEmpty() ? Headers() : bearer(linkToken));
    }
    Client signIn(const QString &email, const QByteArray &linkToken = {}) { return fromResponse(signInRaw(email, linkToken)); }

    Response pushRaw(const QByteArray &token, const QJsonObject &body)
    {
        return call("POST", QStringLiteral("/api/sync/push"), QJsonDocument(body).toJson(QJsonDocument::Compact), bearer(token));
    }
    Response push(const QByteArray &token, const QString &clientId, const QJsonArray &mutations)
    {
        return pushRaw(token, QJsonObject{{"clientId", clientId}, {"mutations", mutations}});
    }
    QJsonObject pushOk(const QByteArray &token, const QString &clientId, const QJsonArray &mutations)
    {
        const Response r = push(token, clientId, mutations);
        if (r.status() != 200)
            qFatal("push failed: %d %s", r.status(), r.body().constData());
        return TestServer::json(r);
    }
    Response pull(const QByteArray &token, const QString &query = QStringLiteral("?since=0"))
    {
        return call("GET", QStringLiteral("/api/sync/pull") + query, {}, bearer(token));
    }
    QJsonObject pullOk(const QByteArray &token, qint64 since = 0, int limit = 1000)
    {
        const Response r = pull(token, QStringLiteral("?since=%1&limit=%2").arg(since).arg(limit));
        if (r.status() != 200)
            qFatal("pull failed: %d %s", r.status(), r.body().constData());
        return TestServer::json(r);
    }
    // Pushes any number of mutations, at most 500 (the limit) per push.
    void pushAll(const QByteArray &token, const QString &clientId, const QJsonArray &mutations)
    {
        for (qsizetype i = 0; i < mutations.size(); i += 500) {
            QJsonArray batch;
            for (qsizetype j = i; j < qMin(i + 500, mutations.size()); ++j)
                batch.append(mutations.at(j));
            pushOk(token, clientId, batch);
        }
    }
    // Every change after `since`, page by page, in version order.
    QList<QJsonObject> allChanges(const QByteArray &token, qint64 since = 0)
    {
        QList<QJsonObject> changes;
        for (;;) {
            const QJsonObject page = pullOk(token, since, 1000);
            for (const QJsonValue &change : page.value("changes").toArray())
                changes.append(change.toObject());
            since = page.value("version").toInteger();
            if (!page.value("more").toBool())
                return changes;
        }
    }
    // (collection/id) -> data of the live records, from a full pull.
    QMap<QString, QJsonObject> live(const QByteArray &token)
    {
        QMap<QString, QJsonObject> records;
        for (const QJsonValue &change : pullOk(token).value("changes").toArray()) {
            const QJsonObject c = change.toObject();
            if (!c.value("deleted").toBool())
                records.insert(c.value("collection").toString() + '/' + c.value("id").toString(), c.value("data").toObject());
        }
        return records;
    }
    // The user's usage as stored (sync_user_version."bytes"); -1 without a row.
    int usage(const QString &userId)
    {
        return server->scalar(QStringLiteral("SELECT \"bytes\" FROM \"sync_user_version\" WHERE \"userId\" = :u"),
                              {{"u", userId}});
    }
    // The sum of the sizes of the user's live records, from a full pull.
    qint64 liveBytes(const QByteArray &token)
    {
        qint64 sum = 0;
        for (const QJsonObject &data : live(token))
            sum += QJsonDocument(data).toJson(QJsonDocument::Compact).size();
        return sum;
    }
    int rows(const QString &table, const QString &userId)
    {
        return server->scalar(QStringLiteral("SELECT count(*) FROM \"%1\" WHERE \"userId\" = :u").arg(table), {{"u", userId}});
    }

    std::shared_ptr<SyncService> sync;
    std::unique_ptr<TestServer> server;
};

QJsonObject put(qint64 mid, const QString &collection, const QString &id, const QJsonObject &data)
{
    return {{"mid", mid}, {"op", "put"}, {"collection", collection}, {"id", id}, {"data", data}};
}
QJsonObject patch(qint64 mid, const QString &collection, const QString &id, const QJsonObject &data)
{
    return {{"mid", mid}, {"op", "patch"}, {"collection", collection}, {"id", id}, {"data", data}};
}
QJsonObject del(qint64 mid, const QString &collection, const QString &id)
{
    return {{"mid", mid}, {"op", "delete"}, {"collection", collection}, {"id", id}};
}

QString code(const Response &r) { return TestServer::json(r).value("code").toString(); }

// The compact JSON size of a record's data, as the quota counts it (UTF-8 bytes).
qint64 jsonBytes(const QJsonObject &data) { return QJsonDocument(data).toJson(QJsonDocument::Compact).size(); }

// {"t":"<n characters>"}: 8 + n bytes for ASCII characters.
QJsonObject sized(qint64 bytes, QChar fill = QLatin1Char('x'))
{
    return {{"t", QString(bytes - 8, fill)}};
}


// Collects, while it lives, the messages of the given logging categories from every
// thread (a sign-in runs on the password pool), and passes every message on to the
// handler before it (Qt Test's).
class LogCapture
{
public:
    explicit LogCapture(QStringList categories) : m_categories(std::move(categories))
    {
        QMutexLocker locker(&s_mutex);
        s_active = this;
        s_previous = qInstallMessageHandler(&LogCapture::handle);
    }
    ~LogCapture()
    {
        QMutexLocker locker(&s_mutex);
        qInstallMessageHandler(s_previous);
        s_active = nullptr;
    }
    LogCapture(const LogCapture &) = delete;
    LogCapture &operator=(const LogCapture &) = delete;

    // How many messages so far start with `text`; warnings only with `WarningsOnly`.
    enum Types { Any, WarningsOnly };
    int count(const QString &text, Types types = Any) const
    {
        QMutexLocker locker(&s_mutex);
        return int(std::count_if(m_messages.cbegin(), m_messages.cend(), [&](const Message &message) {
            return message.text.startsWith(text) && (types == Any || message.type == QtWarningMsg);
        }));
    }

private:
    static void handle(QtMsgType type, const QMessageLogContext &context, const QString &message)
    {
        QtMessageHandler previous = nullptr;
        {
            QMutexLocker locker(&s_mutex);
            previous = s_previous;
            if (s_active && context.category && s_active->m_categories.contains(QLatin1String(context.category)))
                s_active->m_messages.append({type, message});
        }
        if (previous)
            previous(type, context, message);
    }

    static inline QMutex s_mutex;
    static inline LogCapture *s_active = nullptr;
    static inline QtMessageHandler s_previous = nullptr;
    struct Message
    {
        QtMsgType type;
        QString text;
    };
    const QStringList m_categories;
    QList<Message> m_messages;
};

// The log lines (their start) of a link of guest -> account whose guest record notes/n1
// did not merge (it went to the conflict collection) and whose notes/n2 moved.
struct LinkLogLines
{
    QString conflict, summary, linked, failed;

    LinkLogLines(const QString &guest, const QString &account, qint64 mergedBytes, const SyncOptions &options)
    {
        conflict = QStringLiteral("guest %1 -> %2: merging notes/n1 would make it %3 bytes (at most %4): kept the "
                                  "account's record; the guest's is %5/%1-")
                       .arg(guest, account).arg(mergedBytes).arg(options.maxRecordBytes).arg(options.conflictCollection);
        // These two quote the ids (QDebug's default for strings).
        summary = QStringLiteral("guest \"%1\" -> \"%2\": 1 moved, 0 merged, 0 kept, 0 tombstones, 0 dropped, "
                                 "1 conflicts, 1 client marks").arg(guest, account);
        linked = QStringLiteral("linked anonymous user \"%1\" into \"%2\" via \"/sign-in/email\"").arg(guest, account);
        failed = QStringLiteral("on_link failed for guest %1 -> %2 on /sign-in/email; rolled back: ").arg(guest, account);
    }
};

} // namespace

class SyncTest : public QObject
{
    Q_OBJECT

private slots:
    void routerMounts();
    void mountedPathsAndMethods();
    void requiresSession();
    void pushAndPull();
    void putReplacesPatchMerges();
    void retriedPushIsSkipped();
    void marksArePerClient();
    void orderWithinOnePush();
    void perUserIsolation();
    void badPushes_data();
    void badPushes();
    void limitsAndAtomicity();
    void badPulls();
    void pullPages();
    void pullPagesStayWithinTheByteBudget();
    void pullByteBudgetEdges();
    void originRules();
    void concurrentPushesKeepVersionsDense();
    void manyDevicesOfOneUserPushAtOnce();
    void linkMovesGuestDataToNewAccount();
    void linkMergesByPolicy_data();
    void linkMergesByPolicy();
    void linkMergeFieldsNewerAccountWins();
    void linkTombstones();
    void linkMergeHook();
    void linkMergeAboveRecordLimitKeepsBoth_data();
    void linkMergeAboveRecordLimitKeepsBoth();
    void recordAboveLimitTakesPatchesThatDoNotGrowIt();
    void linkClientMarksKeepTheHigher();
    void linkManyGuestRecords();
    void linkReadsOnlySharedRecords();
    void failingOnLinkRollsBackMovedRecords();
    void throwingMergeHookRollsBack();
    void linkLogsOnlyWhatCommitted();
    void linkRunAgainOnPostgresLogsOnce_data();
    void linkRunAgainOnPostgresLogsOnce();
    void deletedUserLosesSyncData();
    void quotaRefusesPushesThatGrowAboveIt();
    void quotaHoldsForConcurrentPushes();
    void quotaLetsAUserAboveItShrink();
    void quotaNeverFailsALink();
    void quotaCountsWhatOnLinkSqlChanged();
    void quotaMigrationCountsExistingRecords();
    void mergeRecordsUnit();
    void serverConfig();
};

void SyncTest::routerMounts()
{
    Router router;
    int hit = 0;
    router.add({"GET", QStringLiteral("/ok"), Endpoint::Body::Ignored, false, false, [&](EndpointContext &) { ++hit; return Response::empty(200); }});
    router.addMounted(QStringLiteral("/api/sync"), {"POST", QStringLiteral("/push"), Endpoint::Body::Required, false, false,
                                                    [&](EndpointContext &) { return Response::empty(200); }});
    router.addMounted(QStringLiteral("/api/sync"), {"GET", QStringLiteral("/pull"), Endpoint::Body::Ignored, false, false,
                                                    [&](EndpointContext &) { return Response::empty(200); }});
    QCOMPARE(router.size(), 3);
    QCOMPARE(router.mountOf(QStringLiteral("/api/sync/push")), QStringLiteral("/api/sync"));
    QCOMPARE(router.mountOf(QStringLiteral("/api/sync/")), QStringLiteral("/api/sync"));
    QCOMPARE(router.mountOf(QStringLiteral("/api/sync")), QString());
    QCOMPARE(router.mountOf(QStringLiteral("/api/syncx/push")), QString());
    QCOMPARE(router.mountOf(QStringLiteral("/api/auth/ok")), QString());
    QVERIFY(router.findMounted("POST", QStringLiteral("/api/sync"), QStringLiteral("/push")));
    QVERIFY(!router.findMounted("GET", QStringLiteral("/api/sync"), QStringLiteral("/push")));
    QVERIFY(router.findMounted("GET", QStringLiteral("/api/sync"), QStringLiteral("/pull")));
    QVERIFY(!router.findMounted("GET", QStringLiteral("/api/other"), QStringLiteral("/pull")));
    // Mounted endpoints are not visible under the base path and vice versa.
    QVERIFY(!router.find("POST", QStringLiteral("/push")));
    QVERIFY(router.find("GET", QStringLiteral("/ok")));
    QVERIFY(!router.findMounted("GET", QStringLiteral("/api/sync"), QStringLiteral("/ok")));
}

void SyncTest::mountedPathsAndMethods()
{
    SyncServer s;
    const auto g = s.guest();
    const auto bearer = SyncServer::bearer(g.token);
    QCOMPARE(s.call("GET", QStringLiteral("/api/sync/push"), {}, bearer).status(), 404);
    QCOMPARE(s.call("POST", QStringLiteral("/api/sync/pull"), "{}", bearer).status(), 404);
    QCOMPARE(s.call("GET", QStringLiteral("/api/sync/nothing"), {}, bearer).status(), 404);
    QCOMPARE(s.call("GET", QStringLiteral("/api/sync"), {}, bearer).status(), 404);
    QCOMPARE(s.call("GET", QStringLiteral("/api/sync/pull/"), {}, bearer).status(), 404);
    QCOMPARE(s.call("GET", QStringLiteral("/api/auth/pull"), {}, bearer).status(), 404);
    QCOMPARE(s.call("GET", QStringLiteral("/api/sync/pull"), {}, bearer).status(), 200);
    // /api/auth keeps working next to the mount.
    QCOMPARE(s.call("GET", QStringLiteral("/api/auth/get-session"), {}, bearer).status(), 200);
    QCOMPARE(s.call("POST", QStringLiteral("/api/auth/get-session"), {}, bearer).status(), 405);
    QCOMPARE(s.call("POST", QStringLiteral("/api/sync/get-session"), {}, bearer).status(), 404);
}

void SyncTest::requiresSession()
{
    SyncServer s;
    const QByteArray body = R"({"clientId":"c","mutations":[]})";
    Response r = s.call("POST", QStringLiteral("/api/sync/push"), body);
    QCOMPARE(r.status(), 401);
    QCOMPARE(code(r), QStringLiteral("UNAUTHORIZED"));
    r = s.call("GET", QStringLiteral("/api/sync/pull"));
    QCOMPARE(r.status(), 401);
    QCOMPARE(code(r), QStringLiteral("UNAUTHORIZED"));
    r = s.call("GET", QStringLiteral("/api/sync/pull"), {}, SyncServer::bearer("not-a-token.sig"));
    QCOMPARE(r.status(), 401);
    // A signed token of a session that is gone.
    const auto g = s.guest();
    QCOMPARE(s.call("POST", QStringLiteral("/api/auth/delete-anonymous-user"), {}, SyncServer::bearer(g.token)).status(), 200);
    QCOMPARE(s.pull(g.token).status(), 401);
}

void SyncTest::pushAndPull()
{
    SyncServer s;
    const auto g = s.guest();
    const QJsonObject empty = s.pullOk(g.token);
    QCOMPARE(empty, (QJsonObject{{"changes", QJsonArray()}, {"version", 0}, {"more", false}}));

    const QJsonObject pushed = s.pushOk(g.token, "dev1", {
        put(1, "cart", "a", {{"qty", 1}}),
        put(2, "cart", "b", {{"qty", 2}}),
        patch(3, "cart", "a", {{"note", "gift"}}),
        del(4, "cart", "b"),
    });
    QCOMPARE(pushed, (QJsonObject{{"applied", 4}, {"skipped", 0}, {"lastMid", 4}, {"version", 4}}));

    const Response r = s.pull(g.token);
    QCOMPARE(r.status(), 200);
    QCOMPARE(r.header("cache-control"), QByteArray("no-store"));
    const QJsonObject body = TestServer::json(r);
    QCOMPARE(body.value("version").toInteger(), 4);
    QCOMPARE(body.value("more").toBool(), false);
    const QJsonArray changes = body.value("changes").toArray();
    QCOMPARE(changes.size(), 2);
    const QJsonObject a = changes.at(0).toObject();
    const QJsonObject b = changes.at(1).toObject();
    QCOMPARE(a.value("collection").toString(), QStringLiteral("cart"));
    QCOMPARE(a.value("id").toString(), QStringLiteral("a"));
    QCOMPARE(a.value("version").toInteger(), 3);
    QCOMPARE(a.value("deleted").toBool(), false);
    QCOMPARE(a.value("data").toObject(), (QJsonObject{{"qty", 1}, {"note", "gift"}}));
    QVERIFY(a.value("updatedAt").toString().endsWith('Z'));
    QCOMPARE(b.value("id").toString(), QStringLiteral("b"));
    QCOMPARE(b.value("version").toInteger(), 4);
    QCOMPARE(b.value("deleted").toBool(), true);
    QVERIFY(b.value("data").isNull());

    // since = 3: only the tombstone; since = current: nothing, same version.
    QJsonObject later = s.pullOk(g.token, 3);
    QCOMPARE(later.value("changes").toArray().size(), 1);
    QCOMPARE(later.value("changes").toArray().at(0).toObject().value("id").toString(), QStringLiteral("b"));
    later = s.pullOk(g.token, 4);
    QCOMPARE(later.value("changes").toArray().size(), 0);
    QCOMPARE(later.value("version").toInteger(), 4);
    // A cursor from another history (beyond the counter) gets the real version back.
    later = s.pullOk(g.token, 99);
    QCOMPARE(later.value("changes").toArray().size(), 0);
    QCOMPARE(later.value("version").toInteger(), 4);
    // Defaults: no since, no limit.
    QCOMPARE(TestServer::json(s.pull(g.token, QString())).value("changes").toArray().size(), 2);

    // An empty push is valid and reports the state.
    QCOMPARE(s.pushOk(g.token, "dev1", {}), (QJsonObject{{"applied", 0}, {"skipped", 0}, {"lastMid", 4}, {"version", 4}}));
    QCOMPARE(s.pushOk(g.token, "dev2", {}), (QJsonObject{{"applied", 0}, {"skipped", 0}, {"lastMid", 0}, {"version", 4}}));
}

void SyncTest::putReplacesPatchMerges()
{
    SyncServer s;
    const auto g = s.guest();
    s.pushOk(g.token, "c", {
        put(1, "notes", "n1", {{"title", "x"}, {"body", "y"}}),
        put(2, "notes", "n1", {{"title", "z"}}),                        // replaces: body gone
        patch(3, "notes", "n2", {{"title", "new"}, {"gone", QJsonValue::Null}}),  // patch creates
        patch(4, "notes", "n1", {{"title", QJsonValue::Null}, {"tags", QJsonArray{"a"}}, {"meta", QJsonObject{{"k", 1}}}}),
        put(5, "notes", "n3", {{"v", 1}, {"w", 2}}),
        del(6, "notes", "n3"),
        patch(7, "notes", "n3", {{"w", 3}}),                           // patch on a tombstone starts afresh
        patch(8, "notes", "n4", {{"meta", QJsonObject{{"a", 1}}}}),
        patch(9, "notes", "n4", {{"meta", QJsonObject{{"b", 2}}}}),      // top-level only: meta replaced
    });
    const auto records = s.live(g.token);
    QCOMPARE(records.value("notes/n1"), (QJsonObject{{"tags", QJsonArray{"a"}}, {"meta", QJsonObject{{"k", 1}}}}));
    QCOMPARE(records.value("notes/n2"), (QJsonObject{{"title", "new"}}));
    QCOMPARE(records.value("notes/n3"), (QJsonObject{{"w", 3}}));
    QCOMPARE(records.value("notes/n4"), (QJsonObject{{"meta", QJsonObject{{"b", 2}}}}));
}

void SyncTest::retriedPushIsSkipped()
{
    SyncServer s;
    const auto g = s.guest();
    const QJsonArray batch{put(1, "cart", "a", {{"qty", 1}}), patch(2, "cart", "a", {{"qty", 2}}), put(3, "cart", "b", {{"qty", 1}})};
    QCOMPARE(s.pushOk(g.token, "dev", batch), (QJsonObject{{"applied", 3}, {"skipped", 0}, {"lastMid", 3}, {"version", 3}}));
    // The same push again (the response got lost): nothing applies twice.
    QCOMPARE(s.pushOk(g.token, "dev", batch), (QJsonObject{{"applied", 0}, {"skipped", 3}, {"lastMid", 3}, {"version", 3}}));
    QCOMPARE(s.pullOk(g.token).value("version").toInteger(), 3);
    // Partly overlapping: 2 and 3 skipped, 4 and 5 applied.
    const QJsonObject r = s.pushOk(g.token, "dev", {patch(2, "cart", "a", {{"qty", 99}}), put(3, "cart", "b", {{"qty", 99}}),
                                                    patch(4, "cart", "a", {{"gift", true}}), put(5, "cart", "c", {{"qty", 7}})});
    QCOMPARE(r, (QJsonObject{{"applied", 2}, {"skipped", 2}, {"lastMid", 5}, {"version", 5}}));
    const auto records = s.live(g.token);
    QCOMPARE(records.value("cart/a"), (QJsonObject{{"qty", 2}, {"gift", true}}));
    QCOMPARE(records.value("cart/b"), (QJsonObject{{"qty", 1}}));
    QCOMPARE(records.value("cart/c"), (QJsonObject{{"qty", 7}}));
    // Mids may skip numbers; only "greater than the last" matters.
    QCOMPARE(s.pushOk(g.token, "dev", {put(100, "cart", "d", {})}).value("lastMid").toInteger(), 100);
    QCOMPARE(s.pushOk(g.token, "dev", {put(50, "cart", "e", {})}).value("skipped").toInt(), 1);
    QCOMPARE(s.rows("sync_client", g.userId), 1);
}

void SyncTest::marksArePerClient()
{
    SyncServer s;
    const auto g = s.guest();
    s.pushOk(g.token, "phone", {put(1, "cart", "a", {{"from", "phone"}})});
    // Another client starts its own mids at 1; a later arrival wins.
    QCOMPARE(s.pushOk(g.token, "laptop", {put(1, "cart", "a", {{"from", "laptop"}})}),
             (QJsonObject{{"applied", 1}, {"skipped", 0}, {"lastMid", 1}, {"version", 2}}));
    QCOMPARE(s.live(g.token).value("cart/a"), (QJsonObject{{"from", "laptop"}}));
    QCOMPARE(s.rows("sync_client", g.userId), 2);
}

void SyncTest::orderWithinOnePush()
{
    SyncServer s;
    const auto g = s.guest();
    s.pushOk(g.token, "c", {put(1, "l", "x", {{"n", 1}}), del(2, "l", "x"), put(3, "l", "x", {{"n", 3}}),
                            put(4, "l", "y", {{"n", 4}}), del(5, "l", "y")});
    const QJsonArray changes = s.pullOk(g.token).value("changes").toArray();
    QCOMPARE(changes.size(), 2);
    QCOMPARE(changes.at(0).toObject().value("id").toString(), QStringLiteral("x"));
    QCOMPARE(changes.at(0).toObject().value("version").toInteger(), 3);
    QCOMPARE(changes.at(0).toObject().value("data").toObject(), (QJsonObject{{"n", 3}}));
    QCOMPARE(changes.at(1).toObject().value("id").toString(), QStringLiteral("y"));
    QCOMPARE(changes.at(1).toObject().value("version").toInteger(), 5);
    QCOMPARE(changes.at(1).toObject().value("deleted").toBool(), true);
}

void SyncTest::perUserIsolation()
{
    SyncServer s;
    const auto alice = s.guest();
    const auto bob = s.guest();
    s.pushOk(alice.token, "same-client", {put(1, "cart", "a", {{"owner", "alice"}}), put(2, "cart", "b", {})});
    // Same client id, same mids, same record ids: Bob's own space.
    QCOMPARE(s.pushOk(bob.token, "same-client", {put(1, "cart", "a", {{"owner", "bob"}})}),
             (QJsonObject{{"applied", 1}, {"skipped", 0}, {"lastMid", 1}, {"version", 1}}));
    QCOMPARE(s.live(alice.token).value("cart/a"), (QJsonObject{{"owner", "alice"}}));
    QCOMPARE(s.live(bob.token).value("cart/a"), (QJsonObject{{"owner", "bob"}}));
    QCOMPARE(s.live(bob.token).size(), 1);
    QCOMPARE(s.pullOk(alice.token).value("version").toInteger(), 2);
    // Bob deleting "a" leaves Alice's.
    s.pushOk(bob.token, "same-client", {del(2, "cart", "a")});
    QCOMPARE(s.live(alice.token).size(), 2);
}

void SyncTest::badPushes_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("status");
    QTest::addColumn<QString>("code");
    const auto one = [](const QByteArray &mutation) { return R"({"clientId":"c","mutations":[)" + mutation + "]}"; };
    QTest::newRow("not json") << QByteArray("{nope") << 400 << QStringLiteral("BAD_REQUEST");
    QTest::newRow("array body") << QByteArray("[]") << 400 << QStringLiteral("VALIDATION_ERROR");
    QTest::newRow("no clientId") << QByteArray(R"({"mutations":[]})") << 400 << QStringLiteral("INVALID_CLIENT_ID");
    QTest::newRow("empty clientId") << QByteArray(R"({"clientId":"","mutations":[]})") << 400 << QStringLiteral("INVALID_CLIENT_ID");
    QTest::newRow("numeric clientId") << QByteArray(R"({"clientId":7,"mutations":[]})") << 400 << QStringLiteral("INVALID_CLIENT_ID");
    QTest::newRow("clientId with space") << QByteArray(R"({"clientId":"a b","mutations":[]})") << 400 << QStringLiteral("INVALID_CLIENT_ID");
    QTest::newRow("clientId too long") << (R"({"clientId":")" + QByteArray(129, 'c') + R"(","mutations":[]})") << 400 << QStringLiteral("INVALID_CLIENT_ID");
    QTest::newRow("no mutations") << QByteArray(R"({"clientId":"c"})") << 400 << QStringLiteral("INVALID_MUTATIONS");
    QTest::newRow("mutations object") << QByteArray(R"({"clientId":"c","mutations":{}})") << 400 << QStringLiteral("INVALID_MUTATIONS");
    QTest::newRow("mutation not object") << one("1") << 400 << QStringLiteral("INVALID_MUTATIONS");
    QTest::newRow("no mid") << one(R"({"op":"put","collection":"c","id":"1","data":{}})") << 400 << QStringLiteral("INVALID_MID");
    QTest::newRow("mid 0") << one(R"({"mid":0,"op":"put","collection":"c","id":"1","data":{}})") << 400 << QStringLiteral("INVALID_MID");
    QTest::newRow("mid negative") << one(R"({"mid":-3,"op":"put","collection":"c","id":"1","data":{}})") << 400 << QStringLiteral("INVALID_MID");
    QTest::newRow("mid fraction") << one(R"({"mid":1.5,"op":"put","collection":"c","id":"1","data":{}})") << 400 << QStringLiteral("INVALID_MID");
    QTest::newRow("mid string") << one(R"({"mid":"1","op":"put","collection":"c","id":"1","data":{}})") << 400 << QStringLiteral("INVALID_MID");
    QTest::newRow("mid 2^53") << one(R"({"mid":9007199254740992,"op":"put","collection":"c","id":"1","data":{}})") << 400 << QStringLiteral("INVALID_MID");
    QTest::newRow("mid repeated") << one(R"({"mid":2,"op":"put","collection":"c","id":"1","data":{}},{"mid":2,"op":"put","collection":"c","id":"2","data":{}})") << 400 << QStringLiteral("INVALID_MID");
    QTest::newRow("mid decreasing") << one(R"({"mid":3,"op":"put","collection":"c","id":"1","data":{}},{"mid":1,"op":"put","collection":"c","id":"2","data":{}})") << 400 << QStringLiteral("INVALID_MID");
    QTest::newRow("no op") << one(R"({"mid":1,"collection":"c","id":"1","data":{}})") << 400 << QStringLiteral("INVALID_OP");
    QTest::newRow("bad op") << one(R"({"mid":1,"op":"upsert","collection":"c","id":"1","data":{}})") << 400 << QStringLiteral("INVALID_OP");
    QTest::newRow("op case") << one(R"({"mid":1,"op":"PUT","collection":"c","id":"1","data":{}})") << 400 << QStringLiteral("INVALID_OP");
    QTest::newRow("no collection") << one(R"({"mid":1,"op":"put","id":"1","data":{}})") << 400 << QStringLiteral("INVALID_COLLECTION");
    QTest::newRow("empty collection") << one(R"({"mid":1,"op":"put","collection":"","id":"1","data":{}})") << 400 << QStringLiteral("INVALID_COLLECTION");
    QTest::newRow("collection slash") << one(R"({"mid":1,"op":"put","collection":"a/b","id":"1","data":{}})") << 400 << QStringLiteral("INVALID_COLLECTION");
    QTest::newRow("collection dot first") << one(R"({"mid":1,"op":"put","collection":".a","id":"1","data":{}})") << 400 << QStringLiteral("INVALID_COLLECTION");
    QTest::newRow("collection too long") << one(R"({"mid":1,"op":"put","collection":")" + QByteArray(65, 'c') + R"(","id":"1","data":{}})") << 400 << QStringLiteral("INVALID_COLLECTION");
    QTest::newRow("no id") << one(R"({"mid":1,"op":"put","collection":"c","data":{}})") << 400 << QStringLiteral("INVALID_RECORD_ID");
    QTest::newRow("empty id") << one(R"({"mid":1,"op":"put","collection":"c","id":"","data":{}})") << 400 << QStringLiteral("INVALID_RECORD_ID");
    QTest::newRow("numeric id") << one(R"({"mid":1,"op":"put","collection":"c","id":1,"data":{}})") << 400 << QStringLiteral("INVALID_RECORD_ID");
    QTest::newRow("control char id") << one(R"({"mid":1,"op":"put","collection":"c","id":"a\nb","data":{}})") << 400 << QStringLiteral("INVALID_RECORD_ID");
    QTest::newRow("lone high surrogate id") << one(R"({"mid":1,"op":"put","collection":"c","id":"a\ud800","data":{}})") << 400 << QStringLiteral("INVALID_RECORD_ID");
    QTest::newRow("lone low surrogate id") << one(R"({"mid":1,"op":"put","collection":"c","id":"\udc00","data":{}})") << 400 << QStringLiteral("INVALID_RECORD_ID");
    QTest::newRow("id too long") << one(R"({"mid":1,"op":"put","collection":"c","id":")" + QByteArray(257, 'i') + R"(","data":{}})") << 400 << QStringLiteral("INVALID_RECORD_ID");
    QTest::newRow("put without data") << one(R"({"mid":1,"op":"put","collection":"c","id":"1"})") << 400 << QStringLiteral("INVALID_DATA");
    QTest::newRow("put array data") << one(R"({"mid":1,"op":"put","collection":"c","id":"1","data":[1]})") << 400 << QStringLiteral("INVALID_DATA");
    QTest::newRow("patch string data") << one(R"({"mid":1,"op":"patch","collection":"c","id":"1","data":"x"})") << 400 << QStringLiteral("INVALID_DATA");
    QTest::newRow("put null data") << one(R"({"mid":1,"op":"put","collection":"c","id":"1","data":null})") << 400 << QStringLiteral("INVALID_DATA");
    QTest::newRow("delete with data") << one(R"({"mid":1,"op":"delete","collection":"c","id":"1","data":{}})") << 400 << QStringLiteral("INVALID_DATA");
    // The first bad mutation decides, even after good ones.
    QTest::newRow("good then bad") << one(R"({"mid":1,"op":"put","collection":"c","id":"1","data":{}},{"mid":2,"op":"nope","collection":"c","id":"1"})") << 400 << QStringLiteral("INVALID_OP");
}

void SyncTest::badPushes()
{
    QFETCH(QByteArray, body);
    QFETCH(int, status);
    QFETCH(QString, code);
    SyncServer s;
    const auto g = s.guest();
    const Response r = s.call("POST", QStringLiteral("/api/sync/push"), body, SyncServer::bearer(g.token));
    QCOMPARE(r.status(), status);
    QCOMPARE(::code(r), code);
    QVERIFY(!TestServer::json(r).value("message").toString().isEmpty());
    QCOMPARE(s.pullOk(g.token).value("version").toInteger(), 0);   // nothing applied
    QCOMPARE(s.rows("sync_client", g.userId), 0);
    // null data is fine for delete; other fields are ignored.
    QCOMPARE(s.call("POST", QStringLiteral("/api/sync/push"),
                    R"({"clientId":"c","extra":1,"mutations":[{"mid":1,"op":"delete","collection":"c","id":"1","data":null,"x":2}]})",
                    SyncServer::bearer(g.token)).status(), 200);
}

void SyncTest::limitsAndAtomicity()
{
    SyncServer s;
    const auto g = s.guest();
    // Mutations per push: 500 pass, 501 do not.
    QJsonArray many;
    for (int i = 1; i <= 501; ++i)
        many.append(put(i, "m", QString::number(i), {}));
    Response r = s.push(g.token, "c", many);
    QCOMPARE(r.status(), 400);
    QCOMPARE(code(r), QStringLiteral("TOO_MANY_MUTATIONS"));
    many.removeLast();
    QCOMPARE(s.pushOk(g.token, "c", many).value("applied").toInt(), 500);

    // Record size: 64 KiB of compact JSON.
    const QString fits(64 * 1024, QLatin1Char('x'));
    const QJsonObject atLimit{{"t", fits.left(64 * 1024 - 8)}};   // {"t":"..."} = 8 bytes of framing
    QCOMPARE(QJsonDocument(atLimit).toJson(QJsonDocument::Compact).size(), 64 * 1024);
    QCOMPARE(s.push(g.token, "big", {put(1, "big", "exact", atLimit)}).status(), 200);
    r = s.push(g.token, "big", {put(2, "big", "over", {{"t", fits.left(64 * 1024 - 7)}})});
    QCOMPARE(r.status(), 400);
    QCOMPARE(code(r), QStringLiteral("RECORD_TOO_LARGE"));

    // A patch that makes a record too large fails the whole push: the put before it and the
    // client's mark stay as they were.
    const qint64 before = s.pullOk(g.token).value("version").toInteger();
    r = s.push(g.token, "big", {put(10, "big", "first", {{"ok", true}}), patch(11, "big", "exact", {{"more", "y"}})});
    QCOMPARE(r.status(), 400);
    QCOMPARE(code(r), QStringLiteral("RECORD_TOO_LARGE"));
    QCOMPARE(s.pullOk(g.token).value("version").toInteger(), before);
    QVERIFY(!s.live(g.token).contains("big/first"));
    QCOMPARE(s.pushOk(g.token, "big", {}).value("lastMid").toInteger(), 1);

    // Body size: the server-wide limit (1 MiB by default) answers first.
    const QByteArray huge = R"({"clientId":"c","mutations":[],"pad":")" + QByteArray(1024 * 1024, 'p') + "\"}";
    r = s.call("POST", QStringLiteral("/api/sync/push"), huge, SyncServer::bearer(g.token));
    QCOMPARE(r.status(), 413);
    QCOMPARE(code(r), QStringLiteral("PAYLOAD_TOO_LARGE"));

    // Wrong content type.
    Request text;
    text.method = "POST";
    text.path = QStringLiteral("/api/sync/push");
    text.body = R"({"clientId":"c","mutations":[]})";
    text.setHeader("content-type", "text/plain");
    text.setHeader("authorization", "Bearer " + g.token);
    r = s.server->auth->handle(text);
    QCOMPARE(r.status(), 415);
    // No body at all.
    r = s.call("POST", QStringLiteral("/api/sync/push"), {}, SyncServer::bearer(g.token));
    QCOMPARE(r.status(), 400);
    QCOMPARE(code(r), QStringLiteral("VALIDATION_ERROR"));

    // Configurable limits.
    SyncOptions small;
    small.maxMutationsPerPush = 2;
    small.maxRecordBytes = 100;
    SyncServer t(small);
    const auto h = t.guest();
    QCOMPARE(code(t.push(h.token, "c", {put(1, "a", "1", {}), put(2, "a", "2", {}), put(3, "a", "3", {})})), QStringLiteral("TOO_MANY_MUTATIONS"));
    QCOMPARE(code(t.push(h.token, "c", {put(1, "a", "1", {{"t", QString(100, 'x')}})})), QStringLiteral("RECORD_TOO_LARGE"));
}

void SyncTest::badPulls()
{
    SyncServer s;
    const auto g = s.guest();
    const QList<QPair<QString, QString>> cases{
        {"?since=-1", "INVALID_SINCE"}, {"?since=abc", "INVALID_SINCE"}, {"?since=1.5", "INVALID_SINCE"},
        {"?since=", "INVALID_SINCE"}, {"?since=1&since=2", "INVALID_SINCE"}, {"?since=1234567890123456789", "INVALID_SINCE"},
        {"?limit=0", "INVALID_LIMIT"}, {"?limit=1001", "INVALID_LIMIT"}, {"?limit=x", "INVALID_LIMIT"}, {"?limit=-5", "INVALID_LIMIT"},
    };
    for (const auto &[query, expected] : cases) {
        const Response r = s.pull(g.token, query);
        QVERIFY2(r.status() == 400, qPrintable(query));
        QCOMPARE(code(r), expected);
    }
    QCOMPARE(s.pull(g.token, "?limit=1000").status(), 200);
    QCOMPARE(s.pull(g.token, "?limit=1&since=0").status(), 200);
}

void SyncTest::pullPages()
{
    SyncServer s;
    const auto g = s.guest();
    QJsonArray batch;
    for (int i = 1; i <= 25; ++i)
        batch.append(put(i, "items", QStringLiteral("i%1").arg(i, 2, 10, QLatin1Char('0')), {{"n", i}}));
    s.pushOk(g.token, "c", batch);
    s.pushOk(g.token, "c", {patch(26, "items", "i03", {{"n", 300}})});   // i03 moves to version 26

    qint64 since = 0;
    QStringList seen;
    int pages = 0;
    for (bool more = true; more; ++pages) {
        const QJsonObject page = s.pullOk(g.token, since, 10);
        const QJsonArray changes = page.value("changes").toArray();
        QVERIFY(changes.size() <= 10);
        qint64 previous = since;
        for (const QJsonValue &c : changes) {
            QVERIFY(c.toObject().value("version").toInteger() > previous);
            previous = c.toObject().value("version").toInteger();
            seen << c.toObject().value("id").toString();
        }
        more = page.value("more").toBool();
        if (more)
            QCOMPARE(page.value("version").toInteger(), previous);
        since = page.value("version").toInteger();
        QVERIFY(pages < 10);
    }
    QCOMPARE(pages, 3);
    QCOMPARE(since, 26);
    QCOMPARE(seen.size(), 25);
    QCOMPARE(seen.last(), QStringLiteral("i03"));
    QCOMPARE(QSet<QString>(seen.begin(), seen.end()).size(), 25);
}

// What a page's byte budget counts of a change: its data's compact JSON (none for a
// tombstone), its collection and its id, in UTF-8.
static qint64 countedBytes(const QJsonObject &change)
{
    const QJsonValue data = change.value("data");
    return (data.isObject() ? QJsonDocument(data.toObject()).toJson(QJsonDocument::Compact).size() : 0)
        + change.value("collection").toString().toUtf8().size() + change.value("id").toString().toUtf8().size();
}

// 100 records of 60 KB are 6 MB: with the default budget of 4 MiB they come in several
// pages (one page of 1,000 such records used to be a 65 MB answer, built whole in memory),
// every record exactly once, each page within the budget.
void SyncTest::pullPagesStayWithinTheByteBudget()
{
    SyncServer s;
    QCOMPARE(s.sync->options().maxPullBytes, qint64(4 * 1024 * 1024));
    const auto g = s.guest();
    constexpr int kRecords = 100;
    const QString big(60000, QLatin1Char('x'));
    for (int first = 1; first <= kRecords; first += 16) {   // 16 x 60 KB per push: below 1 MiB
        QJsonArray batch;
        for (int i = first; i < first + 16 && i <= kRecords; ++i)
            batch.append(put(i, "big", QStringLiteral("r%1").arg(i, 3, 10, QLatin1Char('0')), {{"t", big}, {"n", i}}));
        s.pushOk(g.token, "c", batch);
    }

    qint64 since = 0;
    QStringList seen;
    int pages = 0;
    for (bool more = true; more; ++pages) {
        QVERIFY(pages < 20);
        const Response r = s.pull(g.token, QStringLiteral("?since=%1&limit=1000").arg(since));
        QCOMPARE(r.status(), 200);
        QVERIFY2(r.body().size() <= 4 * 1024 * 1024 + 64 * 1024,
                 qPrintable(QStringLiteral("page %1 is %2 bytes").arg(pages + 1).arg(r.body().size())));
        const QJsonObject page = TestServer::json(r);
        const QJsonArray changes = page.value("changes").toArray();
        QVERIFY(!changes.isEmpty());
        qint64 bytes = 0;
        for (const QJsonValue &c : changes) {
            bytes += countedBytes(c.toObject());
            seen << c.toObject().value("id").toString();
        }
        QVERIFY2(bytes <= s.sync->options().maxPullBytes, qPrintable(QStringLiteral("page %1 counts %2 bytes").arg(pages + 1).arg(bytes)));
        more = page.value("more").toBool();
        const qint64 version = page.value("version").toInteger();
        if (more) {
            QCOMPARE(version, changes.last().toObject().value("version").toInteger());
            // Full: the next record would not have fitted.
            QVERIFY(bytes + 60000 > s.sync->options().maxPullBytes);
        }
        QVERIFY(version > since);
        since = version;
    }
    QVERIFY2(pages >= 2, qPrintable(QStringLiteral("%1 page(s)").arg(pages)));
    QCOMPARE(since, kRecords);
    QCOMPARE(seen.size(), kRecords);
    QCOMPARE(QSet<QString>(seen.begin(), seen.end()).size(), kRecords);
}

// A configured budget: a record larger than it comes alone (a page is never empty, so
// every pull makes progress), tombstones count their collection and id, and the record
// limit still applies.
void SyncTest::pullByteBudgetEdges()
{
    SyncOptions options;
    options.maxPullBytes = 1000;
    SyncServer s(options);
    const auto g = s.guest();
    const auto data = [](int bytes) { return QJsonObject{{"t", QString(bytes - 8, QLatin1Char('d'))}}; };   // {"t":"…"}
    s.pushOk(g.token, "c", {put(1, "c", "a", data(400)), put(2, "c", "b", data(400)),   // 402 + 402 counted
                            put(3, "c", "huge", data(2000)),                            // 2005: alone above the budget
                            put(4, "c", "d", data(10)), del(5, "c", "d"),               // tombstone: 2
                            put(6, "c", "e", data(496))});                              // 498
    const auto page = [&](qint64 since, int limit = 1000) {
        const QJsonObject p = s.pullOk(g.token, since, limit);
        QStringList ids;
        for (const QJsonValue &c : p.value("changes").toArray())
            ids << c.toObject().value("id").toString();
        return std::make_tuple(ids, p.value("version").toInteger(), p.value("more").toBool());
    };
    QCOMPARE(page(0), std::make_tuple(QStringList{"a", "b"}, qint64(2), true));
    QCOMPARE(page(2), std::make_tuple(QStringList{"huge"}, qint64(3), true));
    QCOMPARE(page(3), std::make_tuple(QStringList{"d", "e"}, qint64(6), false));
    QCOMPARE(page(1), std::make_tuple(QStringList{"b"}, qint64(2), true));       // b + huge do not fit
    QCOMPARE(page(0, 1), std::make_tuple(QStringList{"a"}, qint64(1), true));    // the record limit still counts
    QCOMPARE(page(5), std::make_tuple(QStringList{"e"}, qint64(6), false));
    QCOMPARE(page(6), std::make_tuple(QStringList{}, qint64(6), false));
}

void SyncTest::originRules()
{
    SyncServer s;
    const Response anon = s.call("POST", QStringLiteral("/api/auth/sign-in/anonymous"));
    const QByteArray cookie = s.server->sessionCookie(anon);
    const QByteArray body = R"({"clientId":"c","mutations":[{"mid":1,"op":"put","collection":"c","id":"1","data":{}}]})";
    // Cookie-carrying POST: needs a trusted Origin.
    Response r = s.call("POST", QStringLiteral("/api/sync/push"), body, {{"cookie", cookie}});
    QCOMPARE(r.status(), 403);
    QCOMPARE(code(r), QStringLiteral("MISSING_OR_NULL_ORIGIN"));
    r = s.call("POST", QStringLiteral("/api/sync/push"), body, {{"cookie", cookie}, {"origin", "https://evil.example"}});
    QCOMPARE(r.status(), 403);
    QCOMPARE(code(r), QStringLiteral("INVALID_ORIGIN"));
    r = s.call("POST", QStringLiteral("/api/sync/push"), body, {{"cookie", cookie}, {"origin", kOrigin}});
    QCOMPARE(r.status(), 200);
    // GET with a cookie: no Origin needed.
    r = s.call("GET", QStringLiteral("/api/sync/pull"), {}, {{"cookie", cookie}});
    QCOMPARE(r.status(), 200);
    QCOMPARE(TestServer::json(r).value("version").toInteger(), 1);
    // Bearer: no Origin needed, and no set-auth-token on sync answers.
    r = s.call("POST", QStringLiteral("/api/sync/push"), R"({"clientId":"d","mutations":[]})",
               SyncServer::bearer(anon.header("set-auth-token")));
    QCOMPARE(r.status(), 200);
    QVERIFY(r.header("set-auth-token").isEmpty());
    QVERIFY(r.cookies().isEmpty());
}

void SyncTest::concurrentPushesKeepVersionsDense()
{
    SyncServer s;
    const auto g = s.guest();
    constexpr int kThreads = 2;
    constexpr int kPushes = 40;
    constexpr int kPerPush = 3;
    std::atomic<int> failures{0};
    QList<QThread *> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads << QThread::create([&, t] {
            for (int p = 1; p <= kPushes; ++p) {
                QJsonArray batch;
                for (int m = 0; m < kPerPush; ++m)
                    batch.append(put(p * 10 + m, "race", QStringLiteral("t%1-p%2-m%3").arg(t).arg(p).arg(m), {{"t", t}}));
                const Response r = s.push(g.token, QStringLiteral("thread-%1").arg(t), batch);
                if (r.status() != 200 || TestServer::json(r).value("applied").toInt() != kPerPush)
                    ++failures;
            }
        });
    }
    for (QThread *thread : threads)
        thread->start();
    for (QThread *thread : threads) {
        QVERIFY(thread->wait(120000));
        delete thread;
    }
    QCOMPARE(failures.load(), 0);
    const QJsonObject all = s.pullOk(g.token, 0, 1000);
    const qint64 total = kThreads * kPushes * kPerPush;
    QCOMPARE(all.value("version").toInteger(), total);
    const QJsonArray changes = all.value("changes").toArray();
    QCOMPARE(changes.size(), int(total));
    for (int i = 0; i < changes.size(); ++i)
        QCOMPARE(changes.at(i).toObject().value("version").toInteger(), i + 1);   // 1..N: no gap, no duplicate
    QCOMPARE(s.usage(g.userId), int(total * jsonBytes({{"t", 0}})));   // no push's bytes lost
    QCOMPARE(s.usage(g.userId), s.liveBytes(g.token));
}

// Sixteen devices of one user push at the same moment, again and again. Every push
// touches the user's one version counter; on PostgreSQL they must queue for it, not fail
// with serialization errors once the retries run out (seen in the benchmark: ~1 push in
// 2,000 answered 500 at 16 connections).
void SyncTest::manyDevicesOfOneUserPushAtOnce()
{
    SyncServer s;
    const auto g = s.guest();
    constexpr int kDevices = 16;
    constexpr int kRounds = 15;
    std::atomic<int> failures{0};
    QSemaphore start;
    QList<QThread *> threads;
    for (int t = 0; t < kDevices; ++t) {
        threads << QThread::create([&, t] {
            for (int p = 1; p <= kRounds; ++p) {
                start.acquire();   // all devices of a round go together
                const Response r = s.push(g.token, QStringLiteral("device-%1").arg(t),
                                          {put(p, "race", QStringLiteral("d%1-r%2").arg(t).arg(p), {{"t", t}})});
                if (r.status() != 200 || TestServer::json(r).value("applied").toInt() != 1) {
                    qWarning("device %d round %d: %d %s", t, p, r.status(), r.body().constData());
                    ++failures;
                }
            }
        });
    }
    for (QThread *thread : threads)
        thread->start();
    for (int round = 0; round < kRounds; ++round) {
        start.release(kDevices);
        QTest::qWait(20);
    }
    for (QThread *thread : threads) {
        QVERIFY(thread->wait(120000));
        delete thread;
    }
    QCOMPARE(failures.load(), 0);
    QCOMPARE(s.pullOk(g.token, 0, 1000).value("version").toInteger(), qint64(kDevices * kRounds));
}

void SyncTest::linkMovesGuestDataToNewAccount()
{
    SyncServer s;
    // Another account exists with data of its own: its versions are untouched.
    const auto other = s.signUp(QStringLiteral("other@example.com"));
    s.pushOk(other.token, "o", {put(1, "cart", "apple", {{"qty", 9}})});

    const auto g = s.guest();
    s.pushOk(g.token, "guest-phone", {put(1, "cart", "apple", {{"qty", 2}}), put(2, "cart", "pear", {{"qty", 1}}),
                                      put(3, "wishlist", "w1", {{"name", "kite"}}), del(4, "cart", "gone")});
    const auto account = s.signUp(QStringLiteral("ada@example.com"), g.token);
    QVERIFY(account.userId != g.userId);

    const QJsonObject pulled = s.pullOk(account.token);
    const QJsonArray changes = pulled.value("changes").toArray();
    QCOMPARE(changes.size(), 4);
    QCOMPARE(pulled.value("version").toInteger(), 4);
    for (int i = 0; i < changes.size(); ++i)
        QCOMPARE(changes.at(i).toObject().value("version").toInteger(), i + 1);
    const auto records = s.live(account.token);
    QCOMPARE(records.size(), 3);
    QCOMPARE(records.value("cart/apple"), (QJsonObject{{"qty", 2}}));
    QCOMPARE(records.value("wishlist/w1"), (QJsonObject{{"name", "kite"}}));
    QCOMPARE(changes.at(3).toObject().value("deleted").toBool(), true);   // the tombstone came along

    // The guest and all of its sync rows are gone; the other account is untouched.
    QVERIFY(!s.server->store->userById(g.userId));
    QCOMPARE(s.rows("sync_record", g.userId), 0);
    QCOMPARE(s.rows("sync_client", g.userId), 0);
    QCOMPARE(s.rows("sync_user_version", g.userId), 0);
    QCOMPARE(s.live(other.token).value("cart/apple"), (QJsonObject{{"qty", 9}}));
    QCOMPARE(s.pullOk(other.token).value("version").toInteger(), 1);

    // The device retries its last push under the new account: recognised as applied.
    const QJsonObject retried = s.pushOk(account.token, "guest-phone", {put(3, "wishlist", "w1", {{"name", "kite"}}), del(4, "cart", "gone")});
    QCOMPARE(retried, (QJsonObject{{"applied", 0}, {"skipped", 2}, {"lastMid", 4}, {"version", 4}}));
    QCOMPARE(s.pushOk(account.token, "guest-phone", {put(5, "cart", "plum", {})}).value("version").toInteger(), 5);
}

void SyncTest::linkMergesByPolicy_data()
{
    QTest::addColumn<QString>("policy");   // "" = not configured (default merge-fields)
    QTest::addColumn<QJsonObject>("expected");
    QTest::addColumn<int>("deviceSees");   // changes the account's other device pulls after the link
    QTest::newRow("default") << QString() << QJsonObject{{"qty", 5}, {"color", "red"}, {"size", "L"}} << 2;
    QTest::newRow("merge-fields") << QStringLiteral("merge-fields") << QJsonObject{{"qty", 5}, {"color", "red"}, {"size", "L"}} << 2;
    QTest::newRow("keep-account") << QStringLiteral("keep-account") << QJsonObject{{"qty", 1}, {"color", "red"}} << 1;
    QTest::newRow("keep-guest") << QStringLiteral("keep-guest") << QJsonObject{{"qty", 5}, {"size", "L"}} << 2;
}

void SyncTest::linkMergesByPolicy()
{
    QFETCH(QString, policy);
    QFETCH(QJsonObject, expected);
    QFETCH(int, deviceSees);
    SyncOptions options;
    if (!policy.isEmpty())
        options.mergePolicies.insert(QStringLiteral("cart"), *parseMergePolicy(policy));
    options.mergePolicies.insert(QStringLiteral("prefs"), MergePolicy::KeepAccount);   // another collection, another policy
    SyncServer s(options);

    const auto device = s.signUp(QStringLiteral("bob@example.com"));
    s.pushOk(device.token, "laptop", {put(1, "cart", "shoe", {{"qty", 1}, {"color", "red"}}), put(2, "cart", "hat", {{"qty", 1}}),
                                      put(3, "prefs", "theme", {{"dark", true}})});
    const qint64 deviceVersion = s.pullOk(device.token).value("version").toInteger();
    QTest::qWait(5);   // the guest's record is the newer one

    const auto g = s.guest();
    s.pushOk(g.token, "phone", {put(1, "cart", "shoe", {{"qty", 5}, {"size", "L"}}), put(2, "cart", "sock", {{"qty", 3}}),
                                put(3, "prefs", "theme", {{"dark", false}, {"font", "big"}})});
    const auto signedIn = s.signIn(QStringLiteral("bob@example.com"), g.token);
    QCOMPARE(signedIn.userId, device.userId);

    const auto records = s.live(signedIn.token);
    QCOMPARE(records.value("cart/shoe"), expected);
    QCOMPARE(records.value("cart/hat"), (QJsonObject{{"qty", 1}}));
    QCOMPARE(records.value("cart/sock"), (QJsonObject{{"qty", 3}}));
    QCOMPARE(records.value("prefs/theme"), (QJsonObject{{"dark", true}}));
    // The laptop pulls the changes: the moved sock, and the shoe when the merge changed it.
    const QJsonArray news = s.pullOk(device.token, deviceVersion).value("changes").toArray();
    QCOMPARE(news.size(), deviceSees);
    QSet<QString> ids;
    for (const QJsonValue &c : news)
        ids.insert(c.toObject().value("id").toString());
    QVERIFY(ids.contains("sock"));
    QVERIFY(!ids.contains("hat"));
    QVERIFY(!ids.contains("theme"));
    QCOMPARE(s.rows("sync_record", g.userId), 0);
}

void SyncTest::linkMergeFieldsNewerAccountWins()
{
    SyncServer s;
    const auto account = s.signUp(QStringLiteral("cy@example.com"));
    const auto g = s.guest();
    s.pushOk(g.token, "phone", {put(1, "cart", "shoe", {{"qty", 5}, {"size", "L"}})});
    QTest::qWait(5);
    s.pushOk(account.token, "laptop", {put(1, "cart", "shoe", {{"qty", 1}, {"color", "red"}})});   // newer
    s.signIn(QStringLiteral("cy@example.com"), g.token);
    QCOMPARE(s.live(account.token).value("cart/shoe"), (QJsonObject{{"qty", 1}, {"color", "red"}, {"size", "L"}}));
}

void SyncTest::linkTombstones()
{
    SyncServer s;
    const auto account = s.signUp(QStringLiteral("dee@example.com"));
    s.pushOk(account.token, "laptop", {put(1, "c", "liveInAccount", {{"a", 1}}), put(2, "c", "deadInAccount", {}),
                                       del(3, "c", "deadInAccount")});
    const qint64 before = s.pullOk(account.token).value("version").toInteger();
    const auto g = s.guest();
    s.pushOk(g.token, "phone", {put(1, "c", "liveInAccount", {}), del(2, "c", "liveInAccount"),
                                put(3, "c", "deadInAccount", {}), del(4, "c", "deadInAccount"),
                                put(5, "c", "onlyGuest", {}), del(6, "c", "onlyGuest"),
                                put(7, "c", "revived", {{"g", 1}})});
    s.pushOk(account.token, "laptop", {put(4, "c", "revived", {}), del(5, "c", "revived")});
    s.signIn(QStringLiteral("dee@example.com"), g.token);
    const QJsonArray changes = s.pullOk(account.token, before + 2).value("changes").toArray();
    QMap<QString, QJsonObject> byId;
    for (const QJsonValue &c : changes)
        byId.insert(c.toObject().value("id").toString(), c.toObject());
    QCOMPARE(byId.size(), 2);
    QVERIFY(byId.value("onlyGuest").value("deleted").toBool());           // carried over
    QCOMPARE(byId.value("revived").value("data").toObject(), (QJsonObject{{"g", 1}}));   // guest live beats account tombstone
    const auto records = s.live(account.token);
    QCOMPARE(records.value("c/liveInAccount"), (QJsonObject{{"a", 1}}));   // guest's tombstone dropped
    QVERIFY(!records.contains("c/deadInAccount"));
}

void SyncTest::linkMergeHook()
{
    SyncOptions options;
    std::atomic<int> calls{0};
    options.mergeHook = [&](const QString &collection, const QJsonObject &account, const QJsonObject &guest) {
        ++calls;
        QJsonObject merged = account;
        merged.insert("qty", account.value("qty").toInt() + guest.value("qty").toInt());
        merged.insert("collection", collection);
        return merged;
    };
    options.mergePolicies.insert(QStringLiteral("prefs"), MergePolicy::KeepGuest);   // explicit policy beats the hook
    SyncServer s(options);
    const auto account = s.signUp(QStringLiteral("eve@example.com"));
    s.pushOk(account.token, "l", {put(1, "cart", "shoe", {{"qty", 2}}), put(2, "prefs", "p", {{"v", "account"}})});
    const auto g = s.guest();
    s.pushOk(g.token, "p", {put(1, "cart", "shoe", {{"qty", 3}}), put(2, "prefs", "p", {{"v", "guest"}})});
    s.signIn(QStringLiteral("eve@example.com"), g.token);
    QCOMPARE(calls.load(), 1);
    const auto records = s.live(account.token);
    QCOMPARE(records.value("cart/shoe"), (QJsonObject{{"qty", 5}, {"collection", "cart"}}));
    QCOMPARE(records.value("prefs/p"), (QJsonObject{{"v", "guest"}}));
}

void SyncTest::linkMergeAboveRecordLimitKeepsBoth_data()
{
    QTest::addColumn<bool>("hook");
    QTest::newRow("merge-fields") << false;
    QTest::newRow("merge hook") << true;
}

// Two records that each fit but whose merge would not (merge-fields, or a hook's result
// above max_record_bytes): the account's record stays as it is, the guest's goes whole to
// the conflict collection, and the record keeps taking patches (it used to become 80 KB,
// and every later patch of it was refused with RECORD_TOO_LARGE).
void SyncTest::linkMergeAboveRecordLimitKeepsBoth()
{
    QFETCH(bool, hook);
    SyncOptions options;
    if (hook) {
        options.mergeHook = [](const QString &, const QJsonObject &account, const QJsonObject &guest) {
            QJsonObject merged = account;
            merged.insert("g", guest.value("g"));
            if (account.value("a").isString())
                merged.insert("history", QString(70000, 'h'));   // the hook's result alone is too large
            return merged;
        };
    }
    SyncServer s(options);
    const auto account = s.signUp(QStringLiteral("ivy@example.com"));
    const QJsonObject accountNote{{"a", QString(40000, 'a')}};
    const QJsonObject guestNote{{"g", QString(40000, 'g')}};
    s.pushOk(account.token, "laptop", {put(1, "notes", "n1", accountNote), put(2, "notes", "small", {{"a", 1}})});
    const QJsonObject before = s.pullOk(account.token);
    const qint64 accountVersion = before.value("version").toInteger();
    const QString accountUpdatedAt = before.value("changes").toArray().at(0).toObject().value("updatedAt").toString();
    QTest::qWait(5);   // the guest's records are the newer ones

    const auto g = s.guest();
    s.pushOk(g.token, "phone", {put(1, "notes", "n1", guestNote), put(2, "notes", "small", {{"g", 2}})});
    const auto signedIn = s.signIn(QStringLiteral("ivy@example.com"), g.token);
    QCOMPARE(signedIn.userId, account.userId);

    // The account's record is untouched (same data, same version, same updatedAt).
    const auto size = [](const QJsonObject &o) { return QByteArray::number(QJsonDocument(o).toJson(QJsonDocument::Compact).size()); };
    const auto records = s.live(account.token);
    QVERIFY2(records.value("notes/n1") == accountNote,
             "notes/n1 is not the account's record; it has " + size(records.value("notes/n1")) + " bytes");
    const QJsonArray news = s.pullOk(account.token, accountVersion).value("changes").toArray();
    for (const QJsonValue &c : news)
        QVERIFY2(c.toObject().value("id").toString() != QLatin1String("n1"), "notes/n1 was rewritten");
    // The guest's record is kept whole, in the conflict collection, where the user's
    // devices pull it.
    QJsonObject conflict;
    int conflicts = 0;
    for (auto it = records.constBegin(); it != records.constEnd(); ++it) {
        if (it.key().startsWith(QLatin1String("_conflicts/"))) {
            conflict = it.value();
            ++conflicts;
        }
    }
    QCOMPARE(conflicts, 1);
    QCOMPARE(conflict.value("collection").toString(), QStringLiteral("notes"));
    QCOMPARE(conflict.value("id").toString(), QStringLiteral("n1"));
    QCOMPARE(conflict.value("reason").toString(), QStringLiteral("RECORD_TOO_LARGE"));
    QVERIFY2(conflict.value("data").toObject() == guestNote, "the conflict does not hold the guest's record");
    QVERIFY(conflict.value("mergedBytes").toInteger() > 64 * 1024);
    QVERIFY(!conflict.value("updatedAt").toString().isEmpty());
    QVERIFY(conflict.value("updatedAt").toString() != accountUpdatedAt);
    // Records that merge within the limit merge as before.
    QCOMPARE(records.value("notes/small"), (QJsonObject{{"a", 1}, {"g", 2}}));
    // Every record outside the conflict collection fits, and the device can go on
    // patching the one that did not merge.
    for (auto it = records.constBegin(); it != records.constEnd(); ++it) {
        if (!it.key().startsWith(QLatin1String("_conflicts/")))
            QVERIFY2(size(it.value()).toInt() <= 64 * 1024, qPrintable(it.key()));
    }
    const Response patched = s.push(account.token, "laptop", {patch(3, "notes", "n1", {{"more", "text"}})});
    QVERIFY2(patched.status() == 200, patched.body().constData());
    QCOMPARE(s.live(account.token).value("notes/n1").value("more").toString(), QStringLiteral("text"));
    QCOMPARE(s.rows("sync_record", g.userId), 0);
}

// A record can be above max_record_bytes: a conflict record wraps a guest record of up to
// the limit, and an operator may lower the limit. Patches that shrink it or keep its size
// apply; one that would grow it is refused (every patch of such a record used to be).
void SyncTest::recordAboveLimitTakesPatchesThatDoNotGrowIt()
{
    SyncOptions options;
    options.maxRecordBytes = 1000;
    SyncServer s(options);
    const auto account = s.signUp(QStringLiteral("zoe@example.com"));
    s.pushOk(account.token, "laptop", {put(1, "notes", "n1", {{"a", QString(600, 'a')}, {"b", QString(50, 'b')}})});
    QTest::qWait(5);
    const auto g = s.guest();
    const QJsonObject guestNote{{"g", QString(1000 - 8, 'g')}};   // exactly at the limit
    s.pushOk(g.token, "phone", {put(1, "notes", "n1", guestNote)});
    s.signIn(QStringLiteral("zoe@example.com"), g.token);

    QString conflictId;
    for (const auto &[key, value] : s.live(account.token).asKeyValueRange()) {
        if (key.startsWith(QLatin1String("_conflicts/")))
            conflictId = key.mid(int(qstrlen("_conflicts/")));
    }
    QVERIFY(!conflictId.isEmpty());
    const auto bytes = [&] {
        const QJsonObject c = s.live(account.token).value(QStringLiteral("_conflicts/") + conflictId);
        return QJsonDocument(c).toJson(QJsonDocument::Compact).size();
    };
    const qsizetype wrapped = bytes();
    QVERIFY2(wrapped > 1000, QByteArray::number(wrapped));

    // Growing it: refused, nothing applied.
    Response r = s.push(account.token, "laptop", {patch(2, "_conflicts", conflictId, {{"seen", true}})});
    QCOMPARE(r.status(), 400);
    QCOMPARE(code(r), QStringLiteral("RECORD_TOO_LARGE"));
    QCOMPARE(bytes(), wrapped);
    // The same size (a field replaced by one as long): applied, still above the limit.
    r = s.push(account.token, "laptop", {patch(2, "_conflicts", conflictId, {{"reason", "RECORD_TOO_LARGF"}})});
    QVERIFY2(r.status() == 200, r.body().constData());
    QCOMPARE(bytes(), wrapped);
    // Shrinking it, still above the limit: applied.
    r = s.push(account.token, "laptop", {patch(3, "_conflicts", conflictId, {{"reason", QJsonValue::Null}})});
    QVERIFY2(r.status() == 200, r.body().constData());
    QVERIFY(bytes() < wrapped && bytes() > 1000);
    // Below the limit again, it grows only up to the limit.
    r = s.push(account.token, "laptop", {patch(4, "_conflicts", conflictId, {{"data", QJsonValue::Null}})});
    QVERIFY2(r.status() == 200, r.body().constData());
    QVERIFY(bytes() < 1000);
    r = s.push(account.token, "laptop", {patch(5, "_conflicts", conflictId, {{"note", QString(1000, 'n')}})});
    QCOMPARE(code(r), QStringLiteral("RECORD_TOO_LARGE"));

    // A limit lowered after a record was written: the service of the lower limit on the
    // same store takes a patch that shrinks the record and refuses one that grows it.
    SyncOptions lowered;
    lowered.maxRecordBytes = 100;
    const SyncService tight(lowered);
    const auto pushTight = [&](const QJsonObject &mutation) {
        return tight.push(*s.server->store, account.userId,
                          tight.parsePush(QJsonObject{{"clientId", "tool"}, {"mutations", QJsonArray{mutation}}}));
    };
    try {
        pushTight(patch(1, "notes", "n1", {{"more", "x"}}));
        QFAIL("a patch that grows a record above the lowered limit was applied");
    } catch (const SyncError &error) {
        QCOMPARE(error.code(), QStringLiteral("RECORD_TOO_LARGE"));
    }
    QCOMPARE(pushTight(patch(1, "notes", "n1", {{"b", QJsonValue::Null}})).applied, 1);
    QCOMPARE(s.live(account.token).value("notes/n1"), (QJsonObject{{"a", QString(600, 'a')}}));
}

void SyncTest::linkClientMarksKeepTheHigher()
{
    SyncServer s;
    const auto account = s.signUp(QStringLiteral("fay@example.com"));
    s.pushOk(account.token, "shared-device", {put(10, "c", "a", {})});
    const auto g = s.guest();
    s.pushOk(g.token, "shared-device", {put(3, "c", "b", {})});
    s.pushOk(g.token, "guest-only", {put(7, "c", "c", {})});
    s.signIn(QStringLiteral("fay@example.com"), g.token);
    QCOMPARE(s.pushOk(account.token, "shared-device", {}).value("lastMid").toInteger(), 10);
    QCOMPARE(s.pushOk(account.token, "guest-only", {}).value("lastMid").toInteger(), 7);
}

// A large guest meets an account that holds some of its keys, in every combination (live
// or tombstone on either side; a merge that changes the account's record, keeps it, or
// would overflow it): every record ends up as the per-record rules say, the link's
// writes take consecutive versions right above the account's counter (the moved records
// in the guest's order), the counts are right, and nothing of the guest stays.
void SyncTest::linkManyGuestRecords()
{
    SyncOptions options;
    options.maxRecordBytes = 1000;   // two records of 600 bytes merge into one above it
    SyncServer s(options);
    constexpr int kRecords = 5000;
    enum Kind { Merged, Kept, OverTombstone, Dropped, BothDeleted, GuestTombstone, Conflict, GuestOnly };
    const auto kindOf = [](int i) {
        switch (i % 50) {
        case 0: case 1: return Merged;          // both live, the merge adds the guest's field
        case 2: return Kept;                    // both live, the merge is the account's record
        case 3: return OverTombstone;           // guest live, account tombstone
        case 4: return Dropped;                 // guest tombstone, account live
        case 5: return BothDeleted;             // tombstones on both sides
        case 6: case 7: case 8: case 9: return GuestTombstone;   // only the guest, a tombstone
        case 10: return Conflict;               // both live, the merge would be too large
        default: return GuestOnly;              // only the guest, live (39 of 50)
        }
    };
    const auto collectionOf = [](int i) { return i % 3 ? QStringLiteral("notes") : QStringLiteral("cart"); };
    const auto keyOf = [&](int i) { return collectionOf(i) + QStringLiteral("/r") + QString::number(i); };
    const QString bigA(600, 'a');
    const QString bigG(600, 'g');

    const auto account = s.signUp(QStringLiteral("max@example.com"));
    QJsonArray accountMutations;
    for (int i = 0; i < kRecords; ++i) {
        const qint64 mid = accountMutations.size() + 1;
        const QString id = QStringLiteral("r%1").arg(i);
        switch (kindOf(i)) {
        case Merged: case Kept: case Dropped:
            accountMutations.append(put(mid, collectionOf(i), id, {{"a", i}}));
            break;
        case Conflict:
            accountMutations.append(put(mid, collectionOf(i), id, {{"a", bigA}}));
            break;
        case OverTombstone: case BothDeleted:
            accountMutations.append(del(mid, collectionOf(i), id));
            break;
        default:
            if (i % 100 == 20)   // records of the account's own, between the others
                accountMutations.append(put(mid, "own", QStringLiteral("o%1").arg(i), {{"own", i}}));
            break;
        }
    }
    s.pushAll(account.token, "laptop", accountMutations);
    const QList<QJsonObject> accountBefore = s.allChanges(account.token);
    const qint64 before = s.server->store->syncVersion(account.userId);
    QCOMPARE(before, qint64(accountMutations.size()));
    QHash<QString, QJsonObject> previous;   // collection/id -> the account's change before the link
    for (const QJsonObject &c : accountBefore)
        previous.insert(c.value("collection").toString() + '/' + c.value("id").toString(), c);
    QTest::qWait(5);   // the guest's records are the newer ones

    const auto g = s.guest();
    QJsonArray guestMutations;
    for (int i = 0; i < kRecords; ++i) {
        const qint64 mid = i + 1;
        const QString id = QStringLiteral("r%1").arg(i);
        switch (kindOf(i)) {
        case Kept:
            guestMutations.append(put(mid, collectionOf(i), id, {{"a", i}}));
            break;
        case Conflict:
            guestMutations.append(put(mid, collectionOf(i), id, {{"g", bigG}}));
            break;
        case Dropped: case BothDeleted: case GuestTombstone:
            guestMutations.append(del(mid, collectionOf(i), id));
            break;
        default:
            guestMutations.append(put(mid, collectionOf(i), id, {{"g", i}}));
            break;
        }
    }
    s.pushAll(g.token, "phone", guestMutations);

    SyncLinkResult result;
    s.server->store->transaction([&] { result = s.sync->linkGuest(*s.server->store, g.userId, account.userId); });
    constexpr int kGroups = kRecords / 50;
    QCOMPARE(result.moved, kGroups * (1 + 39));
    QCOMPARE(result.merged, kGroups * 2);
    QCOMPARE(result.keptAccount, kGroups);
    QCOMPARE(result.conflicts, kGroups);
    QCOMPARE(result.tombstones, kGroups * 4);
    QCOMPARE(result.dropped, kGroups);
    QCOMPARE(result.clients, 1);
    const qint64 written = result.moved + result.merged + result.conflicts + result.tombstones;

    // Versions: unique per record, and the link's exactly before+1 .. before+written.
    const QList<QJsonObject> after = s.allChanges(account.token);
    QCOMPARE(s.server->store->syncVersion(account.userId), before + written);
    QHash<QString, QJsonObject> records;
    std::set<qint64> versions, fresh;
    for (const QJsonObject &c : after) {
        const qint64 version = c.value("version").toInteger();
        QVERIFY2(versions.insert(version).second, qPrintable(QStringLiteral("version %1 twice").arg(version)));
        if (version > before)
            fresh.insert(version);
        records.insert(c.value("collection").toString() + '/' + c.value("id").toString(), c);
    }
    QCOMPARE(qint64(fresh.size()), written);
    QCOMPARE(*fresh.begin(), before + 1);
    QCOMPARE(*fresh.rbegin(), before + written);

    QHash<QString, QJsonObject> conflicts;   // the guest's collection/id -> its conflict record
    for (auto it = records.constBegin(); it != records.constEnd(); ++it) {
        if (it.key().startsWith(QLatin1String("_conflicts/"))) {
            const QJsonObject d = it.value().value("data").toObject();
            conflicts.insert(d.value("collection").toString() + '/' + d.value("id").toString(), it.value());
        }
    }

    // Every record as the rules say.
    const auto unchanged = [&](const QString &key) { return records.value(key) == previous.value(key); };
    int conflictRecords = 0;
    qint64 lastMovedVersion = before;
    for (int i = 0; i < kRecords; ++i) {
        const QString key = keyOf(i);
        QVERIFY2(records.contains(key), qPrintable(key));
        const QJsonObject r = records.value(key);
        const qint64 version = r.value("version").toInteger();
        const QJsonValue data = r.value("data");
        switch (kindOf(i)) {
        case Merged:
            QVERIFY2(version > before && data.toObject() == (QJsonObject{{"a", i}, {"g", i}}), qPrintable(key));
            break;
        case Kept: case Dropped: case BothDeleted: case Conflict:
            QVERIFY2(unchanged(key), qPrintable(key));
            break;
        case OverTombstone:
            QVERIFY2(version > before && data.toObject() == (QJsonObject{{"g", i}}), qPrintable(key));
            break;
        case GuestTombstone:
            QVERIFY2(version > before && r.value("deleted").toBool() && data.isNull(), qPrintable(key));
            break;
        case GuestOnly:
            QVERIFY2(!r.value("deleted").toBool() && data.toObject() == (QJsonObject{{"g", i}}), qPrintable(key));
            break;
        }
        if (kindOf(i) == GuestOnly || kindOf(i) == GuestTombstone) {
            // Moved records keep the guest's order.
            QVERIFY2(version > lastMovedVersion, qPrintable(key));
            lastMovedVersion = version;
        }
        if (kindOf(i) == Conflict) {
            const QJsonObject conflict = conflicts.value(key);
            QVERIFY2(conflict.value("version").toInteger() > before, qPrintable(key + QStringLiteral(": no conflict record")));
            QVERIFY2(conflict.value("data").toObject().value("data").toObject() == (QJsonObject{{"g", bigG}}), qPrintable(key));
            ++conflictRecords;
        }
    }
    QCOMPARE(conflictRecords, kGroups);
    QCOMPARE(conflicts.size(), kGroups);
    for (auto it = previous.constBegin(); it != previous.constEnd(); ++it) {
        if (it.key().startsWith(QLatin1String("own/")))
            QVERIFY2(unchanged(it.key()), qPrintable(it.key()));
    }
    // The account holds its own keys, the guest's keys and one conflict record per conflict.
    QSet<QString> expectedKeys;
    for (auto it = previous.constBegin(); it != previous.constEnd(); ++it)
        expectedKeys.insert(it.key());
    for (int i = 0; i < kRecords; ++i)
        expectedKeys.insert(keyOf(i));
    QCOMPARE(qsizetype(records.size()), expectedKeys.size() + kGroups);

    // Nothing of the guest stays; its device's mark travelled.
    QCOMPARE(s.rows("sync_record", g.userId), 0);
    QCOMPARE(s.rows("sync_client", g.userId), 0);
    QCOMPARE(s.rows("sync_user_version", g.userId), 0);
    QCOMPARE(s.pushOk(account.token, "phone", {}).value("lastMid").toInteger(), qint64(kRecords));
}

// The link reads only the guest's records whose key the account holds too; the others
// move inside the database, never handed to the service and never written one by one. A
// decorating store watches every record the store returns and every single write. (Before,
// the link read all 1,000 guest records, looked each up in the account and wrote every
// one it kept back one by one: 1,100 records read, 950 writes here.)
void SyncTest::linkReadsOnlySharedRecords()
{
    struct WatchingStore : ForwardingStore
    {
        using ForwardingStore::ForwardingStore;
        QStringList read;   // userId|collection/id of every record handed out
        int writes = 0;     // putSyncRecord calls

        void saw(const QString &userId, const SyncRecord &r) { read.append(userId + '|' + r.collection + '/' + r.recordId); }
        std::optional<SyncRecord> syncRecord(const QString &userId, const QString &collection, const QString &recordId) override
        {
            std::optional<SyncRecord> r = ForwardingStore::syncRecord(userId, collection, recordId);
            if (r)
                saw(userId, *r);
            return r;
        }
        QList<SyncRecord> syncChangesSince(const QString &userId, qint64 since, qint64 upTo, int limit) override
        {
            const QList<SyncRecord> records = ForwardingStore::syncChangesSince(userId, since, upTo, limit);
            for (const SyncRecord &r : records)
                saw(userId, r);
            return records;
        }
        QList<SharedSyncRecord> sharedSyncRecords(const QString &fromUserId, const QString &toUserId) override
        {
            const QList<SharedSyncRecord> shared = ForwardingStore::sharedSyncRecords(fromUserId, toUserId);
            for (const SharedSyncRecord &pair : shared) {
                saw(fromUserId, pair.from);
                saw(toUserId, pair.to);
            }
            return shared;
        }
        void putSyncRecord(const QString &userId, const SyncRecord &record) override
        {
            ++writes;
            ForwardingStore::putSyncRecord(userId, record);
        }
    };

    SyncServer s;
    // Guest records r0..r999; the account holds every tenth key (r0, r10, ...), in four
    // kinds: both live (merged), account tombstone (the guest's moves over it), guest
    // tombstone (dropped), both tombstones. Of the other 900, r5, r15, ... are tombstones.
    const auto account = s.signUp(QStringLiteral("nia@example.com"));
    QJsonArray accountMutations, guestMutations;
    for (int i = 0; i < 1000; i += 10) {
        const QString id = QStringLiteral("r%1").arg(i);
        const qint64 mid = accountMutations.size() + 1;
        const int kind = (i / 10) % 4;
        accountMutations.append(kind == 0 || kind == 2 ? put(mid, "c", id, {{"a", i}}) : del(mid, "c", id));
    }
    s.pushAll(account.token, "laptop", accountMutations);
    QTest::qWait(5);
    const auto g = s.guest();
    for (int i = 0; i < 1000; ++i) {
        const QString id = QStringLiteral("r%1").arg(i);
        const bool guestTombstone = i % 10 == 0 ? (i / 10) % 4 >= 2 : i % 10 == 5;
        guestMutations.append(guestTombstone ? del(i + 1, "c", id) : put(i + 1, "c", id, {{"g", i}}));
    }
    s.pushAll(g.token, "phone", guestMutations);

    WatchingStore watching(*s.server->store);
    SyncLinkResult result;
    s.server->store->transaction([&] { result = s.sync->linkGuest(watching, g.userId, account.userId); });
    QCOMPARE(result.merged, 25);
    QCOMPARE(result.moved, 800 + 25);
    QCOMPARE(result.tombstones, 100);
    QCOMPARE(result.dropped, 25);

    // Only the 100 shared keys were read (each once per side), and only the 50 records the
    // merge rewrote were written one by one.
    for (const QString &key : std::as_const(watching.read))
        QVERIFY2(key.section('/', 1).mid(1).toInt() % 10 == 0, qPrintable(key + QStringLiteral(" was read")));
    QVERIFY2(watching.read.size() <= 2 * 100, qPrintable(QString::number(watching.read.size())));
    QCOMPARE(watching.writes, 25 + 25);
    // ... and everything arrived.
    QCOMPARE(s.live(account.token).size(), 25 + 25 + 25 + 800);
    QCOMPARE(s.allChanges(account.token).size(), 1000);
    QCOMPARE(s.rows("sync_record", g.userId), 0);
}

void SyncTest::failingOnLinkRollsBackMovedRecords()
{
    std::atomic<bool> fail{true};
    SyncServer s({}, [&](const AnonymousLink &link, QString *error) {
        // Runs after the built-in move, in the same transaction: the records are there.
        if (!link.store.syncRecord(link.newUser.user.id, QStringLiteral("cart"), QStringLiteral("apple")))
            qFatal("the built-in on_link did not run first");
        if (fail) {
            *error = QStringLiteral("app refused");
            return false;
        }
        return true;
    });
    const auto existing = s.signUp(QStringLiteral("gil@example.com"));
    s.pushOk(existing.token, "laptop", {put(1, "cart", "apple", {{"qty", 1}})});
    const auto g = s.guest();
    s.pushOk(g.token, "phone", {put(1, "cart", "apple", {{"qty", 4}}), put(2, "cart", "pear", {})});

    // Sign-up: no user is created, the guest keeps everything.
    Response r = s.signUpRaw(QStringLiteral("new@example.com"), g.token);
    QCOMPARE(r.status(), 500);
    QCOMPARE(code(r), QString::fromLatin1(AnonymousErrors::ACCOUNT_LINK_FAILED.code));
    QVERIFY(!s.server->store->userByEmail(QStringLiteral("new@example.com")));
    // Sign-in: the existing account's data is as it was.
    r = s.signInRaw(QStringLiteral("gil@example.com"), g.token);
    QCOMPARE(r.status(), 500);
    QCOMPARE(s.live(existing.token), (QMap<QString, QJsonObject>{{"cart/apple", {{"qty", 1}}}}));
    QCOMPARE(s.pullOk(existing.token).value("version").toInteger(), 1);
    QCOMPARE(s.live(g.token).size(), 2);
    QCOMPARE(s.pullOk(g.token).value("version").toInteger(), 2);
    QCOMPARE(s.rows("sync_client", g.userId), 1);
    QCOMPARE(s.rows("sync_client", existing.userId), 1);

    // Once the app accepts, the same guest links fine.
    fail = false;
    s.signIn(QStringLiteral("gil@example.com"), g.token);
    QCOMPARE(s.live(existing.token).value("cart/apple"), (QJsonObject{{"qty", 4}}));
    QCOMPARE(s.live(existing.token).size(), 2);
}

void SyncTest::throwingMergeHookRollsBack()
{
    SyncOptions options;
    options.mergeHook = [](const QString &, const QJsonObject &, const QJsonObject &) -> QJsonObject {
        throw std::runtime_error("merge exploded");
    };
    SyncServer s(options);
    const auto account = s.signUp(QStringLiteral("hal@example.com"));
    s.pushOk(account.token, "l", {put(1, "cart", "x", {{"a", 1}})});
    const auto g = s.guest();
    s.pushOk(g.token, "p", {put(1, "cart", "y", {}), put(2, "cart", "x", {{"b", 1}})});
    const Response r = s.signInRaw(QStringLiteral("hal@example.com"), g.token);
    QCOMPARE(r.status(), 500);
    QCOMPARE(code(r), QStringLiteral("ACCOUNT_LINK_FAILED"));
    QCOMPARE(s.live(account.token).size(), 1);   // neither "y" nor "x" arrived
    QCOMPARE(s.live(g.token).size(), 2);
    QVERIFY(s.server->store->userById(g.userId));
}

// A link's log lines (its summary, a merge above max_record_bytes, "linked anonymous
// user") are written once the sign-in has committed: none for a link that wrote its
// records and was then rolled back, one each for the link that committed. (They used to
// be written as the link ran, so the refused link below logged records never stored.)
void SyncTest::linkLogsOnlyWhatCommitted()
{
    std::atomic<bool> refuse{true};
    SyncOptions options;
    options.maxRecordBytes = 100;
    SyncServer s(options, [&](const AnonymousLink &, QString *error) {
        if (refuse) {   // after the built-in move, which wrote and logged the conflict
            *error = QStringLiteral("app refused");
            return false;
        }
        return true;
    });
    const auto account = s.signUp(QStringLiteral("lou@example.com"));
    s.pushOk(account.token, "laptop", {put(1, "notes", "n1", {{"a", QString(60, 'a')}})});
    const auto g = s.guest();
    s.pushOk(g.token, "phone", {put(1, "notes", "n1", {{"g", QString(60, 'g')}}), put(2, "notes", "n2", {})});
    const QJsonObject merged{{"a", QString(60, 'a')}, {"g", QString(60, 'g')}};
    const LinkLogLines lines(g.userId, account.userId, QJsonDocument(merged).toJson(QJsonDocument::Compact).size(), options);

    {
        LogCapture log({QStringLiteral("kernia.sync"), QStringLiteral("kernia.anonymous")});
        QCOMPARE(s.signInRaw(QStringLiteral("lou@example.com"), g.token).status(), 500);
        QCOMPARE(log.count(lines.conflict), 0);
        QCOMPARE(log.count(lines.summary), 0);
        QCOMPARE(log.count(lines.linked), 0);
        QCOMPARE(log.count(lines.failed + QStringLiteral("app refused"), LogCapture::WarningsOnly), 1);
    }
    QCOMPARE(s.live(account.token).size(), 1);   // nothing of the link was stored

    refuse = false;
    LogCapture log({QStringLiteral("kernia.sync"), QStringLiteral("kernia.anonymous")});
    QCOMPARE(s.signIn(QStringLiteral("lou@example.com"), g.token).userId, account.userId);
    QCOMPARE(log.count(lines.conflict), 1);
    QCOMPARE(log.count(lines.summary), 1);
    QCOMPARE(log.count(lines.linked), 1);
    QCOMPARE(log.count(lines.failed), 0);
    QCOMPARE(s.live(account.token).size(), 3);   // n1, n2 and the conflict record
}

void SyncTest::linkRunAgainOnPostgresLogsOnce_data()
{
    QTest::addColumn<bool>("failsInOnLink");
    QTest::newRow("serialization failure after on_link") << false;
    QTest::newRow("serialization failure in on_link") << true;
}

// PostgreSQL runs a sign-in again after a serialization failure; the link's lines are
// written for the attempt that committed only. Another connection (another server
// process) changes one of the guest's sessions while the first attempt runs; the failure
// comes when the link deletes the guest's sessions, or in on_link when it writes that
// session itself. (The lines used to be written once per attempt, and an on_link failed
// this way was logged as "on_link failed ...; rolled back" although the sign-in linked.)
void SyncTest::linkRunAgainOnPostgresLogsOnce()
{
    QFETCH(bool, failsInOnLink);
    if (!TestServer::usePostgres())
        QSKIP("PostgreSQL only: SQLite serialises writers and never runs a transaction again");
    SqlStore *otherProcess = nullptr;
    Session otherSession;   // a second session of the guest, which the link deletes with the guest
    std::atomic<int> links{0};
    SyncOptions options;
    options.maxRecordBytes = 100;
    SyncServer s(options, [&](const AnonymousLink &link, QString *) {
        if (++links == 1) {   // the first attempt only: after its snapshot, before it deletes the guest
            otherProcess->execTemplate(QStringLiteral("UPDATE \"session\" SET \"updatedAt\" = \"updatedAt\" + 1 "
                                                      "WHERE \"token\" = :token"),
                                       {{QStringLiteral("token"), otherSession.token}});
            if (failsInOnLink)
                link.store.updateSession(otherSession);   // throws: serialization failure
        }
        return true;
    });
    QString error;
    const std::unique_ptr<SqlStore> other = SqlStore::openPostgres(s.server->pgDatabase->url(), &error);
    QVERIFY2(other, qPrintable(error));
    otherProcess = other.get();

    const auto account = s.signUp(QStringLiteral("max@example.com"));
    s.pushOk(account.token, "laptop", {put(1, "notes", "n1", {{"a", QString(60, 'a')}})});
    const auto g = s.guest();
    s.pushOk(g.token, "phone", {put(1, "notes", "n1", {{"g", QString(60, 'g')}}), put(2, "notes", "n2", {})});
    otherSession.id = QStringLiteral("other-session");
    otherSession.token = QStringLiteral("other-session-token");
    otherSession.userId = g.userId;
    otherSession.createdAt = otherSession.updatedAt = QDateTime::currentDateTimeUtc();
    otherSession.expiresAt = otherSession.createdAt.addDays(1);
    s.server->store->createSession(otherSession);
    const QJsonObject merged{{"a", QString(60, 'a')}, {"g", QString(60, 'g')}};
    const LinkLogLines lines(g.userId, account.userId, QJsonDocument(merged).toJson(QJsonDocument::Compact).size(), options);

    LogCapture log({QStringLiteral("kernia.sync"), QStringLiteral("kernia.anonymous")});
    QCOMPARE(s.signIn(QStringLiteral("max@example.com"), g.token).userId, account.userId);
    QCOMPARE(links.load(), 2);   // the link ran twice: the first attempt was rolled back
    QCOMPARE(log.count(lines.conflict), 1);
    QCOMPARE(log.count(lines.summary), 1);
    QCOMPARE(log.count(lines.linked), 1);
    QCOMPARE(log.count(lines.failed, LogCapture::WarningsOnly), 0);
    QCOMPARE(s.live(account.token).size(), 3);
    QVERIFY(!s.server->store->userById(g.userId));
}

void SyncTest::deletedUserLosesSyncData()
{
    SyncServer s;
    const auto g = s.guest();
    s.pushOk(g.token, "c", {put(1, "c", "a", {})});
    QCOMPARE(s.rows("sync_record", g.userId), 1);
    QCOMPARE(s.call("POST", QStringLiteral("/api/auth/delete-anonymous-user"), {}, SyncServer::bearer(g.token)).status(), 200);
    QCOMPARE(s.rows("sync_record", g.userId), 0);
    QCOMPARE(s.rows("sync_client", g.userId), 0);
    QCOMPARE(s.rows("sync_user_version", g.userId), 0);
}

// A small quota: pushes up to it pass; one that would go beyond it is refused whole
// (400 SYNC_QUOTA_EXCEEDED, nothing applied, the client's mark unchanged); replacing a
// record counts the difference, a delete frees the record's size, tombstones count 0.
void SyncTest::quotaRefusesPushesThatGrowAboveIt()
{
    SyncOptions options;
    options.maxUserBytes = 100;
    SyncServer s(options);
    const auto g = s.guest();
    QCOMPARE(jsonBytes(sized(40)), qint64(40));

    s.pushOk(g.token, "dev", {put(1, "c", "a", sized(40)), put(2, "c", "b", sized(40))});
    QCOMPARE(s.usage(g.userId), 80);
    // UTF-8 bytes, not characters: "é" is 2 bytes; 8 + 2 * 6 = 20 bytes, exactly the quota.
    const QJsonObject accents = sized(14, QChar(0xe9));
    QCOMPARE(jsonBytes(accents), qint64(20));
    s.pushOk(g.token, "dev", {put(3, "c", "e", accents)});
    QCOMPARE(s.usage(g.userId), 100);

    // Two more bytes: refused, nothing of the push applied.
    const qint64 version = s.pullOk(g.token).value("version").toInteger();
    Response r = s.push(g.token, "dev", {del(4, "c", "a"), put(5, "c", "d", sized(40)), put(6, "c", "f", {})});
    QCOMPARE(r.status(), 400);
    const QJsonObject error = TestServer::json(r);
    QCOMPARE(error.value("code").toString(), QStringLiteral("SYNC_QUOTA_EXCEEDED"));
    const QString message = error.value("message").toString();
    QVERIFY2(message.contains(QLatin1String("102")) && message.contains(QLatin1String("100 are used"))
                 && message.contains(QLatin1String("at most 100")), qPrintable(message));
    QCOMPARE(s.pullOk(g.token).value("version").toInteger(), version);
    QCOMPARE(s.pushOk(g.token, "dev", {}).value("lastMid").toInteger(), 3);
    QVERIFY(s.live(g.token).contains("c/a"));
    QCOMPARE(s.usage(g.userId), 100);

    // A push whose sum shrinks the usage passes, though one of its mutations grows it.
    QCOMPARE(s.pushOk(g.token, "dev", {put(4, "c", "d", sized(10)), del(5, "c", "a")}).value("applied").toInt(), 2);
    QCOMPARE(s.usage(g.userId), 70);
    // Replacing a record counts the difference: 40 -> 70 is +30, up to the quota.
    s.pushOk(g.token, "dev", {put(6, "c", "b", sized(70))});
    QCOMPARE(s.usage(g.userId), 100);
    r = s.push(g.token, "dev", {put(7, "c", "b", sized(71))});
    QCOMPARE(code(r), QStringLiteral("SYNC_QUOTA_EXCEEDED"));
    // A patch counts the merged record; the same size passes at the quota.
    r = s.push(g.token, "dev", {patch(7, "c", "d", {{"n", 1}})});
    QCOMPARE(code(r), QStringLiteral("SYNC_QUOTA_EXCEEDED"));
    s.pushOk(g.token, "dev", {patch(7, "c", "d", {{"t", QString(2, 'y')}})});   // {"t":"yy"}: 10 -> 10
    QCOMPARE(s.usage(g.userId), 100);
    // A record written twice in one push counts once; a delete and a put again too.
    s.pushOk(g.token, "dev", {del(8, "c", "b"), put(9, "c", "b", sized(50)), put(10, "c", "b", sized(60)), del(11, "c", "b"),
                              put(12, "c", "b", sized(70))});
    QCOMPARE(s.usage(g.userId), 100);
    QCOMPARE(s.usage(g.userId), s.liveBytes(g.token));

    // Another user has a quota of its own.
    const auto other = s.guest();
    s.pushOk(other.token, "dev", {put(1, "c", "a", sized(100))});
    QCOMPARE(s.usage(other.userId), 100);

    // 0 = unlimited: the usage is still counted.
    SyncOptions unlimited;
    unlimited.maxUserBytes = 0;
    SyncServer u(unlimited);
    const auto h = u.guest();
    QJsonArray many;
    for (int i = 1; i <= 40; ++i)
        many.append(put(i, "c", QString::number(i), sized(1000)));
    u.pushOk(h.token, "dev", many);
    QCOMPARE(u.usage(h.userId), 40000);
    QCOMPARE(u.usage(h.userId), u.liveBytes(h.token));

    // The default quota is 100 MiB.
    QCOMPARE(SyncOptions().maxUserBytes, qint64(100 * 1024 * 1024));
}

// A user above the quota (the quota was lowered; a link) can always delete and shrink, and
// may keep its usage; it cannot grow.
// Devices of one user push at once against a quota: the pushes queue for the user's row,
// so exactly as many records as fit are stored, never more, and the rest are refused.
void SyncTest::quotaHoldsForConcurrentPushes()
{
    SyncOptions options;
    options.maxUserBytes = 50 * 10;   // 50 records of 10 bytes
    SyncServer s(options);
    const auto g = s.guest();
    constexpr int kThreads = 4;
    constexpr int kPushes = 20;
    std::atomic<int> applied{0}, refused{0}, other{0};
    QList<QThread *> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads << QThread::create([&, t] {
            for (int p = 1; p <= kPushes; ++p) {
                const Response r = s.push(g.token, QStringLiteral("device-%1").arg(t),
                                          {put(p, "race", QStringLiteral("d%1-p%2").arg(t).arg(p), sized(10))});
                if (r.status() == 200 && TestServer::json(r).value("applied").toInt() == 1)
                    ++applied;
                else if (r.status() == 400 && code(r) == QLatin1String("SYNC_QUOTA_EXCEEDED"))
                    ++refused;
                else
                    ++other;
            }
        });
    }
    for (QThread *thread : threads)
        thread->start();
    for (QThread *thread : threads) {
        QVERIFY(thread->wait(120000));
        delete thread;
    }
    QCOMPARE(other.load(), 0);
    QCOMPARE(applied.load(), 50);
    QCOMPARE(refused.load(), kThreads * kPushes - 50);
    QCOMPARE(s.usage(g.userId), 500);
    QCOMPARE(s.liveBytes(g.token), qint64(500));
    QCOMPARE(s.pullOk(g.token).value("version").toInteger(), 50);
}

void SyncTest::quotaLetsAUserAboveItShrink()
{
    SyncServer s;
    const auto g = s.guest();
    s.pushOk(g.token, "dev", {put(1, "c", "a", sized(100)), put(2, "c", "b", {{"x", QString(92, 'x')}, {"y", "yy"}})});
    QCOMPARE(s.usage(g.userId), 100 + 109);

    SyncOptions lowered;
    lowered.maxUserBytes = 150;
    const SyncService tight(lowered);
    int mid = 0;
    const auto pushTight = [&](const QJsonArray &mutations) {
        mid += 10;
        QJsonArray numbered;
        for (qsizetype i = 0; i < mutations.size(); ++i) {
            QJsonObject m = mutations.at(i).toObject();
            m.insert("mid", mid + i);
            numbered.append(m);
        }
        return tight.push(*s.server->store, g.userId, tight.parsePush(QJsonObject{{"clientId", "tool"}, {"mutations", numbered}}));
    };
    const auto refused = [&](const QJsonArray &mutations) {
        try {
            pushTight(mutations);
        } catch (const SyncError &error) {
            return error.code() == QLatin1String("SYNC_QUOTA_EXCEEDED");
        }
        return false;
    };
    QVERIFY(refused({put(0, "c", "new", {})}));
    QVERIFY(refused({patch(0, "c", "b", {{"z", 1}})}));
    QCOMPARE(s.usage(g.userId), 209);
    // The same size: passes.
    QCOMPARE(pushTight({put(0, "c", "a", sized(100, QLatin1Char('z')))}).applied, 1);
    QCOMPARE(s.usage(g.userId), 209);
    // A shrinking patch, still above: passes.
    QCOMPARE(pushTight({patch(0, "c", "b", {{"y", QJsonValue::Null}})}).applied, 1);
    QCOMPARE(s.usage(g.userId), 200);
    // A delete, still above: passes.
    QCOMPARE(pushTight({del(0, "c", "b")}).applied, 1);
    QCOMPARE(s.usage(g.userId), 100);
    // Below it again, growing up to it passes, beyond it not.
    QCOMPARE(pushTight({put(0, "c", "b", sized(50))}).applied, 1);
    QVERIFY(refused({put(0, "c", "d", {})}));
    QCOMPARE(s.usage(g.userId), 150);
    QCOMPARE(s.usage(g.userId), s.liveBytes(g.token));
}

// A link never fails because of the quota (no data is lost at sign-up): the account may end
// above it, with its usage the sum of its records; then it can only shrink.
void SyncTest::quotaNeverFailsALink()
{
    SyncOptions options;
    options.maxUserBytes = 200;
    SyncServer s(options);
    const auto account = s.signUp(QStringLiteral("quota@example.com"));
    s.pushOk(account.token, "laptop", {put(1, "c", "mine", sized(100)), put(2, "c", "shared", {{"a", QString(50, 'a')}})});
    QCOMPARE(s.usage(account.userId), 100 + 58);
    QTest::qWait(5);
    const auto g = s.guest();
    s.pushOk(g.token, "phone", {put(1, "c", "theirs", sized(120)), put(2, "c", "shared", {{"g", QString(30, 'g')}}),
                                put(3, "c", "gone", sized(50)), del(4, "c", "gone")});
    QCOMPARE(s.usage(g.userId), 120 + 38);

    const Response r = s.signInRaw(QStringLiteral("quota@example.com"), g.token);
    QVERIFY2(r.status() == 200, r.body().constData());
    const auto records = s.live(account.token);
    QCOMPARE(records.size(), 3);
    QCOMPARE(records.value("c/shared"), (QJsonObject{{"a", QString(50, 'a')}, {"g", QString(30, 'g')}}));
    const qint64 expected = 100 + 120 + jsonBytes(records.value("c/shared"));
    QCOMPARE(s.liveBytes(account.token), expected);
    QCOMPARE(s.usage(account.userId), int(expected));
    QVERIFY(expected > 200);
    QCOMPARE(s.rows("sync_user_version", g.userId), 0);

    // Above the quota: growing is refused, deleting passes and frees the space.
    QCOMPARE(code(s.push(account.token, "laptop", {put(3, "c", "more", {})})), QStringLiteral("SYNC_QUOTA_EXCEEDED"));
    s.pushOk(account.token, "laptop", {del(3, "c", "theirs")});
    QCOMPARE(s.usage(account.userId), int(expected - 120));
    s.pushOk(account.token, "laptop", {put(4, "c", "more", {})});
    QCOMPARE(s.usage(account.userId), s.liveBytes(account.token));
}

// The operator's on_link SQL runs after the merge and may rewrite the account's records
// (server.md): the usage is counted after it, so the quota sees what it did.
void SyncTest::quotaCountsWhatOnLinkSqlChanged()
{
    const OnLinkFunction operatorSql = [](const AnonymousLink &link, QString *) {
        link.store.execTemplate(QStringLiteral("UPDATE \"sync_record\" SET \"data\" = '{\"note\":\"%1\"}' "
                                               "WHERE \"userId\" = :new_user_id AND \"recordId\" = 'mine'")
                                    .arg(QString(300, 'n')),
                                {{QStringLiteral("new_user_id"), link.newUser.user.id}});
        return true;
    };
    SyncServer s({}, operatorSql);
    const auto account = s.signUp(QStringLiteral("operator@example.com"));
    s.pushOk(account.token, "laptop", {put(1, "c", "mine", sized(100))});
    const auto g = s.guest();
    s.pushOk(g.token, "phone", {put(1, "c", "theirs", sized(40))});

    s.signIn(QStringLiteral("operator@example.com"), g.token);
    const qint64 expected = 40 + jsonBytes({{"note", QString(300, 'n')}});
    QCOMPARE(s.liveBytes(account.token), expected);
    QCOMPARE(s.usage(account.userId), int(expected));

    // An account that never synced has no usage to count: the link still succeeds.
    const auto fresh = s.signUp(QStringLiteral("fresh@example.com"));
    const auto g2 = s.guest();
    s.signIn(QStringLiteral("fresh@example.com"), g2.token);
    QCOMPARE(s.usage(fresh.userId), -1);
}

// Migration 0009 adds the column and counts the records written before it: here the
// column is dropped and the migration forgotten, as in a database of an older release,
// and the real migration runs again on the store.
void SyncTest::quotaMigrationCountsExistingRecords()
{
    SyncServer s;
    const auto a = s.guest();
    const auto b = s.guest();
    const auto empty = s.guest();
    s.pushOk(a.token, "dev", {put(1, "c", "x", sized(100)), put(2, "c", "y", sized(14, QChar(0xe9))), put(3, "c", "z", sized(30)),
                              del(4, "c", "z")});
    s.pushOk(b.token, "dev", {put(1, "c", "x", sized(33))});
    s.pushOk(empty.token, "dev", {put(1, "c", "x", sized(33)), del(2, "c", "x")});
    QCOMPARE(s.usage(a.userId), 120);

    SqlStore &store = *s.server->store;
    store.execTemplate(QStringLiteral("DELETE FROM \"kernia_migrations\" WHERE \"id\" = '0009_sync_user_bytes'"), {});
    store.execTemplate(QStringLiteral("ALTER TABLE \"sync_user_version\" DROP COLUMN \"bytes\""), {});
    store.migrate();
    QVERIFY(store.appliedMigrations().contains(QStringLiteral("0009_sync_user_bytes")));
    QCOMPARE(s.usage(a.userId), 120);
    QCOMPARE(s.usage(b.userId), 33);
    QCOMPARE(s.usage(empty.userId), 0);
    QCOMPARE(s.usage(a.userId), s.liveBytes(a.token));
    // Pushes go on counting from there.
    s.pushOk(a.token, "dev", {del(5, "c", "x")});
    QCOMPARE(s.usage(a.userId), 20);
}

void SyncTest::mergeRecordsUnit()
{
    const QDateTime t0 = QDateTime::fromMSecsSinceEpoch(1000, Qt::UTC);
    const QDateTime t1 = t0.addMSecs(1);
    const QJsonObject account{{"a", 1}, {"both", "account"}};
    const QJsonObject guest{{"g", 2}, {"both", "guest"}};
    QCOMPARE(mergeRecords(MergePolicy::MergeFields, account, t0, guest, t1), (QJsonObject{{"a", 1}, {"g", 2}, {"both", "guest"}}));
    QCOMPARE(mergeRecords(MergePolicy::MergeFields, account, t1, guest, t0), (QJsonObject{{"a", 1}, {"g", 2}, {"both", "account"}}));
    QCOMPARE(mergeRecords(MergePolicy::MergeFields, account, t0, guest, t0), (QJsonObject{{"a", 1}, {"g", 2}, {"both", "guest"}}));
    QCOMPARE(mergeRecords(MergePolicy::KeepAccount, account, t0, guest, t1), account);
    QCOMPARE(mergeRecords(MergePolicy::KeepGuest, account, t1, guest, t0), guest);
    for (const char *name : {"merge-fields", "keep-account", "keep-guest"})
        QCOMPARE(mergePolicyName(*parseMergePolicy(QString::fromLatin1(name))), QString::fromLatin1(name));
    QVERIFY(!parseMergePolicy(QStringLiteral("Keep-Guest")));
    QVERIFY(!parseMergePolicy(QString()));
}

void SyncTest::serverConfig()
{
    const QProcessEnvironment env;
    const QStringList base{QStringLiteral("kernia-server"), QStringLiteral("--secret"), QString(40, 's')};
    ConfigResult loaded = loadServerConfig(base + QStringList{"--sync-merge-policy", "cart=keep-guest",
                                                              "--sync-merge-policy", "prefs=keep-account"}, env);
    QVERIFY2(loaded.config, qPrintable(loaded.error));
    SyncOptions options = syncOptionsFrom(loaded.config->sync);
    QCOMPARE(options.mergePolicies.value("cart"), MergePolicy::KeepGuest);
    QCOMPARE(options.mergePolicies.value("prefs"), MergePolicy::KeepAccount);
    QCOMPARE(options.maxMutationsPerPush, 500);
    QCOMPARE(options.maxRecordBytes, qint64(64 * 1024));
    QCOMPARE(options.maxPullBytes, qint64(4 * 1024 * 1024));
    QCOMPARE(options.maxUserBytes, qint64(100 * 1024 * 1024));
    QCOMPARE(SyncService(options).policyFor("other"), MergePolicy::MergeFields);

    loaded = loadServerConfig(base + QStringList{"--sync-max-user-bytes", "5000"}, env);
    QVERIFY2(loaded.config, qPrintable(loaded.error));
    QCOMPARE(syncOptionsFrom(loaded.config->sync).maxUserBytes, qint64(5000));
    loaded = loadServerConfig(base + QStringList{"--sync-max-user-bytes", "0"}, env);
    QVERIFY2(loaded.config, qPrintable(loaded.error));
    QCOMPARE(syncOptionsFrom(loaded.config->sync).maxUserBytes, qint64(0));
    for (const QString &bad : {QStringLiteral("-1"), QStringLiteral("lots"), QStringLiteral("1099511627777")})
        QVERIFY2(!loadServerConfig(base + QStringList{"--sync-max-user-bytes", bad}, env).config, qPrintable(bad));

    for (const QString &bad : {QStringLiteral("cart"), QStringLiteral("=keep-guest"), QStringLiteral("cart=newest"),
                               QStringLiteral("a/b=keep-guest")}) {
        loaded = loadServerConfig(base + QStringList{"--sync-merge-policy", bad}, env);
        QVERIFY2(!loaded.config, qPrintable(bad));
        QVERIFY(!loaded.error.isEmpty());
    }

    QTemporaryDir dir;
    const auto withFile = [&](const QByteArray &json) {
        QFile file(dir.filePath("config.json"));
        file.open(QIODevice::WriteOnly | QIODevice::Truncate);
        file.write(json);
        file.close();
        return loadServerConfig(base + QStringList{"--config", file.fileName()}, env);
    };
    loaded = withFile(R"({"sync":{"merge_policies":{"cart":"merge-fields","wish":"keep-guest"},"max_mutations_per_push":20,"max_record_bytes":1000,"max_pull_bytes":100000}})");
    QVERIFY2(loaded.config, qPrintable(loaded.error));
    options = syncOptionsFrom(loaded.config->sync);
    QCOMPARE(options.mergePolicies.size(), 2);
    QCOMPARE(options.mergePolicies.value("wish"), MergePolicy::KeepGuest);
    QCOMPARE(options.maxMutationsPerPush, 20);
    QCOMPARE(options.maxRecordBytes, qint64(1000));
    QCOMPARE(options.maxPullBytes, qint64(100000));
    QVERIFY(!withFile(R"({"sync":{"max_pull_bytes":100}})").config);
    loaded = withFile(R"({"sync":{"max_user_bytes":123456}})");
    QVERIFY2(loaded.config, qPrintable(loaded.error));
    QCOMPARE(syncOptionsFrom(loaded.config->sync).maxUserBytes, qint64(123456));
    QVERIFY(!withFile(R"({"sync":{"max_user_bytes":-1}})").config);
    QVERIFY(!withFile(R"({"sync":{"max_user_bytes":2000000000000}})").config);
    QVERIFY(!withFile(R"({"sync":{"merge_policy":{}}})").config);
    QVERIFY(!withFile(R"({"sync":{"merge_policies":{"cart":"best"}}})").config);
    QVERIFY(!withFile(R"({"sync":{"max_mutations_per_push":0}})").config);
}

QTEST_GUILESS_MAIN(SyncTest)
#include "tst_sync.moc"
