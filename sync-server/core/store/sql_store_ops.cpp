// SqlStore: rate-limit counters and operator maintenance (prune-anonymous). Kept apart from
// sql_store.cpp so these statements read as one unit; same conventions (quoted
// identifiers, ms-since-epoch timestamps, every query finished before the next write).
#include "sql_store.h"

#include "crypto/crypto.h"

#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QThread>

namespace Kernia::Server {

namespace {

constexpr int kPruneBatch = 200;
constexpr int kPruneAttempts = 10;

thread_local bool t_retryable = false;   // the last failure here was a serialization failure

class OpsQuery
{
public:
    OpsQuery(const QSqlDatabase &db, const SqlDialect &dialect, const char *context)
        : m_q(db), m_dialect(dialect), m_context(QLatin1String(context))
    {
        m_q.setForwardOnly(true);
    }
    OpsQuery(const OpsQuery &) = delete;
    OpsQuery &operator=(const OpsQuery &) = delete;
    ~OpsQuery() { m_q.finish(); }

    OpsQuery &prepare(const QString &sql)
    {
        if (!m_q.prepare(sql))
            fail();
        return *this;
    }
    OpsQuery &bind(const QString &placeholder, const QVariant &value)
    {
        m_q.bindValue(placeholder, value);
        return *this;
    }
    OpsQuery &exec()
    {
        if (!m_q.exec())
            fail();
        return *this;
    }
    bool next()
    {
        if (m_q.next())
            return true;
        if (m_q.lastError().isValid())
            fail();
        return false;
    }
    QVariant value(int index) const { return m_q.value(index); }
    int rowsAffected() const { return m_q.numRowsAffected(); }

private:
    [[noreturn]] void fail()
    {
        const QSqlError error = m_q.lastError();
        m_q.finish();
        t_retryable = m_dialect.isRetryable(error);
        throw StoreError(QStringLiteral("%1: %2").arg(m_context, error.text()), m_dialect.isUniqueViolation(error));
    }

    QSqlQuery m_q;
    const SqlDialect &m_dialect;
    QString m_context;
};

} // namespace

// ---------------------------------------------------------------------------------------
// Rate limiting

RateLimitHit SqlStore::hitRateLimit(const QString &key, qint64 nowMs, qint64 windowMs, qint64 max, bool sliding)
{
    // The numbers are the server's own (never request data), so they are written into the
    // statement; that keeps PostgreSQL's parameter typing out of the arithmetic.
    const QString now = QString::number(nowMs);
    const QString window = QString::number(windowMs);
    const QString expired = QStringLiteral("%1 - \"rateLimit\".\"lastRequest\" >= %2").arg(now, window);
    const QString sql = QStringLiteral(
        "INSERT INTO \"rateLimit\" (\"id\", \"key\", \"count\", \"lastRequest\") VALUES (:id, :key, 1, %1) "
        "ON CONFLICT (\"key\") DO UPDATE SET "
        "\"count\" = CASE WHEN %2 THEN 1 ELSE \"rateLimit\".\"count\" + 1 END, "
        "\"lastRequest\" = %3 "
        "WHERE %2 OR \"rateLimit\".\"count\" < %4 "
        "RETURNING \"count\", \"lastRequest\"")
        .arg(now, expired,
             sliding ? now : QStringLiteral("CASE WHEN %1 THEN %2 ELSE \"rateLimit\".\"lastRequest\" END").arg(expired, now),
             QString::number(max));
    const QSqlDatabase db = connection();
    {
        OpsQuery q(db, dialect(), "hitRateLimit");
        q.prepare(sql)
            .bind(QStringLiteral(":id"), Crypto::randomId())
            .bind(QStringLiteral(":key"), key)
            .exec();
        if (q.next())
            return RateLimitHit{true, q.value(0).toLongLong(), q.value(1).toLongLong()};
    }
    // The counter is full: nothing was written. Read it for the Retry-After answer.
    OpsQuery q(db, dialect(), "hitRateLimit");
    q.prepare(QStringLiteral("SELECT \"count\", \"lastRequest\" FROM \"rateLimit\" WHERE \"key\" = :key"))
        .bind(QStringLiteral(":key"), key)
        .exec();
    if (!q.next())
        return RateLimitHit{false, max, nowMs};
    return RateLimitHit{false, q.value(0).toLongLong(), q.value(1).toLongLong()};
}

int SqlStore::deleteRateLimitsBefore(qint64 cutoffMs)
{
    OpsQuery q(connection(), dialect(), "deleteRateLimitsBefore");
    q.prepare(QStringLiteral("DELETE FROM \"rateLimit\" WHERE \"lastRequest\" < :cutoff"))
        .bind(QStringLiteral(":cutoff"), cutoffMs)
        .exec();
    return qMax(0, q.rowsAffected());
}

// ---------------------------------------------------------------------------------------
// prune-anonymous

namespace {

QString inactiveAnonymousSql(const SqlDialect &d, int limit)
{
    QString sql = QStringLiteral(
        "SELECT u.\"id\" FROM \"user\" u WHERE u.\"isAnonymous\" = %1 AND "
        "COALESCE((SELECT MAX(s.\"updatedAt\") FROM \"session\" s WHERE s.\"userId\" = u.\"id\"), "
        "u.\"updatedAt\") < :cutoff ORDER BY u.\"id\"").arg(d.booleanLiteral(true));
    if (limit > 0)
        sql += QStringLiteral(" LIMIT %1").arg(limit);
    return sql;
}

QStringList selectIds(const QSqlDatabase &db, const SqlDialect &d, const QDateTime &cutoff, int limit)
{
    OpsQuery q(db, d, "inactiveAnonymousUsers");
    q.prepare(inactiveAnonymousSql(d, limit))
        .bind(QStringLiteral(":cutoff"), qint64(cutoff.toMSecsSinceEpoch()))
        .exec();
    QStringList ids;
    while (q.next())
        ids.append(q.value(0).toString());
    return ids;
}

} // namespace

QStringList SqlStore::inactiveAnonymousUsers(const QDateTime &cutoff)
{
    return selectIds(connection(), dialect(), cutoff, 0);
}

int SqlStore::pruneAnonymousUsers(const QDateTime &cutoff)
{
    // Sync tables belong to another unit and may be absent (older builds): look first.
    QStringList syncTables;
    {
        const QSqlDatabase db = connection();
        for (const char *table : {"sync_record", "sync_client", "sync_user_version"}) {
            OpsQuery q(db, dialect(), "pruneAnonymousUsers");
            q.prepare(dialect().tableExistsQuery()).bind(QStringLiteral(":name"), QString::fromLatin1(table)).exec();
            if (q.next())
                syncTables << QString::fromLatin1(table);
        }
    }

    int total = 0;
    for (;;) {
        int batch = 0;
        for (int attempt = 1;; ++attempt) {
            t_retryable = false;
            try {
                transaction([&] {
                    const QSqlDatabase db = connection();
                    // Re-evaluated inside the transaction: a guest active a moment ago stays.
                    const QStringList ids = selectIds(db, dialect(), cutoff, kPruneBatch);
                    for (const QString &id : ids) {
                        for (const QString &table : std::as_const(syncTables)) {
                            OpsQuery(db, dialect(), "pruneAnonymousUsers")
                                .prepare(QStringLiteral("DELETE FROM \"%1\" WHERE \"userId\" = :id").arg(table))
                                .bind(QStringLiteral(":id"), id)
                                .exec();
                        }
                        deleteUser(id);   // sessions, accounts, passkeys, the user row
                    }
                    batch = int(ids.size());
                });
                break;
            } catch (const StoreError &) {
                if (!t_retryable || attempt >= kPruneAttempts)
                    throw;
                QThread::msleep(5 * attempt);
            }
        }
        total += batch;
        if (batch < kPruneBatch)
            return total;
    }
}

} // namespace Kernia::Server
