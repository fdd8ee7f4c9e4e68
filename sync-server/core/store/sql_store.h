// Store over Qt Sql: SQLite (QSQLITE) and PostgreSQL (QPSQL) through the same class; all
// dialect differences live in SqlDialect.
//
//   QString error;
//   std::unique_ptr<SqlStore> store = SqlStore::openSqlite("data/kernia.db", &error);
//   // or SqlStore::openPostgres("postgres://kernia:pw@db.internal:5432/kernia", &error)
//   // or SqlStore::open("sqlite:data/kernia.db" / "postgres://...", &error)
//   if (!store)
//       qFatal("%s", qPrintable(error));
//   store->migrate();
//   store->transaction([&] {
//       if (!store->userByEmail(email))
//           store->createUser(user);
//   });
//
// Threading: every method may be called from any thread. Each thread gets its own
// connection (opened on first use; SQLite: WAL, synchronous=NORMAL, foreign_keys=ON, a
// busy timeout, and WAL checkpoints on a thread of the store's own; PostgreSQL: time zone UTC); it is closed when that thread ends or when the
// store is destroyed, whichever comes first. Do not destroy the store while another thread
// is inside one of its methods. A PostgreSQL connection found broken (server restart) is
// reopened before the thread's next transaction.
//
// Errors: every database failure throws StoreError carrying the driver's message;
// UNIQUE violations set StoreError::isUniqueViolation().
#pragma once

#include "commit_queue.h"
#include "sql_dialect.h"
#include "store.h"

#include <QString>
#include <QStringList>
#include <memory>

namespace Kernia::Server {

class AfterCommitQueue;

namespace SqlDetail {
struct Connection;
}

class SqlStore final : public Store
{
public:
    static constexpr int kDefaultBusyTimeoutMs = 5000;
    // SQLite: how often the write-ahead log is checkpointed, off the request path
    // (wal_checkpointer.h).
    static constexpr int kWalCheckpointIntervalMs = 200;

    // Creates the parent directory if needed, opens (or creates) the SQLite file and sets
    // the pragmas on this thread's connection. On failure returns nullptr and, when
    // errorMessage is given, a message naming the path and the cause. Does not migrate.
    static std::unique_ptr<SqlStore> openSqlite(const QString &filePath, QString *errorMessage,
                                                int busyTimeoutMs = kDefaultBusyTimeoutMs);
    // Connects to PostgreSQL: postgres://USER:PASSWORD@HOST:PORT/DBNAME or postgresql://...;
    // percent-encoded parts are decoded; ?host=/socket/dir selects a unix socket, other query
    // parameters (sslmode, connect_timeout (default 10), application_name, ...) go to libpq.
    // The database must exist. On failure returns nullptr and a message (password
    // redacted). Does not migrate.
    static std::unique_ptr<SqlStore> openPostgres(const QString &url, QString *errorMessage);
    // "sqlite:PATH" -> openSqlite, "postgres://..." / "postgresql://..." -> openPostgres.
    static std::unique_ptr<SqlStore> open(const QString &database, QString *errorMessage);
    // The URL with its password replaced by "***" (for logs and error messages).
    static QString redactedPostgresUrl(const QString &url);

    // How often transaction() runs `work` at most when PostgreSQL reports a serialization
    // failure or a deadlock (SQLSTATE 40001 / 40P01).
    static constexpr int kMaxTransactionAttempts = 10;

    ~SqlStore() override;
    SqlStore(const SqlStore &) = delete;
    SqlStore &operator=(const SqlStore &) = delete;

    const SqlDialect &dialect() const;
    // SQLite: background checkpoint rounds so far that copied the log with every writer
    // held off (WalCheckpointer::lockedRounds); 0 for PostgreSQL.
    int walLockedCheckpoints() const;
    // Ids of the migrations recorded in kernia_migrations, in id order.
    QStringList appliedMigrations();

    // Store
    void migrate() override;
    // Top level: BEGIN IMMEDIATE (SQLite) / BEGIN ISOLATION LEVEL SERIALIZABLE (PostgreSQL)
    // ... COMMIT, ROLLBACK + rethrow on exception. PostgreSQL: when a statement of the
    // attempt failed with a serialization failure or deadlock (even if `work` caught it),
    // the transaction is rolled back and `work` runs again, up to kMaxTransactionAttempts
    // times — so `work` must not have effects outside the store that cannot be repeated
    // (afterCommit queues them for the attempt that commits).
    // A PostgreSQL transaction in which `work` swallowed a failed statement is not
    // committed (StoreError), since PostgreSQL would silently roll it back.
    // Nested on the same thread: joins the outer transaction through a SAVEPOINT, so an
    // exception that escapes the inner call undoes only the inner work (and, unless the
    // caller catches it, the outer transaction rolls back too).
    // SQLite: top-level transactions that arrive while another commits are committed
    // together (CommitQueue, group commit): each in a SAVEPOINT of its own, so one that
    // throws still undoes only its own work, but `work` may then run on another thread.
    void transaction(const std::function<void()> &work) override;
    // PostgreSQL: the callbacks queued with afterCommit run after the key's lock is released.
    void serialTransaction(const QString &key, const std::function<void()> &work) override;
    // Each transaction() scope collects its callbacks in a queue of its own (after_commit.h):
    // a nested scope that succeeds hands them to the scope around it, the outermost runs
    // them after COMMIT. In a group commit they run on their own caller's thread, not on
    // the thread that ran the batch.
    void afterCommit(std::function<void()> callback) override;

    void createUser(const User &user) override;
    std::optional<User> userById(const QString &id) override;
    std::optional<User> userByEmail(const QString &lowerCaseEmail) override;
    std::optional<User> userByUsername(const QString &normalisedUsername) override;
    void updateUser(const User &user) override;
    void deleteUser(const QString &id) override;

    void createAccount(const Account &account) override;
    QList<Account> accountsByUser(const QString &userId) override;
    void updateAccount(const Account &account) override;

    void createSession(const Session &session) override;
    void createUserWithSession(const User &user, const Session &session) override;
    // userById/userByEmail/userByUsername/sessionByToken inside transaction() on
    // PostgreSQL lock the row they return (SELECT ... FOR UPDATE) until the transaction ends.
    std::optional<Session> sessionByToken(const QString &token) override;
    // One SELECT ... JOIN (locking both rows inside a PostgreSQL transaction).
    std::optional<std::pair<Session, User>> sessionWithUserByToken(const QString &token) override;
    QList<Session> sessionsByUser(const QString &userId) override;
    void updateSession(const Session &session) override;
    void deleteSessionByToken(const QString &token) override;
    int deleteSessionsByUser(const QString &userId) override;
    int deleteAccountsByUser(const QString &userId) override;
    void deleteSessionsByUserExcept(const QString &userId, const QString &keepToken) override;

    void createVerification(const Verification &verification) override;
    // With several rows for one identifier, the newest (createdAt, then insertion) wins.
    std::optional<Verification> verificationByIdentifier(const QString &identifier) override;
    // Deletes exactly that newest row and returns it (one DELETE ... RETURNING).
    std::optional<Verification> consumeVerification(const QString &identifier) override;
    int deleteVerificationsByValue(const QString &identifierPrefix, const QString &value) override;

    void createPasskey(const Passkey &passkey) override;
    std::optional<Passkey> passkeyById(const QString &id) override;
    // With several rows for one credential id (not prevented by the schema), the oldest wins.
    std::optional<Passkey> passkeyByCredentialId(const QString &credentialId) override;
    QList<Passkey> passkeysByUser(const QString &userId) override;
    void updatePasskey(const Passkey &passkey) override;
    void deletePasskey(const QString &id) override;
    int deletePasskeysByUser(const QString &userId) override;

    std::optional<SyncRecord> syncRecord(const QString &userId, const QString &collection,
                                         const QString &recordId) override;
    // One INSERT ... ON CONFLICT DO UPDATE (SQLite 3.24+, PostgreSQL 9.5+).
    void putSyncRecord(const QString &userId, const SyncRecord &record) override;
    QList<SyncRecord> syncChangesSince(const QString &userId, qint64 since, qint64 upTo, int limit) override;
    void syncChangeSizes(const QString &userId, qint64 since, qint64 upTo, int limit,
                         const std::function<bool(qint64 version, qint64 bytes)> &take) override;
    qint64 syncVersion(const QString &userId) override;
    // One INSERT ... ON CONFLICT DO UPDATE ... RETURNING.
    SyncCounter bumpSyncVersion(const QString &userId, qint64 count) override;
    qint64 syncClientMark(const QString &userId, const QString &clientId) override;
    void setSyncClientMark(const QString &userId, const QString &clientId, qint64 lastMid) override;
    QList<QPair<QString, qint64>> syncClientMarks(const QString &userId) override;
    qint64 syncRecordBytes(const QString &userId, const QString &collection, const QString &recordId) override;
    void setSyncUserBytes(const QString &userId, qint64 bytes) override;
    std::optional<qint64> recountSyncUserBytes(const QString &userId) override;
    void deleteSyncData(const QString &userId) override;
    // One SELECT ... JOIN on the primary key.
    QList<SharedSyncRecord> sharedSyncRecords(const QString &fromUserId, const QString &toUserId) override;
    // One SELECT ... WHERE NOT EXISTS ... GROUP BY "deleted".
    UnsharedSyncRecordCounts unsharedSyncRecordCounts(const QString &fromUserId, const QString &toUserId) override;
    // One UPDATE ... FROM (SELECT ..., ROW_NUMBER() OVER (ORDER BY "version") ...): the rows
    // change their "userId" and "version" in place (SQLite 3.33+, PostgreSQL).
    qint64 moveUnsharedSyncRecords(const QString &fromUserId, const QString &toUserId, qint64 firstVersion) override;

    // Rate limiting and operations; implemented in sql_store_ops.cpp.
    // One INSERT ... ON CONFLICT ("key") DO UPDATE ... WHERE <not full> RETURNING.
    RateLimitHit hitRateLimit(const QString &key, qint64 nowMs, qint64 windowMs, qint64 max,
                              bool sliding) override;
    int deleteRateLimitsBefore(qint64 cutoffMs, const QString &exceptKeyPrefix = QString()) override;
    // Batches of kExpiredVerificationBatch rows, found through the "expiresAt" index.
    int deleteExpiredVerifications(const QDateTime &now, int maxRows) override;
    static constexpr int kExpiredVerificationBatch = 1000;
    QStringList inactiveAnonymousUsers(const QDateTime &cutoff) override;
    // Batches of 200 users per transaction; sync tables (sync_record, sync_client,
    // sync_user_version) are cleared when they exist.
    int pruneAnonymousUsers(const QDateTime &cutoff) override;

    // Binds only the :name placeholders found in `sql` outside string literals, quoted
    // identifiers and comments (a leading ':' in a map key is optional). A placeholder with
    // no value in the map is an error. QDateTime values are bound as ms since epoch, like
    // every stored timestamp.
    void execTemplate(const QString &sql, const QVariantMap &namedBinds) override;

    // The :name placeholders execTemplate would bind, in order of first appearance.
    static QStringList templatePlaceholders(const QString &sql);

private:
    struct Config;
    struct Shared;
    struct ThreadState;
    class ThreadRegistry;

    explicit SqlStore(std::unique_ptr<Config> config);
    // transaction() without running the callbacks: `work` queues them in `queued`, which
    // holds those of the attempt that committed when this returns.
    void transactionQueuing(AfterCommitQueue &queued, const std::function<void()> &work);
    // After a transaction() scope succeeded: a nested one hands its callbacks to the scope
    // around it, the outermost (committed now) runs them.
    void endScope(AfterCommitQueue &queued);
    // The queue of the scope whose `work` runs on this thread now; nullptr outside one.
    AfterCommitQueue *currentAfterCommitQueue();
    void runTransaction(const QString &beginStatement, const std::function<void()> &work);
    // SQLite: runs the queued transactions of a CommitQueue batch in one transaction.
    void commitBatch(const QList<CommitQueue::Job *> &batch);
    void runInSavepoint(CommitQueue::Job &job);   // a batch member; its failure stays its own
    ThreadState &threadState();     // this thread's state, connection opened on demand
    // Between transactions: runs `statement` on this thread's connection, and once more on
    // a new one if the server had closed it (a restart, an idle timeout).
    ThreadState &onLiveConnection(const std::function<void(const SqlDetail::Connection &)> &statement);
    SqlDetail::Connection connection();   // this thread's connection and its statements
    bool locksReadRows();           // inside a PostgreSQL transaction: reads by key use FOR UPDATE

    std::unique_ptr<Config> m_config;
    std::shared_ptr<Shared> m_shared;
    std::unique_ptr<class WalCheckpointer> m_checkpointer;   // SQLite only
};

} // namespace Kernia::Server
