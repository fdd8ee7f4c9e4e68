// Internal to SqlStore (sql_store.cpp, sql_store_ops.cpp): the statement wrapper every
// store method uses, and the per-connection cache of prepared statements behind it.
//
//   Query q(connection(), dialect, QStringLiteral("sessionByToken"));   // SqlDetail::Connection
//   q.prepare(sql).bind(QStringLiteral(":token"), token).exec();   // prepared once per connection
//   while (q.next()) ...                                           // finish()ed when q goes
//
// Why a cache: preparing is most of the cost of a short query — SQLite parses and plans
// the text every time, and Qt's PostgreSQL driver spends a round trip each on PREPARE and
// DEALLOCATE. The cache keeps each statement text prepared for the life of its connection,
// so statement text must not embed values: bind them.
#pragma once

#include "sql_dialect.h"
#include "sql_statement.h"

#include <QHash>
#include <QSqlDatabase>
#include <QString>
#include <QStringList>
#include <QVariant>
#include <memory>
#include <optional>

namespace Kernia::Server::SqlDetail {

// What went wrong on this thread since the current top-level transaction began. A
// PostgreSQL transaction in which a statement failed is aborted (until ROLLBACK TO
// SAVEPOINT) and its COMMIT silently rolls back, so SqlStore::transaction must know about
// failures that `work` caught and swallowed; a serialization failure anywhere in the
// attempt makes the whole attempt worth repeating.
struct FailureTrack
{
    int failures = 0;            // failed statements not undone by ROLLBACK TO SAVEPOINT
    bool retryable = false;      // a serialization failure / deadlock happened
    QString lastMessage;
    QString brokenConnection;    // connection name whose server connection is gone
};
FailureTrack &threadFailures();

// Prepared statements of one connection, used only by the thread that owns it.
class StatementCache
{
public:
    struct Entry
    {
        std::unique_ptr<Statement> statement;
        bool prepared = false;
        bool busy = false;   // a Query is using it (a nested use of the same text prepares its own)
    };
    static constexpr int kMaxEntries = 256;   // a bound, in case some text does embed values

    // An idle entry for `sql`, or a new unprepared one; nullptr while that entry is busy.
    std::shared_ptr<Entry> take(const QString &sql);
    void forget(const QString &sql);
    void clear();   // after a schema change

private:
    QHash<QString, std::shared_ptr<Entry>> m_entries;
};

// An open database and the cache of statements prepared on it, as one thread's SqlStore
// state holds them (the owner clears the cache before it removes the database: a prepared
// statement must not outlive its connection). Without a cache every Query prepares its own.
struct Connection
{
    QSqlDatabase database;
    StatementCache *statements = nullptr;
};

// A statement (sql_statement.h) that throws StoreError on failure (recording it in
// threadFailures()) and is always finish()ed, so no read transaction stays open on the
// connection (qt-notes §5).
class Query
{
public:
    Query(const Connection &connection, const SqlDialect &dialect, QString context);
    Query(const Query &) = delete;
    Query &operator=(const Query &) = delete;
    ~Query();

    Query &prepare(const QString &sql);           // cached on the connection
    Query &bind(const QString &placeholder, const QVariant &value);
    Query &exec();
    Query &exec(const QString &sql);              // unprepared, not cached
    bool next();
    QVariant value(int index) const { return m_active ? m_active->value(index) : QVariant(); }
    int rowsAffected() const { return m_active ? m_active->rowsAffected() : -1; }
    void finish();

private:
    Query &prepareUncached(const QString &sql);   // when the cached statement is in use
    Statement &own();      // this Query's own statement (uncached use)
    Statement &active();   // the statement in use: cached, own, or (none yet) own
    [[noreturn]] void fail();

    QSqlDatabase m_db;
    StatementCache *m_statements;   // may be null
    const SqlDialect &m_dialect;
    QString m_context;
    std::unique_ptr<Statement> m_own;
    std::shared_ptr<StatementCache::Entry> m_cached;
    Statement *m_active = nullptr;   // null until prepare()/exec()
};

// Runs the statements in order (prepared, cached), each with :id bound: the deletes of
// one user's rows, say.
void execEachWithId(const Connection &connection, const SqlDialect &dialect, const QStringList &statements,
                    const QString &id, const QString &context);

// Runs BEGIN, COMMIT, SAVEPOINT or RELEASE: prepared once and cached on SQLite, where they
// run on every write; as plain text on PostgreSQL, which prepares only queries and DML.
void execTransactionControl(const Connection &connection, const SqlDialect &dialect, const QString &sql,
                            const QString &context);

// Runs a statement for cleanup (ROLLBACK ...) without throwing.
void execQuietly(const Connection &connection, const QString &sql);

} // namespace Kernia::Server::SqlDetail
