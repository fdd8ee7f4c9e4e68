// Everything that differs between the SQL databases SqlStore runs on, in one place.
//
//   const SqlDialect d = SqlDialect::sqlite();
//   q.exec(d.beginWriteTransaction());          // "BEGIN IMMEDIATE"
//   q.bindValue(":v", d.boolValue(true));        // 1 (SQLite) / true (PostgreSQL)
//
// All SQL in the store quotes identifiers with double quotes (both dialects accept that;
// PostgreSQL needs it for the camelCase columns and the reserved table name "user").
// Both dialects are implemented and tested (tests/unit/tst_store.cpp runs every store test
// on SQLite and on PostgreSQL); docs/postgres.md explains the PostgreSQL choices.
#pragma once

#include <QString>
#include <QStringList>
#include <QVariant>

class QSqlDatabase;
class QSqlError;

namespace Kernia::Server {

class SqlDialect
{
public:
    enum class Kind { Sqlite, Postgres };

    static SqlDialect sqlite() { return SqlDialect(Kind::Sqlite); }
    static SqlDialect postgres() { return SqlDialect(Kind::Postgres); }

    Kind kind() const { return m_kind; }
    QString driverName() const;               // "QSQLITE" / "QPSQL"

    // Statement that starts a write transaction in which a read-check-write is safe against
    // concurrent writers, also those of other server processes. SQLite: "BEGIN IMMEDIATE"
    // (writers queue up front). PostgreSQL: "BEGIN ISOLATION LEVEL SERIALIZABLE" (writers
    // run concurrently; a conflicting one fails with a serialization failure and
    // SqlStore::transaction runs it again, see isRetryable()).
    QString beginWriteTransaction() const;
    // Statement that starts a migration transaction. PostgreSQL: READ COMMITTED, so the
    // statements after the migration lock see what a process that held it committed.
    QString beginMigrationTransaction() const; // "BEGIN IMMEDIATE" / "BEGIN ... READ COMMITTED"
    // Statement run first inside every migration transaction so concurrent starters of
    // several processes queue up (empty for SQLite: BEGIN IMMEDIATE already does it).
    QString migrationLockStatement() const;

    // DDL type names and literals. Timestamps are BIGINT milliseconds since epoch (UTC).
    QString booleanType() const;              // "INTEGER" / "BOOLEAN"
    QString booleanLiteral(bool value) const; // "0"/"1" / "FALSE"/"TRUE"
    QString timestampType() const { return QStringLiteral("BIGINT"); }
    // Extra column definition for tables listed "in creation order": empty for SQLite (it
    // has rowid), `, "kernia_seq" BIGINT GENERATED ALWAYS AS IDENTITY` for PostgreSQL.
    QString insertionOrderColumnDefinition() const;
    // Replaces ${BOOL}, ${TRUE}, ${FALSE}, ${TIMESTAMP}, ${SEQ} in a DDL statement, and
    // ${DATA_BYTES} by byteLength("data") (the UTF-8 length of the column "data").
    QString expandDdl(QString ddl) const;

    QVariant boolValue(bool value) const;     // value to bind for a boolean column
    // SQL for the length in bytes (UTF-8) of a text expression; NULL stays NULL.
    // SQLite: length(CAST(x AS BLOB)); PostgreSQL: octet_length(x).
    QString byteLength(const QString &expression) const;
    // Column used to break createdAt ties so lists come back in insertion order.
    QString insertionOrderColumn() const;     // "rowid" / "\"kernia_seq\""

    static QString quote(const QString &identifier); // "user" -> "\"user\""
    // SELECT returning a row when the table bound to :name exists.
    QString tableExistsQuery() const;

    // Per-connection setup right after open(); throws StoreError on failure. SQLite:
    // journal_mode=WAL (retried while another connection holds the lock, up to
    // busyTimeoutMs: the switch can fail at once with "database is locked" when two
    // processes open a new file together), synchronous=NORMAL, foreign_keys=ON,
    // journal_size_limit=64 MiB.
    void initialiseConnection(QSqlDatabase &db, int busyTimeoutMs) const;
    // Connect options set before open() (SQLite busy timeout).
    QString connectOptions(int busyTimeoutMs) const;

    bool isUniqueViolation(const QSqlError &error) const;
    // A failure that goes away when the whole transaction runs again: PostgreSQL
    // serialization failure (SQLSTATE 40001) or deadlock (40P01). Never true for SQLite.
    bool isRetryable(const QSqlError &error) const;
    // The connection itself is gone (server restarted, network): it must be reopened.
    bool isConnectionFailure(const QSqlError &error) const;

private:
    explicit SqlDialect(Kind kind) : m_kind(kind) {}
    Kind m_kind;
};

} // namespace Kernia::Server
