#include "sql_dialect.h"

#include "sqlite_statement.h"
#include "store.h"

#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QElapsedTimer>
#include <QThread>

namespace Kernia::Server {

QString SqlDialect::driverName() const
{
    return m_kind == Kind::Sqlite ? QStringLiteral("QSQLITE") : QStringLiteral("QPSQL");
}

QString SqlDialect::beginWriteTransaction() const
{
    return m_kind == Kind::Sqlite ? QStringLiteral("BEGIN IMMEDIATE")
                                  : QStringLiteral("BEGIN ISOLATION LEVEL SERIALIZABLE");
}

QString SqlDialect::beginMigrationTransaction() const
{
    return m_kind == Kind::Sqlite ? QStringLiteral("BEGIN IMMEDIATE")
                                  : QStringLiteral("BEGIN ISOLATION LEVEL READ COMMITTED");
}

QString SqlDialect::insertionOrderColumnDefinition() const
{
    return m_kind == Kind::Sqlite
        ? QString()
        : QStringLiteral(", \"kernia_seq\" BIGINT GENERATED ALWAYS AS IDENTITY");
}

QString SqlDialect::migrationLockStatement() const
{
    // 0x4b65726e ("Kern"): an arbitrary, fixed advisory lock key for schema migrations.
    return m_kind == Kind::Sqlite ? QString()
                                  : QStringLiteral("SELECT pg_advisory_xact_lock(1264939630)");
}

QString SqlDialect::byteLength(const QString &expression) const
{
    return m_kind == Kind::Sqlite ? QStringLiteral("length(CAST(%1 AS BLOB))").arg(expression)
                                  : QStringLiteral("octet_length(%1)").arg(expression);
}

QString SqlDialect::booleanType() const
{
    return m_kind == Kind::Sqlite ? QStringLiteral("INTEGER") : QStringLiteral("BOOLEAN");
}

QString SqlDialect::booleanLiteral(bool value) const
{
    if (m_kind == Kind::Sqlite)
        return value ? QStringLiteral("1") : QStringLiteral("0");
    return value ? QStringLiteral("TRUE") : QStringLiteral("FALSE");
}

QString SqlDialect::expandDdl(QString ddl) const
{
    ddl.replace(QLatin1String("${BOOL}"), booleanType());
    ddl.replace(QLatin1String("${TRUE}"), booleanLiteral(true));
    ddl.replace(QLatin1String("${FALSE}"), booleanLiteral(false));
    ddl.replace(QLatin1String("${TIMESTAMP}"), timestampType());
    ddl.replace(QLatin1String("${SEQ}"), insertionOrderColumnDefinition());
    ddl.replace(QLatin1String("${DATA_BYTES}"), byteLength(QStringLiteral("\"data\"")));
    return ddl;
}

QVariant SqlDialect::boolValue(bool value) const
{
    return m_kind == Kind::Sqlite ? QVariant(value ? 1 : 0) : QVariant(value);
}

QString SqlDialect::insertionOrderColumn() const
{
    return m_kind == Kind::Sqlite ? QStringLiteral("rowid") : QStringLiteral("\"kernia_seq\"");
}

QString SqlDialect::quote(const QString &identifier)
{
    QString escaped = identifier;
    escaped.replace(QLatin1Char('"'), QLatin1String("\"\""));
    return QLatin1Char('"') + escaped + QLatin1Char('"');
}

QString SqlDialect::tableExistsQuery() const
{
    if (m_kind == Kind::Sqlite)
        return QStringLiteral("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name");
    return QStringLiteral("SELECT 1 FROM information_schema.tables "
                          "WHERE table_schema = current_schema() AND table_name = :name");
}

QString SqlDialect::connectOptions(int busyTimeoutMs) const
{
    if (m_kind == Kind::Sqlite)
        return QStringLiteral("QSQLITE_BUSY_TIMEOUT=%1").arg(busyTimeoutMs);
    return QString();
}

namespace {
// SQLITE_BUSY / SQLITE_LOCKED and their extended codes (e.g. 261, 517, 262).
bool isSqliteBusy(const QSqlError &error)
{
    bool ok = false;
    const int code = error.nativeErrorCode().toInt(&ok);
    return ok && ((code & 0xff) == 5 || (code & 0xff) == 6);
}
} // namespace

void SqlDialect::initialiseConnection(QSqlDatabase &db, int busyTimeoutMs) const
{
    QSqlQuery q(db);
    auto run = [&](const QString &sql) {
        if (!q.exec(sql))
            throw StoreError(QStringLiteral("%1: %2").arg(sql, q.lastError().text()));
    };
    if (m_kind == Kind::Sqlite) {
        const QString walPragma = QStringLiteral("PRAGMA journal_mode=WAL");
        QElapsedTimer waited;
        waited.start();
        QString mode;
        for (;;) {
            if (q.exec(walPragma) && q.next()) {
                mode = q.value(0).toString();
                q.finish();
                break;
            }
            const QSqlError error = q.lastError();
            q.finish();
            if (!isSqliteBusy(error) || waited.elapsed() >= busyTimeoutMs)
                throw StoreError(QStringLiteral("%1: %2").arg(walPragma, error.text()));
            QThread::msleep(5);
        }
        if (mode.compare(QLatin1String("wal"), Qt::CaseInsensitive) != 0) {
            throw StoreError(QStringLiteral("PRAGMA journal_mode=WAL: could not switch to WAL "
                                            "(journal mode is '%1')").arg(mode));
        }
        run(QStringLiteral("PRAGMA synchronous=NORMAL"));
        run(QStringLiteral("PRAGMA foreign_keys=ON"));
        if (!SqlDetail::refuseDoubleQuotedStrings(db))
            qDebug("SqlStore: Qt's SQLite is not ours: \"name\" stays a string where no column has that name");
        // When the log is rewound, a file a burst made huge is cut back to this size.
        run(QStringLiteral("PRAGMA journal_size_limit=67108864"));
        q.finish();
    } else {
        run(QStringLiteral("SET TIME ZONE 'UTC'"));
        // libpq prints NOTICEs (e.g. "relation already exists, skipping") on stderr.
        run(QStringLiteral("SET client_min_messages = warning"));
        q.finish();
    }
}

bool SqlDialect::isUniqueViolation(const QSqlError &error) const
{
    const QString code = error.nativeErrorCode();
    if (m_kind == Kind::Postgres)
        return code == QLatin1String("23505");
    // SQLITE_CONSTRAINT_UNIQUE (2067) / SQLITE_CONSTRAINT_PRIMARYKEY (1555); the driver may
    // report only the primary code 19 (SQLITE_CONSTRAINT), so fall back to the message.
    return code == QLatin1String("2067") || code == QLatin1String("1555")
        || error.databaseText().contains(QLatin1String("UNIQUE constraint failed"))
        || error.driverText().contains(QLatin1String("UNIQUE constraint failed"));
}

bool SqlDialect::isRetryable(const QSqlError &error) const
{
    if (m_kind != Kind::Postgres)
        return false;
    const QString code = error.nativeErrorCode();
    return code == QLatin1String("40001") || code == QLatin1String("40P01");
}

bool SqlDialect::isConnectionFailure(const QSqlError &error) const
{
    if (m_kind != Kind::Postgres)
        return false;
    const QString code = error.nativeErrorCode();
    // Class 08 (connection exception), 57P01..57P03 (admin/crash shutdown, cannot connect
    // now). libpq reports a dropped socket without any SQLSTATE.
    if (code.startsWith(QLatin1String("08")) || code.startsWith(QLatin1String("57P")))
        return true;
    const QString text = error.databaseText() + QLatin1Char(' ') + error.driverText();
    return error.type() == QSqlError::ConnectionError
        || text.contains(QLatin1String("server closed the connection"))
        || text.contains(QLatin1String("no connection to the server"))
        || text.contains(QLatin1String("connection to server was lost"));
}

} // namespace Kernia::Server
