// Unit tests of SqlStore (sync-server/core/store), run twice: on real SQLite files
// (TestStore) and on PostgreSQL (TestStorePostgres: every store on a fresh database of the
// server named by KERNIA_TEST_POSTGRES_URL; skipped with a message when it is unset).
#include "../../sync-server/core/store/commit_queue.h"
#include "../../sync-server/core/store/sql_store.h"
#include "../../sync-server/core/store/migrations.h"
#include "../../sync-server/core/store/writer_lock.h"
#include "../../sync-server/core/store/sql_query.h"
#include "../../sync-server/core/store/sql_text.h"
#include "../../sync-server/core/store/sqlite_process.h"
#include "../../sync-server/core/store/sqlite_statement.h"
#include "pg_test_support.h"

#include <QAtomicInteger>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QMutex>
#include <QRegularExpression>
#include <QSemaphore>
#include <QSqlDatabase>
#include <QSqlDriver>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QThread>
#include <QtEndian>

#include <sqlite3.h>
#include <QtTest>

#include <algorithm>
#include <functional>
#include <limits>
#include <memory>
#include <stdexcept>
#include <unistd.h>
#include <vector>

using namespace Kernia::Server;
using Kernia::Server::Testing::PgTestDatabase;

namespace {

QDateTime ms(qint64 msecs) { return QDateTime::fromMSecsSinceEpoch(msecs, Qt::UTC); }

// The write-ahead log's header has a salt that goes up by one at every rewind (bytes
// 16..19); 0 when there is no log.
quint32 walRewindSalt(const QString &databasePath)
{
    QFile wal(databasePath + QStringLiteral("-wal"));
    const QByteArray header = wal.open(QIODevice::ReadOnly) ? wal.read(32) : QByteArray();
    return header.size() == 32 ? qFromBigEndian<quint32>(header.constData() + 16) : 0u;
}

User makeUser(const QString &id, const QString &email)
{
    User u;
    u.id = id;
    u.name = QStringLiteral("Name ") + id;
    u.email = email;
    u.createdAt = ms(1700000000123);
    u.updatedAt = ms(1700000000456);
    return u;
}

// A tombstone when `data` is null.
SyncRecord makeSyncRecord(const QString &collection, const QString &id, qint64 version, const QByteArray &data,
                          qint64 updatedAtMs)
{
    SyncRecord r;
    r.collection = collection;
    r.recordId = id;
    r.version = version;
    r.deleted = data.isNull();
    r.data = data;
    r.updatedAt = QDateTime::fromMSecsSinceEpoch(updatedAtMs, Qt::UTC);
    return r;
}

Session makeSession(const QString &id, const QString &token, const QString &userId, qint64 created)
{
    Session s;
    s.id = id;
    s.token = token;
    s.userId = userId;
    s.createdAt = ms(created);
    s.updatedAt = ms(created + 1);
    s.expiresAt = ms(created + 7LL * 24 * 3600 * 1000);
    s.ipAddress = QStringLiteral("127.0.0.1");
    s.userAgent = QStringLiteral("tst_store");
    return s;
}

Account makeAccount(const QString &id, const QString &userId, qint64 created)
{
    Account a;
    a.id = id;
    a.accountId = userId;
    a.providerId = QString::fromLatin1(kCredentialProvider);
    a.userId = userId;
    a.password = QStringLiteral("00ff:abcd");
    a.createdAt = ms(created);
    a.updatedAt = ms(created + 5);
    return a;
}

Verification makeVerification(const QString &id, const QString &identifier, qint64 created)
{
    Verification v;
    v.id = id;
    v.identifier = identifier;
    v.value = QStringLiteral("value-") + id;
    v.createdAt = ms(created);
    v.updatedAt = ms(created);
    v.expiresAt = ms(created + 300000);
    return v;
}

int kerniaConnectionCount()
{
    int n = 0;
    for (const QString &name : QSqlDatabase::connectionNames())
        n += name.startsWith(QLatin1String("kernia-sql-")) ? 1 : 0;
    return n;
}

// Runs `fn(i)` on `count` threads released at the same moment; returns after all joined.
template<typename Fn>
void runConcurrently(int count, Fn fn)
{
    QSemaphore ready, go;
    std::vector<std::unique_ptr<QThread>> threads;
    for (int i = 0; i < count; ++i) {
        threads.emplace_back(QThread::create([&, i] {
            ready.release();
            go.acquire();
            fn(i);
        }));
        threads.back()->start();
    }
    ready.acquire(count);
    go.release(count);
    for (auto &t : threads)
        QVERIFY(t->wait(30000));
}

struct TestFailure {};

} // namespace

class TestStore : public QObject
{
    Q_OBJECT

public:
    enum class Backend { Sqlite, Postgres };
    explicit TestStore(Backend backend = Backend::Sqlite) : m_backend(backend) {}

protected:
    const Backend m_backend;

private:
    // The write-ahead-log tests write until this many checkpoint rounds held the writers off
    // (one round per checkpointer every 200 ms), or until the deadline.
    static constexpr int kWalRounds = 10;
    static constexpr qint64 kWalDeadlineMs = 60 * 1000;

    // `count` passkey challenges that expired 1, 2, ... ms before `now`, in one transaction.
    static void addExpiredVerifications(SqlStore &store, int count, const QDateTime &now)
    {
        store.transaction([&] {
            for (int i = 0; i < count; ++i) {
                Verification v = makeVerification(QStringLiteral("old-%1").arg(i), QStringLiteral("passkey-%1").arg(i), 1000 + i);
                v.expiresAt = now.addMSecs(-1 - i);
                store.createVerification(v);
            }
        });
    }

    QTemporaryDir m_dir;
    int m_counter = 0;
    std::vector<std::unique_ptr<PgTestDatabase>> m_databases;   // PostgreSQL: one per store

    bool isPostgres() const { return m_backend == Backend::Postgres; }
    // The part of a driver message that differs between the backends.
    const char *text(const char *sqlite, const char *postgres) const { return isPostgres() ? postgres : sqlite; }
// QSKIP returns from the function it is written in, so these are macros.
#define REQUIRE_POSTGRES() \
    do { if (!isPostgres()) QSKIP("PostgreSQL only (runs in TestStorePostgres)"); } while (false)
#define REQUIRE_SQLITE(why) \
    do { if (isPostgres()) QSKIP("SQLite only: " why); } while (false)

    // A new, empty database: a file path (SQLite) or the URL of a fresh database (PostgreSQL).
    QString freshPath()
    {
        if (isPostgres()) {
            m_databases.push_back(std::make_unique<PgTestDatabase>());
            return m_databases.back()->url();
        }
        return m_dir.filePath(QStringLiteral("db%1/kernia.db").arg(++m_counter));
    }

    std::unique_ptr<SqlStore> openStore(const QString &location, QString *error,
                                        int busyMs = SqlStore::kDefaultBusyTimeoutMs)
    {
        return isPostgres() ? SqlStore::openPostgres(location, error)
                            : SqlStore::openSqlite(location, error, busyMs);
    }

    std::unique_ptr<SqlStore> openMigrated(QString *path = nullptr, int busyMs = SqlStore::kDefaultBusyTimeoutMs)
    {
        const QString p = freshPath();
        if (path)
            *path = p;
        QString error;
        auto store = openStore(p, &error, busyMs);
        if (!store)
            qWarning("open failed: %s", qPrintable(error));
        else
            store->migrate();
        return store;
    }

    // A plain connection next to the store's, for looking at the database directly.
    QVariant rawScalar(const QString &path, const QString &sql)
    {
        QVariant result;
        {
            QSqlDatabase db;
            if (isPostgres()) {
                QString error;
                if (!Kernia::Server::Testing::openPostgresConnection(QStringLiteral("raw"), path, &error))
                    qWarning("raw connection failed: %s", qPrintable(error));
                db = QSqlDatabase::database(QStringLiteral("raw"), false);
            } else {
                db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("raw"));
                db.setDatabaseName(path);
                db.open();
            }
            if (db.isOpen()) {
                QSqlQuery q(db);
                if (q.exec(sql) && q.next())
                    result = q.value(0);
                else
                    qWarning("raw query failed: %s", qPrintable(q.lastError().text()));
            }
            db.close();
        }
        QSqlDatabase::removeDatabase(QStringLiteral("raw"));
        return result;
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        if (isPostgres()) {
            if (!Kernia::Server::Testing::postgresTestUrl()) {
                QSKIP("KERNIA_TEST_POSTGRES_URL is not set: the PostgreSQL half of the store tests "
                      "is skipped (scripts/test.sh starts a throwaway server with "
                      "scripts/pg-test-server.sh and sets it; CI always does)");
            }
            QVERIFY(QSqlDatabase::isDriverAvailable(QStringLiteral("QPSQL")));
            QString error;
            QVERIFY2(Kernia::Server::Testing::postgresAdminExec(QStringLiteral("SELECT 1"), &error),
                     qPrintable(error));
        } else {
            QVERIFY(QSqlDatabase::isDriverAvailable(QStringLiteral("QSQLITE")));
        }
    }

    void cleanup()
    {
        m_databases.clear();   // drops this test's PostgreSQL databases
    }

    // The first store turns off SQLite's allocation statistics, whose process-wide mutex
    // every malloc and free took (sqlite_process.h). It must stay the first test that
    // touches SQLite: afterwards SQLite refuses the setting.
    void firstStoreTurnsOffSqliteAllocationStatistics()
    {
        REQUIRE_SQLITE("a SQLite setting");
        auto store = openMigrated();
        QVERIFY(store);
        store->createUser(makeUser(QStringLiteral("m1"), QStringLiteral("m1@example.com")));
        QVERIFY(store->userById(QStringLiteral("m1")));
        sqlite3_int64 used = -1, highest = -1;
        QCOMPARE(sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &used, &highest, 0), SQLITE_OK);
        QCOMPARE(used, sqlite3_int64(0));   // with statistics on: the bytes SQLite holds
        QCOMPARE(configureSqliteForThreads(), false);   // too late now: SQLite is initialised
    }

    void openCreatesDirectoryAndSetsPragmas()
    {
        REQUIRE_SQLITE("file paths and pragmas (see openPostgresUrls)");
        const QString path = m_dir.filePath(QStringLiteral("nested/deeper/kernia.db"));
        QString error;
        auto store = SqlStore::openSqlite(path, &error);
        QVERIFY2(store, qPrintable(error));
        QVERIFY(error.isEmpty());
        QVERIFY(QFileInfo::exists(path));
        QCOMPARE(rawScalar(path, QStringLiteral("PRAGMA journal_mode")).toString(), QStringLiteral("wal"));
        QCOMPARE(store->dialect().kind(), SqlDialect::Kind::Sqlite);
        QVERIFY(store->appliedMigrations().isEmpty());   // open does not migrate

        // foreign_keys=ON on the store's connection: a session for a missing user fails.
        store->migrate();
        try {
            store->createSession(makeSession(QStringLiteral("s1"), QStringLiteral("t1"), QStringLiteral("nobody"), 1000));
            QFAIL("foreign key not enforced");
        } catch (const StoreError &e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(QLatin1String("FOREIGN KEY")), e.what());
            QVERIFY(!e.isUniqueViolation());
        }
    }

    void openFailures()
    {
        REQUIRE_SQLITE("file paths (see openPostgresUrls)");
        QString error;
        // Parent "directory" is a regular file: unwritable location even for root.
        const QString blocker = m_dir.filePath(QStringLiteral("blocker"));
        {
            QFile f(blocker);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("x");
        }
        auto store = SqlStore::openSqlite(blocker + QStringLiteral("/sub/kernia.db"), &error);
        QVERIFY(!store);
        QVERIFY2(error.contains(QLatin1String("blocker")), qPrintable(error));
        QVERIFY2(error.contains(QLatin1String("directory")), qPrintable(error));

        error.clear();
        store = SqlStore::openSqlite(blocker + QStringLiteral("/kernia.db"), &error);
        QVERIFY(!store);
        QVERIFY2(error.contains(QLatin1String("not a directory")), qPrintable(error));

        // The path is a directory.
        error.clear();
        store = SqlStore::openSqlite(m_dir.path(), &error);
        QVERIFY(!store);
        QVERIFY2(error.contains(QLatin1String("directory")), qPrintable(error));

        // Not a database file.
        const QString junk = m_dir.filePath(QStringLiteral("junk.db"));
        {
            QFile f(junk);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(QByteArray(4096, 'J'));
        }
        error.clear();
        store = SqlStore::openSqlite(junk, &error);
        QVERIFY(!store);
        QVERIFY2(error.contains(QLatin1String("not a database")), qPrintable(error));
        QVERIFY2(error.contains(QLatin1String("junk.db")), qPrintable(error));

        // Empty / in-memory paths are rejected; a null errorMessage pointer is allowed.
        QVERIFY(!SqlStore::openSqlite(QString(), nullptr));
        error.clear();
        QVERIFY(!SqlStore::openSqlite(QStringLiteral(":memory:"), &error));
        QVERIFY(!error.isEmpty());

        // Read-only directory (only meaningful when not running as root).
        if (::geteuid() != 0) {
            const QString ro = m_dir.filePath(QStringLiteral("readonly"));
            QVERIFY(QDir().mkpath(ro));
            QVERIFY(QFile::setPermissions(ro, QFile::ReadOwner | QFile::ExeOwner));
            error.clear();
            store = SqlStore::openSqlite(ro + QStringLiteral("/x/kernia.db"), &error);
            QVERIFY(!store);
            QVERIFY(!error.isEmpty());
            error.clear();
            store = SqlStore::openSqlite(ro + QStringLiteral("/kernia.db"), &error);
            QVERIFY(!store);
            QVERIFY(!error.isEmpty());
            QFile::setPermissions(ro, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
        }
        QCOMPARE(kerniaConnectionCount(), 0);
    }

    void migrateIsIdempotent()
    {
        QString path;
        auto store = openMigrated(&path);
        QVERIFY(store);
        // Released migrations first, in order; later ones are appended after them.
        QStringList expected;
        for (const Migration &m : schemaMigrations(store->dialect()))
            expected << m.id;
        QCOMPARE(expected.mid(0, 5), (QStringList{QStringLiteral("0001_core"), QStringLiteral("0002_anonymous"),
                                                  QStringLiteral("0003_username"), QStringLiteral("0004_passkey"),
                                                  QStringLiteral("0005_sync")}));
        QCOMPARE(store->appliedMigrations(), expected);
        const qint64 firstAppliedAt = rawScalar(path, QStringLiteral(
            "SELECT applied_at FROM kernia_migrations WHERE id = '0001_core'")).toLongLong();
        QVERIFY(firstAppliedAt > 0);
        store->createUser(makeUser(QStringLiteral("u1"), QStringLiteral("a@example.com")));
        store->migrate();
        store->migrate();
        QCOMPARE(store->appliedMigrations(), expected);
        QCOMPARE(rawScalar(path, QStringLiteral("SELECT count(*) FROM kernia_migrations")).toInt(), expected.size());
        QCOMPARE(rawScalar(path, QStringLiteral(
            "SELECT applied_at FROM kernia_migrations WHERE id = '0001_core'")).toLongLong(), firstAppliedAt);
        QVERIFY(store->userById(QStringLiteral("u1")));

        // Reopening the file (a restart) and migrating again keeps the data.
        store.reset();
        QString error;
        store = openStore(path, &error);
        QVERIFY2(store, qPrintable(error));
        store->migrate();
        QCOMPARE(store->appliedMigrations(), expected);
        QVERIFY(store->userById(QStringLiteral("u1")));

        // Every migration is labelled with its plugin.
        const QList<Migration> all = schemaMigrations(store->dialect());
        QCOMPARE(all.size(), expected.size());
        QCOMPARE(all.at(0).plugin, QStringLiteral("core"));
        QCOMPARE(all.at(1).plugin, QStringLiteral("anonymous"));
        QCOMPARE(all.at(2).plugin, QStringLiteral("username"));
        QCOMPARE(all.at(3).plugin, QStringLiteral("passkey"));
        QCOMPARE(all.at(4).plugin, QStringLiteral("sync"));
    }

    // Users without a username (every guest) are left out of the username index; usernames
    // stay unique and a lookup by username still goes through the index.
    void usernameIndexLeavesOutUsersWithoutOne()
    {
        QString path;
        auto store = openMigrated(&path);
        QVERIFY(store);
        const QString definition = rawScalar(path, isPostgres()
                ? QStringLiteral("SELECT indexdef FROM pg_indexes WHERE indexname = 'user_username_key'")
                : QStringLiteral("SELECT sql FROM sqlite_master WHERE name = 'user_username_key'")).toString();
        QVERIFY2(definition.contains(QLatin1String("UNIQUE"), Qt::CaseInsensitive)
                     && definition.contains(QLatin1String("IS NOT NULL"), Qt::CaseInsensitive),
                 qPrintable(definition));
        if (!isPostgres()) {   // PostgreSQL's planner picks a scan for a table this small
            QCOMPARE(rawScalar(path, QStringLiteral("SELECT \"partial\" FROM pragma_index_list('user') "
                                                    "WHERE \"name\" = 'user_username_key'")).toInt(), 1);
            QString plan;
            {
                QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("plan"));
                db.setDatabaseName(path);
                QVERIFY(db.open());
                QSqlQuery q(db);
                QVERIFY(q.exec(QStringLiteral("EXPLAIN QUERY PLAN SELECT \"id\" FROM \"user\" WHERE \"username\" = 'x'")));
                while (q.next())
                    plan += q.value(3).toString();
                q.finish();
                db.close();
            }
            QSqlDatabase::removeDatabase(QStringLiteral("plan"));
            QVERIFY2(plan.contains(QLatin1String("user_username_key")), qPrintable(plan));
        }

        store->createUser(makeUser(QStringLiteral("guest1"), QStringLiteral("g1@example.com")));
        store->createUser(makeUser(QStringLiteral("guest2"), QStringLiteral("g2@example.com")));
        User named = makeUser(QStringLiteral("named"), QStringLiteral("n@example.com"));
        named.username = QStringLiteral("same");
        store->createUser(named);
        User twin = makeUser(QStringLiteral("twin"), QStringLiteral("t@example.com"));
        twin.username = QStringLiteral("same");
        try {
            store->createUser(twin);
            QFAIL("a second user took the same username");
        } catch (const StoreError &e) {
            QVERIFY2(e.isUniqueViolation(), e.what());
        }
        QCOMPARE(store->userByUsername(QStringLiteral("same"))->id, QStringLiteral("named"));
        QCOMPARE(rawScalar(path, QStringLiteral("SELECT count(*) FROM \"user\" WHERE \"username\" IS NULL")).toInt(), 2);
    }

    void migrateFromTwoStartersAtOnce()
    {
        for (int round = 0; round < 20; ++round) {
            const QString path = freshPath();
            QAtomicInteger<int> failures{0};
            QString lastError;
            QMutex errorMutex;
            runConcurrently(2, [&](int) {
                QString error;
                auto store = openStore(path, &error);   // one "process" each
                if (!store) {
                    QMutexLocker l(&errorMutex);
                    lastError = error;
                    ++failures;
                    return;
                }
                try {
                    store->migrate();
                } catch (const StoreError &e) {
                    QMutexLocker l(&errorMutex);
                    lastError = QString::fromUtf8(e.what());
                    ++failures;
                }
            });
            QVERIFY2(failures.loadRelaxed() == 0, qPrintable(lastError));
            QCOMPARE(rawScalar(path, QStringLiteral("SELECT count(*) FROM kernia_migrations")).toInt(),
                     int(schemaMigrations(SqlDialect::sqlite()).size()));
        }
        QCOMPARE(kerniaConnectionCount(), 0);
    }

    void userRoundTrip()
    {
        auto store = openMigrated();
        QVERIFY(store);

        User full = makeUser(QStringLiteral("u-full"), QStringLiteral("full@example.com"));
        full.emailVerified = true;
        full.image = QStringLiteral("https://example.com/a.png");
        full.isAnonymous = true;
        full.username = QStringLiteral("fuller");
        full.displayUsername = QStringLiteral("Fuller");
        // A local-time QDateTime with milliseconds comes back as the same instant in UTC.
        full.createdAt = QDateTime(QDate(2024, 2, 29), QTime(23, 59, 58, 987), Qt::OffsetFromUTC, 3600);
        full.updatedAt = QDateTime(QDate(2024, 3, 1), QTime(0, 0, 0, 1), Qt::UTC);
        store->createUser(full);

        User bare = makeUser(QStringLiteral("u-bare"), QStringLiteral("bare@example.com"));
        bare.name = QString();   // null name stored as "" (NOT NULL column)
        store->createUser(bare);

        const auto got = store->userById(QStringLiteral("u-full"));
        QVERIFY(got);
        QCOMPARE(got->id, full.id);
        QCOMPARE(got->name, full.name);
        QCOMPARE(got->email, full.email);
        QCOMPARE(got->emailVerified, true);
        QCOMPARE(got->image, full.image);
        QCOMPARE(got->createdAt, full.createdAt);
        QCOMPARE(got->createdAt.toMSecsSinceEpoch(), full.createdAt.toMSecsSinceEpoch());
        QCOMPARE(got->createdAt.timeSpec(), Qt::UTC);
        QCOMPARE(got->createdAt.time().msec(), 987);
        QCOMPARE(got->updatedAt, full.updatedAt);
        QCOMPARE(got->updatedAt.time().msec(), 1);
        QCOMPARE(got->isAnonymous, true);
        QCOMPARE(got->username, full.username);
        QCOMPARE(got->displayUsername, full.displayUsername);

        const auto gotBare = store->userByEmail(QStringLiteral("bare@example.com"));
        QVERIFY(gotBare);
        QCOMPARE(gotBare->id, QStringLiteral("u-bare"));
        QVERIFY(gotBare->name.isEmpty());
        QCOMPARE(gotBare->emailVerified, false);
        QCOMPARE(gotBare->isAnonymous, false);
        QVERIFY(!gotBare->image);
        QVERIFY(!gotBare->username);
        QVERIFY(!gotBare->displayUsername);
        QCOMPARE(gotBare->createdAt, ms(1700000000123));

        QCOMPARE(store->userByUsername(QStringLiteral("fuller"))->id, QStringLiteral("u-full"));
        QVERIFY(!store->userByUsername(QStringLiteral("Fuller")));   // stored normalised
        QVERIFY(!store->userById(QStringLiteral("missing")));
        QVERIFY(!store->userByEmail(QStringLiteral("missing@example.com")));
        QVERIFY(!store->userByUsername(QStringLiteral("missing")));

        // updateUser writes every column, including clearing optionals.
        User changed = *got;
        changed.name = QStringLiteral("Renamed");
        changed.email = QStringLiteral("renamed@example.com");
        changed.emailVerified = false;
        changed.image = std::nullopt;
        changed.isAnonymous = false;
        changed.username = std::nullopt;
        changed.displayUsername = QStringLiteral("");   // empty but present
        changed.updatedAt = ms(1800000000999);
        store->updateUser(changed);
        const auto after = store->userById(QStringLiteral("u-full"));
        QVERIFY(after);
        QCOMPARE(after->name, QStringLiteral("Renamed"));
        QCOMPARE(after->email, QStringLiteral("renamed@example.com"));
        QCOMPARE(after->emailVerified, false);
        QVERIFY(!after->image);
        QCOMPARE(after->isAnonymous, false);
        QVERIFY(!after->username);
        QVERIFY(after->displayUsername);
        QVERIFY(after->displayUsername->isEmpty());
        QCOMPARE(after->createdAt, full.createdAt);
        QCOMPARE(after->updatedAt, ms(1800000000999));
        QVERIFY(!store->userByEmail(QStringLiteral("full@example.com")));
        QVERIFY(!store->userByUsername(QStringLiteral("fuller")));
    }

    void uniqueViolations()
    {
        auto store = openMigrated();
        QVERIFY(store);
        User a = makeUser(QStringLiteral("a"), QStringLiteral("same@example.com"));
        a.username = QStringLiteral("taken");
        store->createUser(a);

        auto expectUnique = [](const std::function<void()> &fn, const char *column) {
            try {
                fn();
            } catch (const StoreError &e) {
                QVERIFY2(e.isUniqueViolation(), e.what());
                QVERIFY2(QString::fromUtf8(e.what()).contains(QLatin1String(column)), e.what());
                return;
            }
            QFAIL("no StoreError thrown");
        };

        expectUnique([&] { store->createUser(makeUser(QStringLiteral("b"), QStringLiteral("same@example.com"))); },
                     text("user.email", "user_email_key"));
        User c = makeUser(QStringLiteral("c"), QStringLiteral("c@example.com"));
        c.username = QStringLiteral("taken");
        expectUnique([&] { store->createUser(c); }, text("user.username", "user_username_key"));
        expectUnique([&] { store->createUser(makeUser(QStringLiteral("a"), QStringLiteral("other@example.com"))); },
                     text("user.id", "user_pkey"));

        // Several users without a username are fine (NULLs are distinct).
        store->createUser(makeUser(QStringLiteral("d"), QStringLiteral("d@example.com")));
        store->createUser(makeUser(QStringLiteral("e"), QStringLiteral("e@example.com")));

        // updateUser onto a taken email is a unique violation too.
        User d = *store->userById(QStringLiteral("d"));
        d.email = QStringLiteral("same@example.com");
        expectUnique([&] { store->updateUser(d); }, text("user.email", "user_email_key"));

        store->createSession(makeSession(QStringLiteral("s1"), QStringLiteral("tok"), QStringLiteral("a"), 1000));
        expectUnique([&] {
            store->createSession(makeSession(QStringLiteral("s2"), QStringLiteral("tok"), QStringLiteral("d"), 2000));
        }, text("session.token", "session_token_key"));

        // A NOT NULL failure is a StoreError but not a unique violation.
        try {
            Session s = makeSession(QStringLiteral("s3"), QStringLiteral("tok3"), QStringLiteral("a"), 1000);
            s.expiresAt = QDateTime();   // invalid -> NULL
            store->createSession(s);
            QFAIL("NOT NULL not enforced");
        } catch (const StoreError &e) {
            QVERIFY(!e.isUniqueViolation());
            QVERIFY2(QString::fromUtf8(e.what()).contains(QLatin1String(text("NOT NULL", "not-null"))), e.what());
        }
    }

    void accountRoundTrip()
    {
        auto store = openMigrated();
        QVERIFY(store);
        store->createUser(makeUser(QStringLiteral("u1"), QStringLiteral("u1@example.com")));
        store->createUser(makeUser(QStringLiteral("u2"), QStringLiteral("u2@example.com")));

        Account second = makeAccount(QStringLiteral("acc-b"), QStringLiteral("u1"), 2000);
        second.providerId = QStringLiteral("github");
        second.accountId = QStringLiteral("gh-123");
        second.password = std::nullopt;
        second.scope = QStringLiteral("read:user,user:email");
        store->createAccount(second);
        store->createAccount(makeAccount(QStringLiteral("acc-a"), QStringLiteral("u1"), 1000));
        store->createAccount(makeAccount(QStringLiteral("acc-c"), QStringLiteral("u2"), 1000));

        QList<Account> list = store->accountsByUser(QStringLiteral("u1"));
        QCOMPARE(list.size(), 2);
        QCOMPARE(list.at(0).id, QStringLiteral("acc-a"));   // by createdAt
        QCOMPARE(list.at(0).providerId, QStringLiteral("credential"));
        QCOMPARE(list.at(0).accountId, QStringLiteral("u1"));
        QCOMPARE(list.at(0).password, std::optional<QString>(QStringLiteral("00ff:abcd")));
        QVERIFY(!list.at(0).scope);
        QCOMPARE(list.at(0).createdAt, ms(1000));
        QCOMPARE(list.at(0).updatedAt, ms(1005));
        QCOMPARE(list.at(1).id, QStringLiteral("acc-b"));
        QVERIFY(!list.at(1).password);
        QCOMPARE(list.at(1).scope, second.scope);
        QCOMPARE(list.at(1).accountId, QStringLiteral("gh-123"));
        QVERIFY(store->accountsByUser(QStringLiteral("nobody")).isEmpty());

        Account changed = list.at(0);
        changed.password = QStringLiteral("1111:2222");
        changed.scope = QStringLiteral("x");
        changed.updatedAt = ms(99999);
        store->updateAccount(changed);
        list = store->accountsByUser(QStringLiteral("u1"));
        QCOMPARE(list.at(0).password, changed.password);
        QCOMPARE(list.at(0).scope, changed.scope);
        QCOMPARE(list.at(0).updatedAt, ms(99999));
        QCOMPARE(list.at(0).createdAt, ms(1000));
        QCOMPARE(store->accountsByUser(QStringLiteral("u2")).size(), 1);

        QCOMPARE(store->deleteAccountsByUser(QStringLiteral("u1")), 2);
        QVERIFY(store->accountsByUser(QStringLiteral("u1")).isEmpty());
        QCOMPARE(store->accountsByUser(QStringLiteral("u2")).size(), 1);
        QCOMPARE(store->deleteAccountsByUser(QStringLiteral("u1")), 0);
    }

    void sessionRoundTrip()
    {
        auto store = openMigrated();
        QVERIFY(store);
        store->createUser(makeUser(QStringLiteral("u1"), QStringLiteral("u1@example.com")));
        store->createUser(makeUser(QStringLiteral("u2"), QStringLiteral("u2@example.com")));

        store->createSession(makeSession(QStringLiteral("s3"), QStringLiteral("t3"), QStringLiteral("u1"), 3000));
        store->createSession(makeSession(QStringLiteral("s1"), QStringLiteral("t1"), QStringLiteral("u1"), 1000));
        store->createSession(makeSession(QStringLiteral("s2b"), QStringLiteral("t2b"), QStringLiteral("u1"), 2000));
        store->createSession(makeSession(QStringLiteral("s2a"), QStringLiteral("t2a"), QStringLiteral("u1"), 2000));
        Session other = makeSession(QStringLiteral("o1"), QStringLiteral("o1"), QStringLiteral("u2"), 1000);
        other.ipAddress = QString();   // stored as ""
        other.userAgent = QStringLiteral("");
        store->createSession(other);

        const auto s1 = store->sessionByToken(QStringLiteral("t1"));
        QVERIFY(s1);
        QCOMPARE(s1->id, QStringLiteral("s1"));
        QCOMPARE(s1->userId, QStringLiteral("u1"));
        QCOMPARE(s1->createdAt, ms(1000));
        QCOMPARE(s1->updatedAt, ms(1001));
        QCOMPARE(s1->expiresAt, ms(1000 + 7LL * 24 * 3600 * 1000));
        QCOMPARE(s1->ipAddress, QStringLiteral("127.0.0.1"));
        QCOMPARE(s1->userAgent, QStringLiteral("tst_store"));
        QVERIFY(!store->sessionByToken(QStringLiteral("nope")));
        QVERIFY(store->sessionByToken(QStringLiteral("o1"))->ipAddress.isEmpty());

        // Session and user in one read; inside a transaction too (PostgreSQL locks both rows).
        for (const bool inTransaction : {false, true}) {
            std::optional<std::pair<Session, User>> both;
            const auto read = [&] { both = store->sessionWithUserByToken(QStringLiteral("t1")); };
            if (inTransaction)
                store->transaction(read);
            else
                read();
            QVERIFY(both);
            QCOMPARE(both->first.id, QStringLiteral("s1"));
            QCOMPARE(both->first.expiresAt, ms(1000 + 7LL * 24 * 3600 * 1000));
            QCOMPARE(both->first.userAgent, QStringLiteral("tst_store"));
            QCOMPARE(both->second.id, QStringLiteral("u1"));
            QCOMPARE(both->second.email, QStringLiteral("u1@example.com"));
        }
        QCOMPARE(store->sessionWithUserByToken(QStringLiteral("o1"))->second.id, QStringLiteral("u2"));
        QVERIFY(!store->sessionWithUserByToken(QStringLiteral("nope")));

        // Creation order: createdAt, ties in insertion order.
        QStringList ids;
        for (const Session &s : store->sessionsByUser(QStringLiteral("u1")))
            ids << s.id;
        QCOMPARE(ids, (QStringList{QStringLiteral("s1"), QStringLiteral("s2b"), QStringLiteral("s2a"), QStringLiteral("s3")}));

        Session refreshed = *s1;
        refreshed.expiresAt = ms(5000000000123);
        refreshed.updatedAt = ms(4000000000007);
        refreshed.ipAddress = QStringLiteral("10.0.0.1");
        store->updateSession(refreshed);
        const auto s1b = store->sessionByToken(QStringLiteral("t1"));
        QCOMPARE(s1b->expiresAt, ms(5000000000123));
        QCOMPARE(s1b->updatedAt, ms(4000000000007));
        QCOMPARE(s1b->createdAt, ms(1000));
        QCOMPARE(s1b->ipAddress, QStringLiteral("10.0.0.1"));

        store->deleteSessionByToken(QStringLiteral("t3"));
        QVERIFY(!store->sessionByToken(QStringLiteral("t3")));
        QCOMPARE(store->sessionsByUser(QStringLiteral("u1")).size(), 3);

        store->deleteSessionsByUserExcept(QStringLiteral("u1"), QStringLiteral("t2a"));
        const QList<Session> left = store->sessionsByUser(QStringLiteral("u1"));
        QCOMPARE(left.size(), 1);
        QCOMPARE(left.at(0).token, QStringLiteral("t2a"));
        QCOMPARE(store->sessionsByUser(QStringLiteral("u2")).size(), 1);

        QCOMPARE(store->deleteSessionsByUser(QStringLiteral("u1")), 1);
        QVERIFY(store->sessionsByUser(QStringLiteral("u1")).isEmpty());
        QCOMPARE(store->deleteSessionsByUser(QStringLiteral("u1")), 0);
        QCOMPARE(store->sessionsByUser(QStringLiteral("u2")).size(), 1);
        store->deleteSessionByToken(QStringLiteral("does-not-exist"));   // no error
    }

    // The guest's one-statement write (PostgreSQL) and its transaction (SQLite, or inside
    // an open transaction): every column of both rows, and nothing of either when one fails.
    void userWithSessionIsWrittenWhole()
    {
        auto store = openMigrated();
        QVERIFY(store);
        User guest = makeUser(QStringLiteral("g1"), QStringLiteral("g1@anonymous.invalid"));
        guest.isAnonymous = true;
        store->createUserWithSession(guest, makeSession(QStringLiteral("s1"), QStringLiteral("t1"), guest.id, 1000));
        const auto both = store->sessionWithUserByToken(QStringLiteral("t1"));
        QVERIFY(both);
        QCOMPARE(both->first.id, QStringLiteral("s1"));
        QCOMPARE(both->first.userId, QStringLiteral("g1"));
        QCOMPARE(both->first.createdAt, ms(1000));
        QCOMPARE(both->first.updatedAt, ms(1001));
        QCOMPARE(both->first.expiresAt, ms(1000 + 7LL * 24 * 3600 * 1000));
        QCOMPARE(both->first.ipAddress, QStringLiteral("127.0.0.1"));
        QCOMPARE(both->first.userAgent, QStringLiteral("tst_store"));
        QCOMPARE(both->second.email, QStringLiteral("g1@anonymous.invalid"));
        QVERIFY(both->second.isAnonymous);
        QCOMPARE(both->second.createdAt, guest.createdAt);

        // Either row taken (email, token): neither is written.
        const auto refusedAsTaken = [&](const QString &userId, const QString &email, const QString &token) {
            try {
                store->createUserWithSession(makeUser(userId, email), makeSession(QStringLiteral("s-") + userId, token, userId, 2000));
            } catch (const StoreError &e) {
                return e.isUniqueViolation();
            }
            return false;
        };
        QVERIFY(refusedAsTaken(QStringLiteral("g2"), QStringLiteral("g1@anonymous.invalid"), QStringLiteral("t2")));
        QVERIFY(!store->userById(QStringLiteral("g2")));
        QVERIFY(!store->sessionByToken(QStringLiteral("t2")));
        QVERIFY(refusedAsTaken(QStringLiteral("g3"), QStringLiteral("g3@anonymous.invalid"), QStringLiteral("t1")));
        QVERIFY(!store->userById(QStringLiteral("g3")));

        // Inside a transaction it joins it, and goes when the transaction rolls back.
        try {
            store->transaction([&] {
                store->createUserWithSession(makeUser(QStringLiteral("g4"), QStringLiteral("g4@anonymous.invalid")),
                                             makeSession(QStringLiteral("s4"), QStringLiteral("t4"), QStringLiteral("g4"), 4000));
                QVERIFY(store->sessionByToken(QStringLiteral("t4")));
                throw std::runtime_error("roll back");
            });
        } catch (const std::runtime_error &) {
        }
        QVERIFY(!store->userById(QStringLiteral("g4")));
        QVERIFY(!store->sessionByToken(QStringLiteral("t4")));
        QCOMPARE(store->sessionsByUser(QStringLiteral("g1")).size(), 1);
    }

    void passkeyRoundTrip()
    {
        auto store = openMigrated();
        QVERIFY(store);
        store->createUser(makeUser(QStringLiteral("u1"), QStringLiteral("u1@example.com")));
        store->createUser(makeUser(QStringLiteral("u2"), QStringLiteral("u2@example.com")));

        auto makePasskey = [](const QString &id, const QString &userId, const QString &credentialId, qint64 created) {
            Passkey p;
            p.id = id;
            p.publicKey = QStringLiteral("pQECAyYgASFYINJZ+/=");
            p.userId = userId;
            p.credentialID = credentialId;
            p.counter = 0;
            p.deviceType = QStringLiteral("singleDevice");
            p.transports = QStringLiteral("internal,hybrid");
            p.createdAt = ms(created);
            p.aaguid = QStringLiteral("00000000-0000-0000-0000-000000000000");
            return p;
        };
        Passkey full = makePasskey(QStringLiteral("p2"), QStringLiteral("u1"), QStringLiteral("_ymQdtrLGpZGU4xn6cnvkQ"), 2000);
        full.name = QStringLiteral("soft key");
        full.counter = 4294967295LL;   // the largest WebAuthn signCount
        full.backedUp = true;
        full.deviceType = QStringLiteral("multiDevice");
        store->createPasskey(full);
        Passkey bare = makePasskey(QStringLiteral("p1"), QStringLiteral("u1"), QStringLiteral("cred-1"), 1000);
        bare.transports = QStringLiteral("");
        bare.aaguid.reset();
        store->createPasskey(bare);
        store->createPasskey(makePasskey(QStringLiteral("p3"), QStringLiteral("u2"), QStringLiteral("cred-3"), 500));

        const auto p2 = store->passkeyById(QStringLiteral("p2"));
        QVERIFY(p2);
        QCOMPARE(p2->name, std::optional<QString>(QStringLiteral("soft key")));
        QCOMPARE(p2->publicKey, full.publicKey);
        QCOMPARE(p2->userId, QStringLiteral("u1"));
        QCOMPARE(p2->credentialID, QStringLiteral("_ymQdtrLGpZGU4xn6cnvkQ"));
        QCOMPARE(p2->counter, 4294967295LL);
        QCOMPARE(p2->deviceType, QStringLiteral("multiDevice"));
        QVERIFY(p2->backedUp);
        QCOMPARE(p2->transports, std::optional<QString>(QStringLiteral("internal,hybrid")));
        QCOMPARE(p2->createdAt, ms(2000));
        QCOMPARE(p2->aaguid, full.aaguid);
        const auto p1 = store->passkeyByCredentialId(QStringLiteral("cred-1"));
        QVERIFY(p1);
        QCOMPARE(p1->id, QStringLiteral("p1"));
        QVERIFY(!p1->name);
        QVERIFY(!p1->backedUp);
        QCOMPARE(p1->transports, std::optional<QString>(QStringLiteral("")));
        QVERIFY(!p1->aaguid);
        QVERIFY(!store->passkeyById(QStringLiteral("nope")));
        QVERIFY(!store->passkeyByCredentialId(QStringLiteral("CRED-1")));   // exact match

        QStringList ids;
        for (const Passkey &p : store->passkeysByUser(QStringLiteral("u1")))
            ids << p.id;
        QCOMPARE(ids, (QStringList{QStringLiteral("p1"), QStringLiteral("p2")}));
        QCOMPARE(store->passkeysByUser(QStringLiteral("u2")).size(), 1);
        QVERIFY(store->passkeysByUser(QStringLiteral("nobody")).isEmpty());

        Passkey renamed = *p1;
        renamed.name = QStringLiteral("laptop");
        renamed.counter = 7;
        store->updatePasskey(renamed);
        const auto p1b = store->passkeyById(QStringLiteral("p1"));
        QCOMPARE(p1b->name, std::optional<QString>(QStringLiteral("laptop")));
        QCOMPARE(p1b->counter, 7);
        QCOMPARE(p1b->createdAt, ms(1000));

        store->deletePasskey(QStringLiteral("p1"));
        QVERIFY(!store->passkeyById(QStringLiteral("p1")));
        QCOMPARE(store->passkeysByUser(QStringLiteral("u1")).size(), 1);
        store->deletePasskey(QStringLiteral("does-not-exist"));   // no error

        // A passkey needs an existing user, and goes with it.
        bool refused = false;
        try {
            store->createPasskey(makePasskey(QStringLiteral("p9"), QStringLiteral("ghost"), QStringLiteral("c9"), 1));
        } catch (const StoreError &) {
            refused = true;
        }
        QVERIFY(refused);
        store->deleteUser(QStringLiteral("u1"));
        QVERIFY(!store->passkeyById(QStringLiteral("p2")));
        QCOMPARE(store->passkeysByUser(QStringLiteral("u2")).size(), 1);

        QCOMPARE(store->deletePasskeysByUser(QStringLiteral("u2")), 1);
        QVERIFY(store->passkeysByUser(QStringLiteral("u2")).isEmpty());
        QCOMPARE(store->deletePasskeysByUser(QStringLiteral("u2")), 0);
    }

    void verificationRoundTrip()
    {
        auto store = openMigrated();
        QVERIFY(store);
        const QString id = QStringLiteral("reset-password:abc");
        store->createVerification(makeVerification(QStringLiteral("v-old"), id, 1000));
        store->createVerification(makeVerification(QStringLiteral("v-new"), id, 2000));
        store->createVerification(makeVerification(QStringLiteral("v-x"), QStringLiteral("other"), 1500));

        const auto newest = store->verificationByIdentifier(id);
        QVERIFY(newest);
        QCOMPARE(newest->id, QStringLiteral("v-new"));
        QCOMPARE(newest->identifier, id);
        QCOMPARE(newest->value, QStringLiteral("value-v-new"));
        QCOMPARE(newest->createdAt, ms(2000));
        QCOMPARE(newest->updatedAt, ms(2000));
        QCOMPARE(newest->expiresAt, ms(302000));
        QVERIFY(!store->verificationByIdentifier(QStringLiteral("missing")));

        const auto c1 = store->consumeVerification(id);
        QVERIFY(c1);
        QCOMPARE(c1->id, QStringLiteral("v-new"));
        QCOMPARE(c1->value, QStringLiteral("value-v-new"));
        QCOMPARE(c1->expiresAt, ms(302000));
        const auto c2 = store->consumeVerification(id);
        QVERIFY(c2);
        QCOMPARE(c2->id, QStringLiteral("v-old"));
        QVERIFY(!store->consumeVerification(id));   // single use
        QVERIFY(!store->verificationByIdentifier(id));
        QVERIFY(store->verificationByIdentifier(QStringLiteral("other")));
        QVERIFY(!store->consumeVerification(QStringLiteral("missing")));

        // Inside a transaction that rolls back, the consumption is undone.
        try {
            store->transaction([&] {
                QVERIFY(store->consumeVerification(QStringLiteral("other")));
                throw TestFailure{};
            });
        } catch (const TestFailure &) {
        }
        QVERIFY(store->verificationByIdentifier(QStringLiteral("other")));
    }

    // A user's pending tokens of one kind go together (an email change ends the reset links
    // mailed to the old address): the prefix is matched literally, the value exactly.
    void verificationsDeletedByValue()
    {
        auto store = openMigrated();
        QVERIFY(store);
        auto row = [&](const QString &id, const QString &identifier, const QString &value) {
            Verification v = makeVerification(id, identifier, 1000);
            v.value = value;
            store->createVerification(v);
        };
        row(QStringLiteral("r1"), QStringLiteral("reset-password:aaa"), QStringLiteral("u1"));
        row(QStringLiteral("r2"), QStringLiteral("reset-password:bbb"), QStringLiteral("u1"));
        row(QStringLiteral("r3"), QStringLiteral("reset-password:ccc"), QStringLiteral("u2"));
        row(QStringLiteral("c1"), QStringLiteral("change-email:ddd"), QStringLiteral("u1"));
        row(QStringLiteral("x1"), QStringLiteral("reset-passwordXeee"), QStringLiteral("u1"));
        row(QStringLiteral("x2"), QStringLiteral("reset_password:fff"), QStringLiteral("u1"));

        QCOMPARE(store->deleteVerificationsByValue(QStringLiteral("reset-password:"), QStringLiteral("u1")), 2);
        QVERIFY(!store->verificationByIdentifier(QStringLiteral("reset-password:aaa")));
        QVERIFY(!store->verificationByIdentifier(QStringLiteral("reset-password:bbb")));
        for (const char *kept : {"reset-password:ccc", "change-email:ddd", "reset-passwordXeee", "reset_password:fff"})
            QVERIFY2(store->verificationByIdentifier(QString::fromLatin1(kept)), kept);
        QCOMPARE(store->deleteVerificationsByValue(QStringLiteral("reset-password:"), QStringLiteral("u1")), 0);
        QCOMPARE(store->deleteVerificationsByValue(QStringLiteral("change-email:"), QStringLiteral("u1")), 1);
        QCOMPARE(store->deleteVerificationsByValue(QStringLiteral("reset-password:"), QStringLiteral("u2")), 1);
    }

    // Rows nobody consumed are deleted once expired (Store::deleteExpiredVerifications, run
    // by the server's housekeeping); live ones stay. More than one batch, through the index.
    void expiredVerificationsAreDeleted()
    {
        QString path;
        auto store = openMigrated(&path);
        QVERIFY(store);
        const QDateTime now = ms(10000000);
        const int expired = SqlStore::kExpiredVerificationBatch * 2 + 17;
        addExpiredVerifications(*store, expired, now);
        Verification exact = makeVerification(QStringLiteral("at-now"), QStringLiteral("magic-link:a"), 2000);
        exact.expiresAt = now;   // not before now: kept (a lookup already treats it as dead)
        store->createVerification(exact);
        Verification live = makeVerification(QStringLiteral("live"), QStringLiteral("reset-password:b"), 3000);
        live.expiresAt = now.addSecs(3600);
        store->createVerification(live);

        constexpr int kAll = std::numeric_limits<int>::max();
        QCOMPARE(store->deleteExpiredVerifications(now, kAll), expired);
        QCOMPARE(rawScalar(path, QStringLiteral("SELECT count(*) FROM verification")).toInt(), 2);
        QVERIFY(store->verificationByIdentifier(QStringLiteral("magic-link:a")));
        QVERIFY(store->verificationByIdentifier(QStringLiteral("reset-password:b")));
        QCOMPARE(store->deleteExpiredVerifications(now, kAll), 0);
        QCOMPARE(store->deleteExpiredVerifications(now.addSecs(3601), kAll), 2);
        QCOMPARE(rawScalar(path, QStringLiteral("SELECT count(*) FROM verification")).toInt(), 0);

        // The sweep reads expired rows through an index on "expiresAt".
        const QString indexQuery = isPostgres()
            ? QStringLiteral("SELECT count(*) FROM pg_indexes WHERE tablename = 'verification' AND indexdef LIKE '%(\"expiresAt\")%'")
            : QStringLiteral("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'verification' "
                             "AND sql LIKE '%(\"expiresAt\")%'");
        QCOMPARE(rawScalar(path, indexQuery).toInt(), 1);
    }

    // One call deletes at most maxRows (whole batches, then part of one) and leaves the rest
    // for the next call: the housekeeping bounds how long one pass holds its thread.
    void expiredVerificationsGoAtMostMaxRowsACall()
    {
        QString path;
        auto store = openMigrated(&path);
        QVERIFY(store);
        const auto rows = [&] { return rawScalar(path, QStringLiteral("SELECT count(*) FROM verification")).toInt(); };
        const QDateTime now = ms(10000000);
        const int expired = SqlStore::kExpiredVerificationBatch * 2 + 17;
        addExpiredVerifications(*store, expired, now);
        Verification live = makeVerification(QStringLiteral("live"), QStringLiteral("reset-password:b"), 3000);
        live.expiresAt = now.addSecs(3600);
        store->createVerification(live);

        const int bound = SqlStore::kExpiredVerificationBatch * 3 / 2;   // a batch and a half
        QCOMPARE(store->deleteExpiredVerifications(now, bound), bound);   // as many as allowed: maybe more left
        QCOMPARE(rows(), expired - bound + 1);
        QCOMPARE(store->deleteExpiredVerifications(now, bound), expired - bound);   // the rest: fewer
        QCOMPARE(rows(), 1);
        QCOMPARE(store->deleteExpiredVerifications(now, bound), 0);
        QVERIFY(store->verificationByIdentifier(QStringLiteral("reset-password:b")));

        const QDateTime later = now.addSecs(3601);
        QCOMPARE(store->deleteExpiredVerifications(later, 0), 0);   // no rows allowed: none go
        QCOMPARE(rows(), 1);
        QCOMPARE(store->deleteExpiredVerifications(later, 1), 1);
        QCOMPARE(rows(), 0);
    }

    void consumeVerificationFromEightThreads()
    {
        auto store = openMigrated();
        QVERIFY(store);
        for (int round = 0; round < 25; ++round) {
            const QString identifier = QStringLiteral("magic-link:%1").arg(round);
            store->createVerification(makeVerification(QStringLiteral("v%1").arg(round), identifier, 1000 + round));
            QAtomicInteger<int> winners{0}, errors{0};
            runConcurrently(8, [&](int) {
                try {
                    if (store->consumeVerification(identifier))
                        ++winners;
                } catch (const StoreError &e) {
                    qWarning("consume failed: %s", e.what());
                    ++errors;
                }
            });
            QCOMPARE(errors.loadRelaxed(), 0);
            QCOMPARE(winners.loadRelaxed(), 1);
            QVERIFY(!store->verificationByIdentifier(identifier));
        }
    }

    void transactionCommitAndRollback()
    {
        auto store = openMigrated();
        QVERIFY(store);
        store->transaction([&] {
            store->createUser(makeUser(QStringLiteral("c1"), QStringLiteral("c1@example.com")));
            store->createSession(makeSession(QStringLiteral("s1"), QStringLiteral("t1"), QStringLiteral("c1"), 1));
            QVERIFY(store->userById(QStringLiteral("c1")));   // own writes visible inside
        });
        QVERIFY(store->userById(QStringLiteral("c1")));
        QVERIFY(store->sessionByToken(QStringLiteral("t1")));

        bool caught = false;
        try {
            store->transaction([&] {
                store->createUser(makeUser(QStringLiteral("r1"), QStringLiteral("r1@example.com")));
                store->createSession(makeSession(QStringLiteral("s2"), QStringLiteral("t2"), QStringLiteral("r1"), 1));
                throw std::runtime_error("boom");
            });
        } catch (const std::runtime_error &e) {
            caught = QString::fromUtf8(e.what()) == QLatin1String("boom");
        }
        QVERIFY(caught);
        QVERIFY(!store->userById(QStringLiteral("r1")));
        QVERIFY(!store->sessionByToken(QStringLiteral("t2")));

        // A StoreError from inside (unique violation) rolls back the earlier writes.
        caught = false;
        try {
            store->transaction([&] {
                store->createUser(makeUser(QStringLiteral("r2"), QStringLiteral("r2@example.com")));
                store->createUser(makeUser(QStringLiteral("r3"), QStringLiteral("c1@example.com")));
            });
        } catch (const StoreError &e) {
            caught = e.isUniqueViolation();
        }
        QVERIFY(caught);
        QVERIFY(!store->userById(QStringLiteral("r2")));

        // The connection is usable again afterwards (no transaction left open).
        store->transaction([&] {
            store->createUser(makeUser(QStringLiteral("c2"), QStringLiteral("c2@example.com")));
        });
        QVERIFY(store->userById(QStringLiteral("c2")));
    }

    void nestedTransactionsJoin()
    {
        QString path;
        auto store = openMigrated(&path);
        QVERIFY(store);

        // Inner writes commit with the outer transaction, not before.
        store->transaction([&] {
            store->createUser(makeUser(QStringLiteral("o1"), QStringLiteral("o1@example.com")));
            store->transaction([&] {
                store->createUser(makeUser(QStringLiteral("i1"), QStringLiteral("i1@example.com")));
                store->transaction([&] {
                    store->createUser(makeUser(QStringLiteral("i2"), QStringLiteral("i2@example.com")));
                });
            });
            // Another connection does not see them yet.
            QCOMPARE(rawScalar(path, QStringLiteral("SELECT count(*) FROM \"user\"")).toInt(), 0);
            QVERIFY(store->userById(QStringLiteral("i2")));
        });
        QCOMPARE(rawScalar(path, QStringLiteral("SELECT count(*) FROM \"user\"")).toInt(), 3);

        // Outer failure after a successful inner call undoes both.
        try {
            store->transaction([&] {
                store->createUser(makeUser(QStringLiteral("o2"), QStringLiteral("o2@example.com")));
                store->transaction([&] {
                    store->createUser(makeUser(QStringLiteral("i3"), QStringLiteral("i3@example.com")));
                });
                throw TestFailure{};
            });
            QFAIL("exception not rethrown");
        } catch (const TestFailure &) {
        }
        QVERIFY(!store->userById(QStringLiteral("o2")));
        QVERIFY(!store->userById(QStringLiteral("i3")));

        // Inner failure escaping to the top rolls back everything.
        try {
            store->transaction([&] {
                store->createUser(makeUser(QStringLiteral("o3"), QStringLiteral("o3@example.com")));
                store->transaction([&] {
                    store->createUser(makeUser(QStringLiteral("i4"), QStringLiteral("i4@example.com")));
                    throw TestFailure{};
                });
            });
            QFAIL("exception not rethrown");
        } catch (const TestFailure &) {
        }
        QVERIFY(!store->userById(QStringLiteral("o3")));
        QVERIFY(!store->userById(QStringLiteral("i4")));

        // Inner failure caught by the outer work: only the inner part is undone.
        store->transaction([&] {
            store->createUser(makeUser(QStringLiteral("o4"), QStringLiteral("o4@example.com")));
            try {
                store->transaction([&] {
                    store->createUser(makeUser(QStringLiteral("i5"), QStringLiteral("i5@example.com")));
                    store->createUser(makeUser(QStringLiteral("i6"), QStringLiteral("o4@example.com")));
                });
                QFAIL("no unique violation");
            } catch (const StoreError &e) {
                QVERIFY(e.isUniqueViolation());
            }
        });
        QVERIFY(store->userById(QStringLiteral("o4")));
        QVERIFY(!store->userById(QStringLiteral("i5")));
        QCOMPARE(rawScalar(path, QStringLiteral("SELECT count(*) FROM \"user\"")).toInt(), 4);
    }

    void concurrentReadThenInsertSerialises()
    {
        auto store = openMigrated();
        QVERIFY(store);
        for (int round = 0; round < 10; ++round) {
            const QString email = QStringLiteral("race%1@example.com").arg(round);
            // Outcome of each thread's committed attempt (PostgreSQL may run `work` again
            // after a serialization failure; the last run is the one that counts).
            enum Outcome { None, Created, SawExisting, Failed };
            Outcome outcome[2] = {None, None};
            runConcurrently(2, [&](int i) {
                try {
                    store->transaction([&] {
                        outcome[i] = None;
                        if (store->userByEmail(email)) {
                            outcome[i] = SawExisting;
                            return;
                        }
                        QThread::msleep(30);   // widen the race window
                        store->createUser(makeUser(QStringLiteral("r%1-%2").arg(round).arg(i), email));
                        outcome[i] = Created;
                    });
                } catch (const StoreError &e) {
                    qWarning("transaction failed: %s", e.what());
                    outcome[i] = Failed;
                }
            });
            const auto count = [&](Outcome o) { return int(outcome[0] == o) + int(outcome[1] == o); };
            QCOMPARE(count(Failed), 0);   // not even a unique violation: serialised
            QCOMPARE(count(Created), 1);
            QCOMPARE(count(SawExisting), 1);
            QVERIFY(store->userByEmail(email));
        }
    }

    // Writers of one process queue on the store's own lock, not in SQLite's busy handler: with
    // a 1 ms busy timeout, eight threads writing at once would otherwise hit "locked".
    void sqliteWritersOfOneProcessTakeTurns()
    {
        REQUIRE_SQLITE("SQLite's write lock");
        auto store = openMigrated(nullptr, 1);
        QVERIFY(store);
        QAtomicInteger<int> failures{0};
        runConcurrently(8, [&](int i) {
            for (int n = 0; n < 40; ++n) {
                try {
                    store->transaction([&] {
                        const QString id = QStringLiteral("w%1-%2").arg(i).arg(n);
                        store->createUser(makeUser(id, id + QStringLiteral("@example.com")));
                        store->createSession(makeSession(id, id, id, 1000));
                    });
                } catch (const StoreError &e) {
                    qWarning("writer %d: %s", i, e.what());
                    ++failures;
                }
            }
        });
        QCOMPARE(failures.loadRelaxed(), 0);
        QVERIFY(store->sessionWithUserByToken(QStringLiteral("w7-39")));
    }

    // Request connections never checkpoint (a commit stays fast); the store's own thread
    // moves the log into the database file within moments of the writes.
    void walIsCheckpointedInTheBackground()
    {
        REQUIRE_SQLITE("SQLite's write-ahead log");
        QString path;
        auto store = openMigrated(&path);
        QVERIFY(store);
        QSqlDatabase db = QSqlDatabase::database(
            QSqlDatabase::connectionNames().filter(QStringLiteral("kernia-sql-")).value(0), false);
        SqlDetail::Query setting(SqlDetail::Connection{db}, store->dialect(), QStringLiteral("test"));
        setting.exec(QStringLiteral("PRAGMA wal_autocheckpoint"));
        QVERIFY(setting.next());
        QCOMPARE(setting.value(0).toInt(), 0);
        setting.finish();

        const qint64 before = QFileInfo(path).size();
        for (int i = 0; i < 400; ++i) {
            store->transaction([&] {
                const QString id = QStringLiteral("c%1").arg(i);
                store->createUser(makeUser(id, id + QStringLiteral("@example.com")));
            });
        }
        // 400 users are far more than the empty schema's pages.
        QTRY_VERIFY_WITH_TIMEOUT(QFileInfo(path).size() >= before + 40 * 1024, 5000);
    }

    // Under writes that never pause, a checkpoint alone is always behind and SQLite never
    // rewinds the log: it grew by gigabytes in a minute of sign-ins. The checkpointer
    // finishes each round inside the writers' turn, so the log is rewound round after
    // round while the writes go on.
    void walIsRewoundUnderSteadyWrites()
    {
        REQUIRE_SQLITE("SQLite's write-ahead log");
        QString path;
        auto store = openMigrated(&path);
        QVERIFY(store);
        store->createUser(makeUser(QStringLiteral("first"), QStringLiteral("first@example.com")));
        const quint32 saltBefore = walRewindSalt(path);
        QVERIFY(saltBefore != 0);

        const QString padding(1500, QLatin1Char('x'));
        QAtomicInteger<int> commits{0};
        const int roundsBefore = store->walLockedCheckpoints();
        const auto rounds = [&] { return store->walLockedCheckpoints() - roundsBefore; };
        QElapsedTimer clock;
        clock.start();
        runConcurrently(4, [&](int i) {
            // Until enough checkpoint rounds ran (one per 200 ms: ~2 s), however long a
            // loaded machine takes for them; the deadline only ends a checkpointer that stalls.
            for (int n = 0; rounds() < kWalRounds && clock.elapsed() < kWalDeadlineMs; ++n) {
                const QString id = QStringLiteral("s%1-%2").arg(i).arg(n);
                User user = makeUser(id, id + QStringLiteral("@example.com"));
                user.name = padding;
                store->transaction([&] { store->createUser(user); });
                ++commits;
            }
        });
        const quint32 rewinds = walRewindSalt(path) - saltBefore;
        const int ran = rounds();
        const qint64 size = QFileInfo(path + QStringLiteral("-wal")).size();
        qInfo("%d commits in %lld ms; %d checkpoint rounds; the log was rewound %u times and is %lld bytes",
              commits.loadRelaxed(), clock.elapsed(), ran, rewinds, size);
        QVERIFY2(ran >= kWalRounds, qPrintable(QStringLiteral("only %1 checkpoint rounds in %2 s")
                                                   .arg(ran).arg(kWalDeadlineMs / 1000)));
        QVERIFY2(rewinds * 3 >= quint32(ran) * 2,
                 qPrintable(QStringLiteral("the write-ahead log was rewound %1 times in %2 rounds while the "
                                           "writes went on").arg(rewinds).arg(ran)));
    }

    // Two processes on one file (here: two stores, each with its own writer lock on its own
    // descriptor, so they meet only through flock() and SQLite): each checkpointer's last
    // pass holds the other's writers too, so the log is rewound while both write.
    void walIsRewoundWithTwoWritingProcesses()
    {
        REQUIRE_SQLITE("SQLite's write-ahead log");
        QString path;
        auto first = openMigrated(&path);
        QVERIFY(first);
        QString error;
        auto second = SqlStore::openSqlite(path, &error);
        QVERIFY2(second, qPrintable(error));
        first->createUser(makeUser(QStringLiteral("first"), QStringLiteral("first@example.com")));
        const quint32 saltBefore = walRewindSalt(path);
        QVERIFY(saltBefore != 0);
        const int roundsBefore = first->walLockedCheckpoints() + second->walLockedCheckpoints();
        const auto rounds = [&] {
            return first->walLockedCheckpoints() + second->walLockedCheckpoints() - roundsBefore;
        };

        const QString padding(1500, QLatin1Char('x'));
        QElapsedTimer clock;
        clock.start();
        runConcurrently(4, [&](int i) {
            SqlStore *store = (i % 2 ? first : second).get();
            for (int n = 0; rounds() < kWalRounds && clock.elapsed() < kWalDeadlineMs; ++n) {
                const QString id = QStringLiteral("t%1-%2").arg(i).arg(n);
                User user = makeUser(id, id + QStringLiteral("@example.com"));
                user.name = padding;
                store->transaction([&] { store->createUser(user); });
            }
        });
        const quint32 rewinds = walRewindSalt(path) - saltBefore;
        const int ran = rounds();
        const qint64 walBytes = QFileInfo(path + QStringLiteral("-wal")).size();
        qInfo("%d checkpoint rounds in %lld ms held the writers off; the log was rewound %u times, is %lld bytes",
              ran, clock.elapsed(), rewinds, walBytes);
        // Two checkpointers, one round each every 200 ms. Each round copies the whole log, so
        // the next commit rewinds it: nearly one rewind per round. Without the shared writer
        // lock a round rarely finishes the copy (5 rewinds in ~30 rounds here).
        QVERIFY2(ran >= kWalRounds, qPrintable(QStringLiteral("only %1 checkpoint rounds in %2 s")
                                                   .arg(ran).arg(kWalDeadlineMs / 1000)));
        QVERIFY2(rewinds * 3 >= quint32(ran) * 2,
                 qPrintable(QStringLiteral("the write-ahead log was rewound %1 times in %2 rounds while two "
                                           "processes wrote").arg(rewinds).arg(ran)));
        // No bound on walBytes itself: the file keeps the size of the longest stretch
        // between two rewinds, which a loaded machine stretches (163 MB once with 8 rounds).
    }

    // A writer of another process waits for its turn instead of failing at the busy
    // timeout: the first store holds a transaction open for 4 busy timeouts.
    void writersOfTwoProcessesWaitForEachOther()
    {
        REQUIRE_SQLITE("SQLite's write lock");
        QString path;
        auto first = openMigrated(&path, 100);
        QVERIFY(first);
        QVERIFY(QFile::exists(WriterLock::lockFilePath(path)));
        QString error;
        auto second = SqlStore::openSqlite(path, &error, 100);
        QVERIFY2(second, qPrintable(error));
        QSemaphore firstInside;
        std::atomic<bool> firstDone{false};
        QString secondFailure;
        bool secondAfterFirst = false;
        runConcurrently(2, [&](int i) {
            if (i == 0) {
                first->transaction([&] {
                    first->createUser(makeUser(QStringLiteral("a"), QStringLiteral("a@example.com")));
                    firstInside.release();
                    QThread::msleep(400);
                    firstDone = true;
                });
                return;
            }
            firstInside.acquire();
            try {
                second->transaction([&] {
                    secondAfterFirst = firstDone.load();
                    second->createUser(makeUser(QStringLiteral("b"), QStringLiteral("b@example.com")));
                });
            } catch (const StoreError &e) {
                secondFailure = QString::fromUtf8(e.what());
            }
        });
        QVERIFY2(secondFailure.isEmpty(), qPrintable(secondFailure));
        QVERIFY(secondAfterFirst);
        QVERIFY(first->userById(QStringLiteral("b")));
    }

    // A lock file that cannot be opened (here a directory stands in its way) costs the
    // cross-process turn-taking, not the database: the store opens, says why, and writes.
    void unopenableWriterLockFileOnlyWarns()
    {
        REQUIRE_SQLITE("the SQLite writer lock file");
        const QString path = freshPath();
        QVERIFY(QDir().mkpath(WriterLock::lockFilePath(path)));
        QTest::ignoreMessage(QtWarningMsg,
                             QRegularExpression(QStringLiteral("cannot open .*-writer\\.lock .*busy timeout only")));
        QString error;
        auto store = openStore(path, &error);
        QVERIFY2(store, qPrintable(error));
        store->migrate();
        store->transaction([&] { store->createUser(makeUser(QStringLiteral("w"), QStringLiteral("w@example.com"))); });
        QVERIFY(store->userById(QStringLiteral("w")));
    }

    // The queue's mechanics without a database: while one batch runs, the transactions that
    // arrive queue up and the next leader takes them all, in order, as one batch.
    void commitQueueBatchesWhatArrivesMeanwhile()
    {
        CommitQueue queue;
        QMutex recordLock;
        QList<QList<int>> batches;   // the job ids of each batch, in run order
        QSemaphore firstBatchRunning;
        std::vector<int> ids(8);
        std::vector<std::function<void()>> works;
        for (int i = 0; i < 8; ++i) {
            ids[i] = i;
            works.emplace_back([] {});
        }
        const auto runner = [&](const QList<CommitQueue::Job *> &batch) {
            QList<int> ran;
            for (CommitQueue::Job *job : batch) {
                const int id = int(job->work - works.data());
                ran.append(id);
                if (id == 5)
                    job->error = std::make_exception_ptr(TestFailure{});
            }
            {
                QMutexLocker locker(&recordLock);
                batches.append(ran);
            }
            if (ran == QList<int>{0}) {
                firstBatchRunning.release();
                QThread::msleep(300);   // the others arrive meanwhile
            }
        };
        QAtomicInteger<int> failures{0};
        runConcurrently(8, [&](int i) {
            if (i > 0) {
                firstBatchRunning.acquire();
                firstBatchRunning.release();
                QThread::msleep(10 * i);   // arrive one after the other
            }
            try {
                queue.run(works[i], runner);
            } catch (const TestFailure &) {
                QCOMPARE(i, 5);   // only the failed job's caller sees its failure
                ++failures;
            }
        });
        QCOMPARE(failures.loadRelaxed(), 1);
        QCOMPARE(batches.size(), 2);
        QCOMPARE(batches.at(0), QList<int>({0}));
        // All seven that arrived meanwhile, in one batch (sorted: a loaded machine may let
        // them arrive in another order than their 10 ms steps intend).
        QList<int> second = batches.at(1);
        std::sort(second.begin(), second.end());
        QCOMPARE(second, QList<int>({1, 2, 3, 4, 5, 6, 7}));
    }

    // Group commit in SQLite: transactions that wait behind a slow one commit together, and
    // one that fails (a thrown exception, a unique violation) undoes only its own writes.
    void groupedTransactionsFailAlone()
    {
        REQUIRE_SQLITE("group commit");
        auto store = openMigrated();
        QVERIFY(store);
        store->createUser(makeUser(QStringLiteral("taken"), QStringLiteral("taken@example.com")));

        enum Outcome { Committed, Threw, Duplicate, Other };
        std::vector<Outcome> outcome(8, Other);
        QSemaphore slowStarted;
        runConcurrently(8, [&](int i) {
            if (i > 0) {
                slowStarted.acquire();
                slowStarted.release();
            }
            const QString id = QStringLiteral("g%1").arg(i);
            try {
                store->transaction([&] {
                    store->createUser(makeUser(id, id + QStringLiteral("@example.com")));
                    store->createSession(makeSession(id, id, id, 1000));
                    if (i == 0) {   // the slow one: the others queue behind it
                        slowStarted.release();
                        QThread::msleep(300);
                    }
                    if (i == 3)
                        throw TestFailure{};
                    if (i == 4)   // fails inside SQLite, after its own writes
                        store->createUser(makeUser(id + QStringLiteral("b"), QStringLiteral("taken@example.com")));
                    if (i == 5) {   // a nested transaction that fails and is caught
                        try {
                            store->transaction([&] {
                                store->createUser(makeUser(id + QStringLiteral("n"), id + QStringLiteral("n@example.com")));
                                throw TestFailure{};
                            });
                        } catch (const TestFailure &) {
                        }
                    }
                });
                outcome[i] = Committed;
            } catch (const TestFailure &) {
                outcome[i] = Threw;
            } catch (const StoreError &e) {
                outcome[i] = QString::fromUtf8(e.what()).contains(QLatin1String("UNIQUE")) ? Duplicate : Other;
            }
        });
        for (int i = 0; i < 8; ++i) {
            const QString id = QStringLiteral("g%1").arg(i);
            const Outcome expected = i == 3 ? Threw : i == 4 ? Duplicate : Committed;
            QCOMPARE(int(outcome[i]), int(expected));
            QCOMPARE(bool(store->userById(id)), expected == Committed);
            QCOMPARE(bool(store->sessionWithUserByToken(id)), expected == Committed);
        }
        QVERIFY(!store->userById(QStringLiteral("g4b")));
        QVERIFY(!store->userById(QStringLiteral("g5n")));   // the nested part alone rolled back
    }

    // Store::afterCommit: a callback queued inside a transaction runs once it has committed
    // (the data is there for another connection), in order, on the caller's thread, also
    // when it was queued in a nested transaction; outside a transaction it runs at once.
    void afterCommitRunsOnceCommitted()
    {
        QString path;
        auto store = openMigrated(&path);
        QVERIFY(store);
        const auto usersSeenElsewhere = [&] { return rawScalar(path, QStringLiteral("SELECT count(*) FROM \"user\"")).toInt(); };

        QStringList ran;
        store->afterCommit([&] { ran << QStringLiteral("outside"); });
        QCOMPARE(ran, QStringList{QStringLiteral("outside")});

        ran.clear();
        QThread *ranOn = nullptr;
        int usersThen = -1;
        store->transaction([&] {
            store->createUser(makeUser(QStringLiteral("c1"), QStringLiteral("c1@example.com")));
            store->afterCommit([&] {
                ran << QStringLiteral("first");
                ranOn = QThread::currentThread();
                usersThen = usersSeenElsewhere();
            });
            store->transaction([&] {
                store->createUser(makeUser(QStringLiteral("c2"), QStringLiteral("c2@example.com")));
                store->afterCommit([&] { ran << QStringLiteral("nested"); });
            });
            store->afterCommit([&] { ran << QStringLiteral("last"); });
            QVERIFY(ran.isEmpty());   // not even the nested one: the outer has not committed
        });
        QCOMPARE(ran, (QStringList{QStringLiteral("first"), QStringLiteral("nested"), QStringLiteral("last")}));
        QCOMPARE(ranOn, QThread::currentThread());
        QCOMPARE(usersThen, 2);

        // serialTransaction too.
        ran.clear();
        store->serialTransaction(QStringLiteral("key"), [&] {
            store->createUser(makeUser(QStringLiteral("c3"), QStringLiteral("c3@example.com")));
            store->afterCommit([&] { ran << QStringLiteral("serial"); usersThen = usersSeenElsewhere(); });
            QVERIFY(ran.isEmpty());
        });
        QCOMPARE(ran, QStringList{QStringLiteral("serial")});
        QCOMPARE(usersThen, 3);

        // A callback may start a transaction of its own; one that throws is logged and the
        // next still runs (the transaction has committed: its caller sees no failure).
        ran.clear();
        QTest::ignoreMessage(QtWarningMsg, "a callback after a commit failed: boom");
        store->transaction([&] {
            store->afterCommit([&] { throw std::runtime_error("boom"); });
            store->afterCommit([&] {
                store->transaction([&] { store->createUser(makeUser(QStringLiteral("c4"), QStringLiteral("c4@example.com"))); });
                ran << QStringLiteral("after the failed one");
            });
        });
        QCOMPARE(ran, QStringList{QStringLiteral("after the failed one")});
        QVERIFY(store->userById(QStringLiteral("c4")));
    }

    // What a transaction that rolls back queued never runs: an exception out of `work`, a
    // failed statement, a nested transaction that throws (even when the outer work catches
    // it and commits), and on PostgreSQL a transaction it refuses to commit.
    void afterCommitDroppedOnRollback()
    {
        auto store = openMigrated();
        QVERIFY(store);
        store->createUser(makeUser(QStringLiteral("taken"), QStringLiteral("taken@example.com")));
        QStringList ran;

        QVERIFY_THROWS_EXCEPTION(TestFailure, store->transaction([&] {
            store->afterCommit([&] { ran << QStringLiteral("thrown"); });
            throw TestFailure{};
        }));
        try {
            store->transaction([&] {
                store->afterCommit([&] { ran << QStringLiteral("unique violation"); });
                store->createUser(makeUser(QStringLiteral("dup"), QStringLiteral("taken@example.com")));
            });
            QFAIL("no unique violation");
        } catch (const StoreError &e) {
            QVERIFY(e.isUniqueViolation());
        }
        QVERIFY_THROWS_EXCEPTION(TestFailure, store->transaction([&] {
            store->transaction([&] { store->afterCommit([&] { ran << QStringLiteral("nested, outer threw"); }); });
            throw TestFailure{};
        }));
        QVERIFY(ran.isEmpty());

        store->transaction([&] {
            store->afterCommit([&] { ran << QStringLiteral("outer"); });
            try {
                store->transaction([&] {
                    store->afterCommit([&] { ran << QStringLiteral("nested, undone"); });
                    store->transaction([&] { store->afterCommit([&] { ran << QStringLiteral("deeper, undone"); }); });
                    throw TestFailure{};
                });
            } catch (const TestFailure &) {
            }
            store->transaction([&] { store->afterCommit([&] { ran << QStringLiteral("nested, kept"); }); });
        });
        QCOMPARE(ran, (QStringList{QStringLiteral("outer"), QStringLiteral("nested, kept")}));

        if (isPostgres()) {   // a swallowed failed statement: PostgreSQL would not commit
            ran.clear();
            QVERIFY_THROWS_EXCEPTION(StoreError, store->transaction([&] {
                store->afterCommit([&] { ran << QStringLiteral("swallowed"); });
                try {
                    store->createUser(makeUser(QStringLiteral("dup"), QStringLiteral("taken@example.com")));
                } catch (const StoreError &) {
                }
            }));
            QVERIFY(ran.isEmpty());
        }
    }

    // PostgreSQL runs `work` again after a serialization failure: only what the attempt that
    // committed queued runs, once. Here another connection (another server process) changes
    // the row the first attempt is about to change, after that attempt's snapshot.
    void afterCommitNotRepeatedWhenPostgresRunsWorkAgain()
    {
        REQUIRE_POSTGRES();
        QString path;
        auto store = openMigrated(&path);
        QVERIFY(store);
        QString error;
        auto otherProcess = SqlStore::openPostgres(path, &error);
        QVERIFY2(otherProcess, qPrintable(error));
        store->execTemplate(QStringLiteral("CREATE TABLE counter (n BIGINT NOT NULL)"), {});
        store->execTemplate(QStringLiteral("INSERT INTO counter VALUES (0)"), {});

        for (const bool serial : {false, true}) {
            int attempts = 0;
            QList<int> ran;   // the attempt whose callback ran
            const std::function<void()> work = [&] {
                const int attempt = ++attempts;
                store->afterCommit([&ran, attempt] { ran << attempt; });
                store->userById(QStringLiteral("anyone"));   // the attempt's snapshot
                if (attempt == 1)
                    otherProcess->execTemplate(QStringLiteral("UPDATE counter SET n = n + 1"), {});
                store->execTemplate(QStringLiteral("UPDATE counter SET n = n + 1"), {});   // attempt 1: 40001
            };
            if (serial)
                store->serialTransaction(QStringLiteral("counter"), work);
            else
                store->transaction(work);
            QCOMPARE(attempts, 2);
            QCOMPARE(ran, QList<int>{2});
        }
        QCOMPARE(rawScalar(path, QStringLiteral("SELECT n FROM counter")).toInt(), 4);
    }

    // Group commit (SQLite): the jobs of a batch run on its leader's thread, but each one's
    // callbacks run on its own caller's thread after the batch committed, and those of a
    // job that failed (or of its nested part that failed) do not run.
    void afterCommitInAGroupCommitRunsOnItsCallersThread()
    {
        REQUIRE_SQLITE("group commit");
        auto store = openMigrated();
        QVERIFY(store);
        QMutex lock;
        QStringList ran;                        // "<job>:<callback>", from every thread
        std::vector<QThread *> caller(8, nullptr), workedOn(8, nullptr), calledBackOn(8, nullptr);
        QSemaphore slowStarted;
        runConcurrently(8, [&](int i) {
            caller[i] = QThread::currentThread();
            if (i > 0) {
                slowStarted.acquire();
                slowStarted.release();
            }
            const auto record = [&, i](const char *what) {
                QMutexLocker locker(&lock);
                ran << QStringLiteral("%1:%2").arg(i).arg(QLatin1String(what));
                calledBackOn[i] = QThread::currentThread();
            };
            try {
                store->transaction([&] {
                    workedOn[i] = QThread::currentThread();
                    store->createUser(makeUser(QStringLiteral("b%1").arg(i), QStringLiteral("b%1@example.com").arg(i)));
                    store->afterCommit([=] { record("job"); });
                    if (i == 0) {   // the slow one: the others queue behind it
                        slowStarted.release();
                        QThread::msleep(300);
                    }
                    if (i == 3)
                        throw TestFailure{};
                    if (i == 5) {
                        try {
                            store->transaction([&] {
                                store->afterCommit([=] { record("nested"); });
                                throw TestFailure{};
                            });
                        } catch (const TestFailure &) {
                        }
                    }
                });
            } catch (const TestFailure &) {
            }
        });
        QStringList expected;
        for (int i = 0; i < 8; ++i) {
            if (i != 3)
                expected << QStringLiteral("%1:job").arg(i);
        }
        ran.sort();
        QCOMPARE(ran, expected);
        int ranElsewhere = 0;   // jobs a leader ran for another thread: the batch happened
        for (int i = 0; i < 8; ++i) {
            ranElsewhere += workedOn[i] != caller[i] ? 1 : 0;
            if (i != 3)
                QCOMPARE(calledBackOn[i], caller[i]);
        }
        QVERIFY2(ranElsewhere > 0, "no transaction was committed in another's batch");
    }

    // A table's INSERT, UPDATE and SELECT come from one column list (no backend involved).
    void tableStatementsComeFromOneColumnList()
    {
        const SqlDetail::TableSql table("user", {"id", "name", "emailVerified"});
        QCOMPARE(table.columns, QStringLiteral("\"id\", \"name\", \"emailVerified\""));
        QCOMPARE(table.columnCount, 3);
        QCOMPARE(table.insert, QStringLiteral("INSERT INTO \"user\" (\"id\", \"name\", \"emailVerified\") "
                                              "VALUES (:id, :name, :emailVerified)"));
        QCOMPARE(table.updateById, QStringLiteral("UPDATE \"user\" SET \"name\" = :name, \"emailVerified\" = :emailVerified "
                                                  "WHERE \"id\" = :id"));
        QCOMPARE(table.select, QStringLiteral("SELECT \"id\", \"name\", \"emailVerified\" FROM \"user\""));
        QCOMPARE(table.qualifiedColumns(QStringLiteral("u")),
                 QStringLiteral("\"u\".\"id\", \"u\".\"name\", \"u\".\"emailVerified\""));
        const SqlDetail::PerDialect ordered([](const SqlDialect &d) { return d.insertionOrderColumn(); });
        QCOMPARE(ordered(SqlDialect::sqlite()), SqlDialect::sqlite().insertionOrderColumn());
        QCOMPARE(ordered(SqlDialect::postgres()), SqlDialect::postgres().insertionOrderColumn());
        QVERIFY(ordered(SqlDialect::sqlite()) != ordered(SqlDialect::postgres()));
    }

    // Statements stay prepared per connection; a statement already in use (a nested read of
    // the same text) gets its own, and a failed run leaves the cached one usable.
    void preparedStatementsAreReusedSafely()
    {
        auto store = openMigrated();
        QVERIFY(store);
        for (int i = 0; i < 3; ++i)
            store->createUser(makeUser(QStringLiteral("p%1").arg(i), QStringLiteral("p%1@example.com").arg(i)));
        for (int round = 0; round < 3; ++round) {   // the same statement, other values
            QCOMPARE(store->userById(QStringLiteral("p%1").arg(round))->email, QStringLiteral("p%1@example.com").arg(round));
            QVERIFY(!store->userById(QStringLiteral("missing")));
        }

        // A unique violation in a cached INSERT, then the same INSERT succeeds.
        QVERIFY_THROWS_EXCEPTION(StoreError, store->createUser(makeUser(QStringLiteral("p0"), QStringLiteral("other@example.com"))));
        store->createUser(makeUser(QStringLiteral("p3"), QStringLiteral("p3@example.com")));
        QVERIFY(store->userById(QStringLiteral("p3")));

        // Two live uses of one text on one connection. SQLite only: Qt's PostgreSQL driver
        // reads forward-only results row by row, so one connection cannot have two open.
        if (isPostgres())
            return;
        const QString sql = QStringLiteral("SELECT \"email\" FROM \"user\" WHERE \"id\" = :id");
        const QStringList connections = QSqlDatabase::connectionNames().filter(QStringLiteral("kernia-sql-"));
        QCOMPARE(connections.size(), 1);   // this store's, on this thread
        const QString connection = connections.first();
        SqlDetail::StatementCache statements;
        const SqlDetail::Connection db{QSqlDatabase::database(connection, false), &statements};
        const SqlDialect dialect = store->dialect();
        SqlDetail::Query outer(db, dialect, QStringLiteral("outer"));
        outer.prepare(sql).bind(QStringLiteral(":id"), QStringLiteral("p1")).exec();
        {
            SqlDetail::Query inner(db, dialect, QStringLiteral("inner"));
            inner.prepare(sql).bind(QStringLiteral(":id"), QStringLiteral("p2")).exec();
            QVERIFY(inner.next());
            QCOMPARE(inner.value(0).toString(), QStringLiteral("p2@example.com"));
        }
        QVERIFY(outer.next());
        QCOMPARE(outer.value(0).toString(), QStringLiteral("p1@example.com"));
        QVERIFY(!outer.next());
    }

    // On SQLite, Query runs statements through SQLite's own API (sqlite_statement.h). What
    // it binds and reads back must be what Qt's driver binds and reads, and the misuses it
    // adds checks for must fail loudly instead of running with stale or missing values.
    void sqliteStatementsBindAndReadAsQtDoes()
    {
        REQUIRE_SQLITE("statements through SQLite's own API");
        auto store = openMigrated();
        QVERIFY(store);
        const QString connection = QSqlDatabase::connectionNames().filter(QStringLiteral("kernia-sql-")).value(0);
        const QSqlDatabase database = QSqlDatabase::database(connection, false);
        // Debian's QSQLITE loads the system libsqlite3: the fast path must be the one in use.
        QVERIFY(SqlDetail::usesOurSqlite(database));
        SqlDetail::StatementCache statements;
        const SqlDetail::Connection db{database, &statements};
        const SqlDialect dialect = store->dialect();
        SqlDetail::Query(db, dialect, QStringLiteral("create"))
            .exec(QStringLiteral("CREATE TABLE kinds (k TEXT PRIMARY KEY, t TEXT, i BIGINT, r REAL, b BLOB)"));

        const QString insert = QStringLiteral("INSERT INTO kinds (k, t, i, r, b) VALUES (:k, :t, :i, :r, :b)");
        const QString text = QStringLiteral("h\u00e9llo \u2603 \U0001F600 '\"");
        const QByteArray blob("\x00\x01\xff" "bytes", 8);
        struct Row { const char *key; QVariant t, i, r, b; };
        const std::vector<Row> rows = {
            {"values", text, qint64(1) << 40, 2.5, blob},
            {"small", QStringLiteral("x"), true, -1.0, QByteArray("")},
            {"nulls", QString(), QVariant(), QVariant(QMetaType::fromType<double>()), QByteArray()},
            {"empty", QString(QLatin1String("")), 0, 0.0, QVariant()},
        };
        for (const Row &row : rows) {
            SqlDetail::Query q(db, dialect, QStringLiteral("insert"));
            q.prepare(insert).bind(QStringLiteral(":k"), QString::fromLatin1(row.key)).bind(QStringLiteral(":t"), row.t)
                .bind(QStringLiteral(":i"), row.i).bind(QStringLiteral(":r"), row.r).bind(QStringLiteral(":b"), row.b).exec();
            QCOMPARE(q.rowsAffected(), 1);
        }

        // Read every row both ways: through Query, and through Qt's own QSqlQuery.
        const QString select = QStringLiteral("SELECT k, t, i, r, b FROM kinds ORDER BY k");
        SqlDetail::Query ours(db, dialect, QStringLiteral("select"));
        ours.prepare(select).exec();
        QSqlQuery qts(database);
        QVERIFY(qts.exec(select));
        int count = 0;
        while (ours.next()) {
            QVERIFY(qts.next());
            ++count;
            for (int column = 0; column < 5; ++column) {
                const QVariant mine = ours.value(column), theirs = qts.value(column);
                const QByteArray where = qts.value(0).toString().toUtf8() + " column " + QByteArray::number(column);
                QVERIFY2(mine.isNull() == theirs.isNull(), where.constData());
                QVERIFY2(mine.toString() == theirs.toString(), where.constData());
                QVERIFY2(mine.toByteArray() == theirs.toByteArray(), where.constData());
                QVERIFY2(mine.toLongLong() == theirs.toLongLong(), where.constData());
                QVERIFY2(mine.toDouble() == theirs.toDouble(), where.constData());
            }
        }
        QVERIFY(!qts.next());
        qts.finish();
        QCOMPARE(count, 4);
        QVERIFY(ours.value(0).isNull());   // past the last row
        ours.finish();

        const auto readBack = [&](const char *key, int column) {
            SqlDetail::Query q(db, dialect, QStringLiteral("read"));
            q.prepare(QStringLiteral("SELECT k, t, i, r, b FROM kinds WHERE k = :k")).bind(QStringLiteral(":k"), QString::fromLatin1(key)).exec();
            return q.next() ? q.value(column) : QVariant(QStringLiteral("missing"));
        };
        QCOMPARE(readBack("values", 1).toString(), text);
        QCOMPARE(readBack("values", 2).toLongLong(), qint64(1) << 40);
        QCOMPARE(readBack("values", 4).toByteArray(), blob);
        QCOMPARE(readBack("small", 2).toLongLong(), 1);                  // bool: INTEGER 1
        QVERIFY(readBack("nulls", 1).isNull());                          // null QString: NULL
        QVERIFY(readBack("nulls", 4).isNull());                          // null QByteArray: NULL
        QVERIFY(!readBack("empty", 1).isNull());                         // empty QString: ''
        QCOMPARE(readBack("empty", 1).toString(), QString());

        // An UPDATE reports the rows it changed.
        SqlDetail::Query update(db, dialect, QStringLiteral("update"));
        update.prepare(QStringLiteral("UPDATE kinds SET i = :i WHERE i IS NULL OR i = 0")).bind(QStringLiteral(":i"), 7).exec();
        QCOMPARE(update.rowsAffected(), 2);
        update.finish();

        // A placeholder the statement does not have, and one left unbound by the next user
        // of a cached statement (it would otherwise run with the last user's value).
        try {
            SqlDetail::Query(db, dialect, QStringLiteral("typo")).prepare(insert).bind(QStringLiteral(":k"), QStringLiteral("z"))
                .bind(QStringLiteral(":t"), 1).bind(QStringLiteral(":i"), 1).bind(QStringLiteral(":r"), 1).bind(QStringLiteral(":b"), 1)
                .bind(QStringLiteral(":nope"), 1).exec();
            QFAIL("an unknown placeholder was accepted");
        } catch (const StoreError &e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(QLatin1String(":nope")), e.what());
        }
        try {
            SqlDetail::Query(db, dialect, QStringLiteral("forgot")).prepare(insert).bind(QStringLiteral(":k"), QStringLiteral("z")).exec();
            QFAIL("a statement ran with placeholders its user did not bind");
        } catch (const StoreError &e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(QLatin1String("not bound")), e.what());
        }
        QVERIFY(readBack("z", 0).toString() == QLatin1String("missing"));

        // A value SQLite refuses to bind (over its length limit) fails with SQLite's reason.
        sqlite3 *const handle = *static_cast<sqlite3 *const *>(database.driver()->handle().constData());
        const int lengthLimit = sqlite3_limit(handle, SQLITE_LIMIT_LENGTH, 64);
        try {
            SqlDetail::Query(db, dialect, QStringLiteral("too long")).prepare(insert).bind(QStringLiteral(":k"), QStringLiteral("long"))
                .bind(QStringLiteral(":t"), QString(100, QLatin1Char('x'))).bind(QStringLiteral(":i"), 1).bind(QStringLiteral(":r"), 1)
                .bind(QStringLiteral(":b"), 1).exec();
            QFAIL("a value over SQLite's length limit was bound");
        } catch (const StoreError &e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(QLatin1String("cannot bind :t: string or blob too big")), e.what());
        }
        sqlite3_limit(handle, SQLITE_LIMIT_LENGTH, lengthLimit);
        QVERIFY(readBack("long", 0).toString() == QLatin1String("missing"));

        // SQLite's own failures keep their extended code: a duplicate key is a unique violation.
        try {
            SqlDetail::Query(db, dialect, QStringLiteral("duplicate")).prepare(insert).bind(QStringLiteral(":k"), QStringLiteral("values"))
                .bind(QStringLiteral(":t"), 1).bind(QStringLiteral(":i"), 1).bind(QStringLiteral(":r"), 1).bind(QStringLiteral(":b"), 1).exec();
            QFAIL("a duplicate primary key was inserted");
        } catch (const StoreError &e) {
            QVERIFY2(e.isUniqueViolation(), e.what());
            QVERIFY2(QString::fromUtf8(e.what()).contains(QLatin1String("UNIQUE constraint failed: kinds.k")), e.what());
        }
        statements.clear();
    }

    void beginTimesOutWhenLocked()
    {
        REQUIRE_SQLITE("SQLite's busy timeout");
        QString path;
        auto store = openMigrated(&path, 200);
        QVERIFY(store);
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("locker"));
            db.setDatabaseName(path);
            QVERIFY(db.open());
            QSqlQuery q(db);
            QVERIFY(q.exec(QStringLiteral("BEGIN IMMEDIATE")));
            QElapsedTimer timer;
            timer.start();
            bool ran = false;
            try {
                store->transaction([&] { ran = true; });
                QFAIL("BEGIN did not fail");
            } catch (const StoreError &e) {
                QVERIFY2(QString::fromUtf8(e.what()).contains(QLatin1String("locked")), e.what());
                QVERIFY(!e.isUniqueViolation());
            }
            QVERIFY(!ran);
            QVERIFY2(timer.elapsed() >= 150, qPrintable(QString::number(timer.elapsed())));
            QVERIFY(q.exec(QStringLiteral("ROLLBACK")));
            q.finish();
            db.close();
        }
        QSqlDatabase::removeDatabase(QStringLiteral("locker"));
        // Works again once the lock is gone.
        store->transaction([&] { store->createUser(makeUser(QStringLiteral("x"), QStringLiteral("x@example.com"))); });
        QVERIFY(store->userById(QStringLiteral("x")));
    }

    void deleteUserRemovesEverything()
    {
        QString path;
        auto store = openMigrated(&path);
        QVERIFY(store);
        store->createUser(makeUser(QStringLiteral("gone"), QStringLiteral("gone@example.com")));
        store->createUser(makeUser(QStringLiteral("kept"), QStringLiteral("kept@example.com")));
        for (const QString &uid : {QStringLiteral("gone"), QStringLiteral("kept")}) {
            store->createSession(makeSession(uid + QStringLiteral("-s1"), uid + QStringLiteral("-t1"), uid, 1));
            store->createSession(makeSession(uid + QStringLiteral("-s2"), uid + QStringLiteral("-t2"), uid, 2));
            store->createAccount(makeAccount(uid + QStringLiteral("-a1"), uid, 1));
            store->execTemplate(QStringLiteral(
                "INSERT INTO \"passkey\" (\"id\", \"publicKey\", \"userId\", \"credentialID\", \"counter\", "
                "\"deviceType\", \"backedUp\", \"createdAt\") VALUES (:id, 'pk', :userId, :cred, 0, "
                "'singleDevice', :backedUp, :createdAt)"),
                {{QStringLiteral("id"), uid + QStringLiteral("-p1")},
                 {QStringLiteral("userId"), uid},
                 {QStringLiteral("cred"), uid + QStringLiteral("-cred")},
                 {QStringLiteral("backedUp"), true},
                 {QStringLiteral("createdAt"), ms(42)}});
        }
        store->createVerification(makeVerification(QStringLiteral("v1"), QStringLiteral("delete-account-x"), 1));

        store->deleteUser(QStringLiteral("gone"));
        QVERIFY(!store->userById(QStringLiteral("gone")));
        QVERIFY(store->sessionsByUser(QStringLiteral("gone")).isEmpty());
        QVERIFY(!store->sessionByToken(QStringLiteral("gone-t1")));
        QVERIFY(store->accountsByUser(QStringLiteral("gone")).isEmpty());
        // The Store interface has no passkey reads: copy what is left into a scratch table
        // through templates and look at it with a plain connection.
        store->execTemplate(QStringLiteral("CREATE TABLE scratch (n BIGINT)"), {});
        store->execTemplate(QStringLiteral("INSERT INTO scratch SELECT count(*) FROM \"passkey\" WHERE \"userId\" = :u"),
                            {{QStringLiteral("u"), QStringLiteral("gone")}});
        store->execTemplate(QStringLiteral("INSERT INTO scratch SELECT count(*) FROM \"passkey\" WHERE \"userId\" = :u"),
                            {{QStringLiteral("u"), QStringLiteral("kept")}});
        store->execTemplate(QStringLiteral("INSERT INTO scratch SELECT \"createdAt\" FROM \"passkey\" WHERE \"userId\" = :u"),
                            {{QStringLiteral("u"), QStringLiteral("kept")}});
        store->execTemplate(QStringLiteral("INSERT INTO scratch SELECT CAST(\"backedUp\" AS INTEGER) FROM \"passkey\" WHERE \"userId\" = :u"),
                            {{QStringLiteral("u"), QStringLiteral("kept")}});

        QVERIFY(store->userById(QStringLiteral("kept")));
        QCOMPARE(store->sessionsByUser(QStringLiteral("kept")).size(), 2);
        QCOMPARE(store->accountsByUser(QStringLiteral("kept")).size(), 1);
        QVERIFY(store->verificationByIdentifier(QStringLiteral("delete-account-x")));   // untouched
        store->deleteUser(QStringLiteral("does-not-exist"));   // no error

        QCOMPARE(rawScalar(path, QLatin1String(text("SELECT group_concat(n, ',') FROM scratch",
                                                     "SELECT string_agg(CAST(n AS TEXT), ',') FROM scratch"))).toString(),
                 QStringLiteral("0,1,42,1"));
    }

    // The sizes a pull pages by: UTF-8 bytes of data + collection + recordId on both
    // backends (not characters), 0 for a tombstone's data; `take` stops the reading.
    void syncChangeSizesCountUtf8Bytes()
    {
        auto store = openMigrated();
        QVERIFY(store);
        store->createUser(makeUser(QStringLiteral("u"), QStringLiteral("u@example.com")));
        const auto record = [](const QString &collection, const QString &id, qint64 version, const QByteArray &data) {
            return makeSyncRecord(collection, id, version, data, 1000 * version);
        };
        store->transaction([&] {
            store->putSyncRecord(QStringLiteral("u"), record(QStringLiteral("c"), QStringLiteral("a"), 1, R"({"t":"x"})"));
            store->putSyncRecord(QStringLiteral("u"), record(QStringLiteral("c"), QStringLiteral("ü"), 2,
                                                             QStringLiteral(R"({"t":"€😀"})").toUtf8()));
            store->putSyncRecord(QStringLiteral("u"), record(QStringLiteral("c"), QStringLiteral("gone"), 3, QByteArray()));
            store->putSyncRecord(QStringLiteral("u"), record(QStringLiteral("c"), QStringLiteral("d"), 4, "{}"));
        });
        QList<QPair<qint64, qint64>> sizes;
        store->syncChangeSizes(QStringLiteral("u"), 0, 4, 10, [&](qint64 version, qint64 bytes) {
            sizes.append({version, bytes});
            return true;
        });
        // {"t":"x"} 9 + c + a; {"t":"€😀"} 6+3+4+2 = 15 + c + ü (2); tombstone: c + gone.
        QCOMPARE(sizes, (QList<QPair<qint64, qint64>>{{1, 11}, {2, 18}, {3, 5}, {4, 4}}));
        sizes.clear();
        store->syncChangeSizes(QStringLiteral("u"), 1, 3, 10, [&](qint64 version, qint64 bytes) {
            sizes.append({version, bytes});
            return sizes.size() < 1;   // stop after the first
        });
        QCOMPARE(sizes, (QList<QPair<qint64, qint64>>{{2, 18}}));
        sizes.clear();
        store->syncChangeSizes(QStringLiteral("u"), 0, 4, 2, [&](qint64 version, qint64 bytes) {
            sizes.append({version, bytes});
            return true;
        });
        QCOMPARE(sizes.size(), 2);   // the limit
        // The store still works after a read stopped half-way.
        QCOMPARE(store->syncChangesSince(QStringLiteral("u"), 0, 4, 10).size(), 4);
    }

    // Moving one user's records to another (the link): the keys both hold are read with
    // both records; the others are counted and moved in one statement, with versions in
    // the mover's version order, data and timestamps unchanged. Other users are untouched.
    void syncRecordsMoveToAnotherUser()
    {
        auto store = openMigrated();
        QVERIFY(store);
        for (const char *id : {"from", "to", "third"})
            store->createUser(makeUser(QLatin1String(id), QLatin1String(id) + QStringLiteral("@example.com")));
        const auto record = [](const QString &collection, const QString &id, qint64 version, const QByteArray &data) {
            return makeSyncRecord(collection, id, version, data, 1000 * version + 7);
        };
        const QString from = QStringLiteral("from"), to = QStringLiteral("to"), third = QStringLiteral("third");
        const QString c = QStringLiteral("c"), d = QStringLiteral("d");
        store->transaction([&] {
            // from: versions not in key order; c/c and c/e are shared with `to`.
            store->putSyncRecord(from, record(c, QStringLiteral("a"), 6, R"({"from":"a"})"));
            store->putSyncRecord(from, record(c, QStringLiteral("b"), 2, QByteArray()));
            store->putSyncRecord(from, record(c, QStringLiteral("c"), 5, R"({"from":"c"})"));
            store->putSyncRecord(from, record(c, QStringLiteral("d"), 1, R"({"from":"d"})"));
            store->putSyncRecord(from, record(c, QStringLiteral("e"), 3, QByteArray()));
            store->putSyncRecord(from, record(d, QStringLiteral("a"), 4, R"({"from":"d/a"})"));
            store->putSyncRecord(to, record(c, QStringLiteral("e"), 1, R"({"to":"e"})"));
            store->putSyncRecord(to, record(c, QStringLiteral("c"), 2, QByteArray()));
            store->putSyncRecord(to, record(c, QStringLiteral("z"), 3, R"({"to":"z"})"));
            store->bumpSyncVersion(to, 10);
            store->putSyncRecord(third, record(c, QStringLiteral("a"), 1, R"({"third":"a"})"));
        });

        const QList<SharedSyncRecord> shared = store->sharedSyncRecords(from, to);
        QCOMPARE(shared.size(), 2);
        QCOMPARE(shared.at(0).from.recordId, QStringLiteral("e"));   // from's version order: 3, 5
        QVERIFY(shared.at(0).from.deleted);
        QCOMPARE(shared.at(0).from.version, 3);
        QCOMPARE(shared.at(0).to.recordId, QStringLiteral("e"));
        QCOMPARE(shared.at(0).to.data, QByteArray(R"({"to":"e"})"));
        QCOMPARE(shared.at(0).to.version, 1);
        QCOMPARE(shared.at(1).from.data, QByteArray(R"({"from":"c"})"));
        QCOMPARE(shared.at(1).from.updatedAt, QDateTime::fromMSecsSinceEpoch(5007, Qt::UTC));
        QVERIFY(shared.at(1).to.deleted);
        QCOMPARE(shared.at(1).to.version, 2);
        QVERIFY(store->sharedSyncRecords(from, QStringLiteral("nobody")).isEmpty());

        const UnsharedSyncRecordCounts counts = store->unsharedSyncRecordCounts(from, to);
        QCOMPARE(counts.live, 3);      // c/a, c/d, d/a (d/a is another key than c/a)
        QCOMPARE(counts.deleted, 1);   // c/b
        qint64 moved = 0;
        store->transaction([&] { moved = store->moveUnsharedSyncRecords(from, to, 11); });
        QCOMPARE(moved, 4);

        // `to`: its own records as they were, then the moved ones at 11..14 in from's order.
        const QList<SyncRecord> toRecords = store->syncChangesSince(to, 0, 100, 100);
        QStringList keys;
        for (const SyncRecord &r : toRecords)
            keys.append(QStringLiteral("%1/%2@%3").arg(r.collection, r.recordId).arg(r.version));
        QCOMPARE(keys, (QStringList{"c/e@1", "c/c@2", "c/z@3", "c/d@11", "c/b@12", "d/a@13", "c/a@14"}));
        QCOMPARE(toRecords.at(3).data, QByteArray(R"({"from":"d"})"));
        QCOMPARE(toRecords.at(3).updatedAt, QDateTime::fromMSecsSinceEpoch(1007, Qt::UTC));
        QVERIFY(toRecords.at(4).deleted);
        QVERIFY(toRecords.at(4).data.isEmpty());
        QCOMPARE(toRecords.at(6).data, QByteArray(R"({"from":"a"})"));
        QVERIFY(!toRecords.at(6).deleted);
        // `from` keeps the shared keys only; nothing is left to move; `third` is untouched.
        QCOMPARE(store->syncChangesSince(from, 0, 100, 100).size(), 2);
        QCOMPARE(store->unsharedSyncRecordCounts(from, to).total(), 0);
        store->transaction([&] { moved = store->moveUnsharedSyncRecords(from, to, 15); });
        QCOMPARE(moved, 0);
        QCOMPARE(store->syncChangesSince(third, 0, 100, 100).size(), 1);
        QCOMPARE(store->syncRecord(third, c, QStringLiteral("a"))->data, QByteArray(R"({"third":"a"})"));
        QCOMPARE(store->syncVersion(to), 10);   // the caller reserves versions, not the move
    }

    void execTemplateBinds()
    {
        QString path;
        auto store = openMigrated(&path);
        QVERIFY(store);
        store->execTemplate(store->dialect().expandDdl(QStringLiteral(
            "CREATE TABLE link_log (a TEXT, b TEXT, c TEXT, at BIGINT, flag ${BOOL})")), {});

        // Only placeholders that occur are bound; extra keys are ignored; a repeated
        // placeholder gets the same value; ':x' inside quotes is text, not a placeholder.
        const QVariantMap binds{{QStringLiteral("oldUserId"), QStringLiteral("old")},
                                {QStringLiteral(":newUserId"), QStringLiteral("new")},
                                {QStringLiteral("unused"), QStringLiteral("never")},
                                {QStringLiteral("x"), QStringLiteral("not-bound")},
                                {QStringLiteral("when"), ms(1234567)},
                                {QStringLiteral("flag"), true}};
        store->execTemplate(QStringLiteral(
            "INSERT INTO link_log (a, b, c, at, flag) VALUES (:oldUserId, :newUserId || '-' || :oldUserId, "
            "'lit:x', :when, :flag)"), binds);
        QCOMPARE(QStringList(SqlStore::templatePlaceholders(QStringLiteral(
                     "SELECT :a, ':b', \":c\", :a, x::text, :d_1 -- :e"))),
                 (QStringList{QStringLiteral("a"), QStringLiteral("d_1"), QStringLiteral("e")}));

        // Statement without any placeholder, binds given.
        store->execTemplate(QStringLiteral("UPDATE link_log SET c = c || '+'"), binds);
        QCOMPARE(rawScalar(path, QStringLiteral("SELECT a || '|' || b || '|' || c || '|' || at || '|' || flag FROM link_log"))
                     .toString(),
                 QLatin1String(text("old|new-old|lit:x+|1234567|1", "old|new-old|lit:x+|1234567|true")));

        // Missing value for a placeholder.
        try {
            store->execTemplate(QStringLiteral("INSERT INTO link_log (a) VALUES (:missing)"), binds);
            QFAIL("missing bind accepted");
        } catch (const StoreError &e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(QLatin1String(":missing")), e.what());
        }

        // A failing statement (missing table) throws with the driver's message.
        try {
            store->execTemplate(QStringLiteral("INSERT INTO no_such_table (a) VALUES (:oldUserId)"), binds);
            QFAIL("statement on a missing table succeeded");
        } catch (const StoreError &e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(QLatin1String(text("no such table", "does not exist"))), e.what());
            QVERIFY(!e.isUniqueViolation());
        }

        // ... and inside transaction() it rolls back the earlier writes.
        try {
            store->transaction([&] {
                store->createUser(makeUser(QStringLiteral("linked"), QStringLiteral("linked@example.com")));
                store->execTemplate(QStringLiteral("INSERT INTO link_log (a) VALUES (:oldUserId)"), binds);
                store->execTemplate(QStringLiteral("UPDATE no_such_table SET a = :newUserId"), binds);
            });
            QFAIL("no StoreError");
        } catch (const StoreError &e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(QLatin1String(text("no such table", "does not exist"))), e.what());
        }
        QVERIFY(!store->userById(QStringLiteral("linked")));
        QCOMPARE(rawScalar(path, QStringLiteral("SELECT count(*) FROM link_log")).toInt(), 1);

        // A SELECT template is finished, so a write right after works.
        store->execTemplate(QStringLiteral("SELECT * FROM link_log WHERE a = :oldUserId"), binds);
        store->createUser(makeUser(QStringLiteral("after"), QStringLiteral("after@example.com")));
        QVERIFY(store->userById(QStringLiteral("after")));

        // Syntax error is a StoreError too.
        QVERIFY_THROWS_EXCEPTION(StoreError, store->execTemplate(QStringLiteral("INSRT nothing"), {}));
    }

    // PostgreSQL closed the store's idle connection (a restart, an idle timeout, here
    // pg_terminate_backend): the next transaction, with or without a serial key, opens a
    // new one instead of failing.
    void transactionsReconnectAfterTheServerClosedTheConnection()
    {
        REQUIRE_POSTGRES();
        QString url;
        auto store = openMigrated(&url);
        QVERIFY(store);
        store->createUser(makeUser(QStringLiteral("r0"), QStringLiteral("r0@example.com")));
        const auto terminateOthers = [&] {
            QCOMPARE(rawScalar(url, QStringLiteral("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                                   "WHERE datname = current_database() AND pid <> pg_backend_pid()")).toInt(), 1);
        };
        try {
            terminateOthers();
            QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("reconnecting after a lost database connection")));
            store->transaction([&] { store->createUser(makeUser(QStringLiteral("r1"), QStringLiteral("r1@example.com"))); });
            terminateOthers();
            QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("reconnecting after a lost database connection")));
            store->serialTransaction(QStringLiteral("k"), [&] {
                store->createUser(makeUser(QStringLiteral("r2"), QStringLiteral("r2@example.com")));
            });
        } catch (const StoreError &e) {
            QFAIL(e.what());
        }
        QVERIFY(store->userById(QStringLiteral("r1")));
        QVERIFY(store->userById(QStringLiteral("r2")));
    }

    void connectionsPerThreadAreCleanedUp()
    {
        // Statements prepared on a connection are finalized before it closes, whichever
        // thread closes it; otherwise SQLite refuses to close and Qt warns.
        QTest::failOnWarning(QRegularExpression(QStringLiteral("close|still in use"), QRegularExpression::CaseInsensitiveOption));
        QCOMPARE(kerniaConnectionCount(), 0);
        auto store = openMigrated();
        QVERIFY(store);
        QCOMPARE(kerniaConnectionCount(), 1);   // this thread's

        // A thread that uses the store gets its own connection, closed when it ends.
        QAtomicInteger<int> seenInside{0};
        runConcurrently(3, [&](int i) {
            store->createUser(makeUser(QStringLiteral("t%1").arg(i), QStringLiteral("t%1@example.com").arg(i)));
            seenInside.fetchAndAddRelaxed(kerniaConnectionCount());
        });
        QVERIFY(seenInside.loadRelaxed() >= 3 * 2);
        QCOMPARE(kerniaConnectionCount(), 1);
        QCOMPARE(store->userById(QStringLiteral("t2"))->email, QStringLiteral("t2@example.com"));

        // Destroying the store closes the connections of threads that are still running.
        QSemaphore used, finish;
        std::unique_ptr<QThread> worker(QThread::create([&] {
            store->userById(QStringLiteral("t0"));
            used.release();
            finish.acquire();
        }));
        worker->start();
        used.acquire();
        QCOMPARE(kerniaConnectionCount(), 2);
        store.reset();
        QCOMPARE(kerniaConnectionCount(), 0);
        finish.release();
        QVERIFY(worker->wait(10000));
        QCOMPARE(kerniaConnectionCount(), 0);

        // Two stores on one thread have separate connections.
        auto a = openMigrated();
        auto b = openMigrated();
        QCOMPARE(kerniaConnectionCount(), 2);
        a.reset();
        QCOMPARE(kerniaConnectionCount(), 1);
        b.reset();
        QCOMPARE(kerniaConnectionCount(), 0);
    }

    // ----- PostgreSQL only --------------------------------------------------------------

    void openPostgresUrls()
    {
        REQUIRE_POSTGRES();
        const QString url = freshPath();
        QUrl parsed(url);
        QString error;

        // postgres:// and postgresql://, percent-encoding, extra libpq parameters.
        for (const QString &scheme : {QStringLiteral("postgres"), QStringLiteral("postgresql")}) {
            QUrl u = parsed;
            u.setScheme(scheme);
            QUrlQuery query;
            query.addQueryItem(QStringLiteral("application_name"), QStringLiteral("kernia tst_store"));
            query.addQueryItem(QStringLiteral("connect_timeout"), QStringLiteral("5"));
            u.setQuery(query);
            auto store = SqlStore::openPostgres(u.toString(), &error);
            QVERIFY2(store, qPrintable(error));
            QCOMPARE(store->dialect().kind(), SqlDialect::Kind::Postgres);
            if (scheme == QLatin1String("postgres"))
                QVERIFY(store->appliedMigrations().isEmpty());   // open does not migrate
            store->migrate();
            QCOMPARE(store->appliedMigrations().size(), schemaMigrations(store->dialect()).size());
        }
        // SqlStore::open dispatches on the scheme.
        QVERIFY2(SqlStore::open(url, &error), qPrintable(error));

        // A unix socket directory (?host=/dir), when the test server says where it is.
        const QString socketDir = qEnvironmentVariable("KERNIA_TEST_POSTGRES_SOCKET_DIR");
        if (!socketDir.isEmpty()) {
            QUrl u = parsed;
            u.setHost(QString());
            u.setQuery(QStringLiteral("host=") + QString::fromLatin1(QUrl::toPercentEncoding(socketDir)));
            auto store = SqlStore::openPostgres(u.toString(), &error);
            QVERIFY2(store, qPrintable(u.toString() + QLatin1Char(' ') + error));
            QCOMPARE(store->appliedMigrations().size(), schemaMigrations(store->dialect()).size());
        }

        // Failures: no store, a message naming the URL without its password.
        const auto expectFailure = [&](const QString &bad, const char *fragment) {
            error.clear();
            QVERIFY2(!SqlStore::openPostgres(bad, &error), qPrintable(bad));
            QVERIFY2(error.contains(QLatin1String(fragment), Qt::CaseInsensitive), qPrintable(error));
            QVERIFY2(!error.contains(QLatin1String("s3cret")), qPrintable(error));
        };
        expectFailure(QStringLiteral("mysql://u:s3cret@127.0.0.1/x"), "postgres://");
        QUrl missing = parsed;
        missing.setPath(QStringLiteral("/kernia_no_such_database"));
        expectFailure(missing.toString(), "kernia_no_such_database");
        QUrl closedPort = parsed;
        closedPort.setPort(1);
        closedPort.setPassword(QStringLiteral("s3cret"));
        expectFailure(closedPort.toString(), "***");
        QVERIFY(!SqlStore::openPostgres(QStringLiteral("postgres://"), nullptr));
        QCOMPARE(SqlStore::redactedPostgresUrl(QStringLiteral("postgres://u:pw@h:5/db")),
                 QStringLiteral("postgres://u:***@h:5/db"));
        error.clear();
        QVERIFY(!SqlStore::open(QStringLiteral("mongodb://x"), &error));
        QVERIFY2(error.contains(QLatin1String("sqlite:PATH")), qPrintable(error));

        // Foreign keys are enforced; the schema has PostgreSQL types.
        auto store = openMigrated();
        QVERIFY(store);
        try {
            store->createSession(makeSession(QStringLiteral("s1"), QStringLiteral("t1"), QStringLiteral("nobody"), 1000));
            QFAIL("foreign key not enforced");
        } catch (const StoreError &e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(QLatin1String("foreign key")), e.what());
            QVERIFY(!e.isUniqueViolation());
        }
    }

    void postgresSchemaTypes()
    {
        REQUIRE_POSTGRES();
        QString path;
        auto store = openMigrated(&path);
        QVERIFY(store);
        const auto type = [&](const char *table, const char *column) {
            return rawScalar(path, QStringLiteral("SELECT data_type FROM information_schema.columns "
                                                  "WHERE table_name = '%1' AND column_name = '%2'")
                                       .arg(QLatin1String(table), QLatin1String(column))).toString();
        };
        QCOMPARE(type("user", "emailVerified"), QStringLiteral("boolean"));
        QCOMPARE(type("user", "isAnonymous"), QStringLiteral("boolean"));
        QCOMPARE(type("user", "createdAt"), QStringLiteral("bigint"));
        QCOMPARE(type("session", "expiresAt"), QStringLiteral("bigint"));
        QCOMPARE(type("passkey", "backedUp"), QStringLiteral("boolean"));
        QCOMPARE(type("session", "kernia_seq"), QStringLiteral("bigint"));
        QCOMPARE(type("kernia_migrations", "applied_at"), QStringLiteral("bigint"));
    }

    void postgresRetriesConflictingTransactions()
    {
        REQUIRE_POSTGRES();
        QString path;
        auto store = openMigrated(&path);
        QVERIFY(store);
        store->execTemplate(QStringLiteral("CREATE TABLE counter (n BIGINT NOT NULL)"), {});
        store->execTemplate(QStringLiteral("INSERT INTO counter VALUES (0)"), {});
        // Read-modify-write of one row from 6 threads, each with its own store (as separate
        // processes would): SERIALIZABLE + retry loses no increment.
        const int threads = 6, perThread = 5;
        QAtomicInteger<int> attempts{0}, errors{0};
        runConcurrently(threads, [&](int) {
            QString error;
            auto own = SqlStore::openPostgres(path, &error);
            if (!own) {
                ++errors;
                return;
            }
            for (int k = 0; k < perThread; ++k) {
                try {
                    own->transaction([&] {
                        ++attempts;
                        own->execTemplate(QStringLiteral("CREATE TEMP TABLE IF NOT EXISTS seen (n BIGINT)"), {});
                        own->execTemplate(QStringLiteral("DELETE FROM seen"), {});
                        own->execTemplate(QStringLiteral("INSERT INTO seen SELECT n FROM counter"), {});
                        QThread::msleep(2);
                        own->execTemplate(QStringLiteral("UPDATE counter SET n = (SELECT n FROM seen) + 1"), {});
                    });
                } catch (const StoreError &e) {
                    qWarning("transaction failed: %s", e.what());
                    ++errors;
                }
            }
        });
        QCOMPARE(errors.loadRelaxed(), 0);
        QCOMPARE(rawScalar(path, QStringLiteral("SELECT n FROM counter")).toInt(), threads * perThread);
        QVERIFY2(attempts.loadRelaxed() > threads * perThread,
                 "expected at least one serialization failure to have been retried");
    }

    void postgresSwallowedFailureIsNotCommitted()
    {
        REQUIRE_POSTGRES();
        auto store = openMigrated();
        QVERIFY(store);
        // PostgreSQL would turn this COMMIT into a silent ROLLBACK; the store refuses instead.
        try {
            store->transaction([&] {
                store->createUser(makeUser(QStringLiteral("w1"), QStringLiteral("w1@example.com")));
                try {
                    store->createUser(makeUser(QStringLiteral("w2"), QStringLiteral("w1@example.com")));
                } catch (const StoreError &) {
                }
            });
            QFAIL("transaction with a swallowed failure committed");
        } catch (const StoreError &e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(QLatin1String("aborted")), e.what());
        }
        QVERIFY(!store->userById(QStringLiteral("w1")));
        // The connection is fine afterwards.
        store->createUser(makeUser(QStringLiteral("w3"), QStringLiteral("w3@example.com")));
        QVERIFY(store->userById(QStringLiteral("w3")));
    }

    void postgresLinkOnceAcrossProcesses()
    {
        REQUIRE_POSTGRES();
        QString path;
        auto setup = openMigrated(&path);
        QVERIFY(setup);
        setup->execTemplate(QStringLiteral("CREATE TABLE link_audit (anon TEXT, new_user TEXT)"), {});
        for (int round = 0; round < 5; ++round) {
            // A guest with a session, then 8 "processes" (own stores) link it at once, each
            // like AnonymousPlugin: re-read the guest inside the transaction, run on_link,
            // delete the guest.
            const QString guest = QStringLiteral("guest%1").arg(round);
            User g = makeUser(guest, guest + QStringLiteral("@anon.invalid"));
            g.isAnonymous = true;
            setup->createUser(g);
            setup->createSession(makeSession(guest + QStringLiteral("-s"), guest + QStringLiteral("-t"), guest, 1000));
            QAtomicInteger<int> errors{0};
            runConcurrently(8, [&](int i) {
                QString error;
                auto own = SqlStore::openPostgres(path, &error);
                if (!own) {
                    ++errors;
                    return;
                }
                const QString newUser = QStringLiteral("new%1-%2").arg(round).arg(i);
                try {
                    own->transaction([&] {
                        own->createUser(makeUser(newUser, newUser + QStringLiteral("@example.com")));
                        const auto session = own->sessionByToken(guest + QStringLiteral("-t"));
                        if (!session)
                            return;
                        const auto anon = own->userById(session->userId);
                        if (!anon || !anon->isAnonymous)
                            return;
                        own->execTemplate(QStringLiteral("INSERT INTO link_audit VALUES (:a, :n)"),
                                          {{QStringLiteral("a"), anon->id}, {QStringLiteral("n"), newUser}});
                        own->deleteUser(anon->id);
                    });
                } catch (const StoreError &e) {
                    qWarning("link failed: %s", e.what());
                    ++errors;
                }
            });
            QCOMPARE(errors.loadRelaxed(), 0);
            QCOMPARE(rawScalar(path, QStringLiteral("SELECT count(*) FROM link_audit WHERE anon = '%1'").arg(guest)).toInt(), 1);
            QVERIFY(!setup->userById(guest));
            QCOMPARE(rawScalar(path, QStringLiteral("SELECT count(*) FROM \"user\" WHERE \"id\" LIKE 'new%1-%%'").arg(round)).toInt(), 8);
        }
    }
};

// The same suite on PostgreSQL ("Start testing of TestStorePostgres" in the output).
class TestStorePostgres : public TestStore
{
    Q_OBJECT

public:
    TestStorePostgres() : TestStore(Backend::Postgres) {}
};

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    TestStore sqlite;
    TestStorePostgres postgres;
    int failures = QTest::qExec(&sqlite, argc, argv);
    failures += QTest::qExec(&postgres, argc, argv);
    return failures;
}
#include "tst_store.moc"
