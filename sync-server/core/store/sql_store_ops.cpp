// SqlStore: rate-limit counters and operator maintenance (prune-anonymous). Kept apart from
// sql_store.cpp so these statements read as one unit; same conventions (quoted
// identifiers, ms-since-epoch timestamps, every query finished before the next write).
#include "sql_store.h"

#include "crypto/crypto.h"
#include "sql_query.h"

#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QThread>

namespace Kernia::Server {

using SqlDetail::Query;

namespace {

constexpr int kPruneBatch = 200;
constexpr int kPruneAttempts = 10;

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
        Query q(db, dialect(), QStringLiteral("hitRateLimit"));
        q.prepareUncached(sql)   // the numbers are in the text: not worth caching
            .bind(QStringLiteral(":id"), Crypto::sortableId())
            .bind(QStringLiteral(":key"), key)
            .exec();
        if (q.next())
            return RateLimitHit{true, q.value(0).toLongLong(), q.value(1).toLongLong()};
    }
    // The counter is full: nothing was written. Read it for the Retry-After answer.
    Query q(db, dialect(), QStringLiteral("hitRateLimit"));
    q.prepare(QStringLiteral("SELECT \"count\", \"lastRequest\" FROM \"rateLimit\" WHERE \"key\" = :key"))
        .bind(QStringLiteral(":key"), key)
        .exec();
    if (!q.next())
        return RateLimitHit{false, max, nowMs};
    return RateLimitHit{false, q.value(0).toLongLong(), q.value(1).toLongLong()};
}

int SqlStore::deleteRateLimitsBefore(qint64 cutoffMs)
{
    Query q(connection(), dialect(), QStringLiteral("deleteRateLimitsBefore"));
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
    Query q(db, d, QStringLiteral("inactiveAnonymousUsers"));
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
            Query q(db, dialect(), QStringLiteral("pruneAnonymousUsers"));
            q.prepare(dialect().tableExistsQuery()).bind(QStringLiteral(":name"), QString::fromLatin1(table)).exec();
            if (q.next())
                syncTables << QString::fromLatin1(table);
        }
    }

    int total = 0;
    for (;;) {
        int batch = 0;
        for (int attempt = 1;; ++attempt) {
            try {
                transaction([&] {
                    const QSqlDatabase db = connection();
                    // Re-evaluated inside the transaction: a guest active a moment ago stays.
                    const QStringList ids = selectIds(db, dialect(), cutoff, kPruneBatch);
                    for (const QString &id : ids) {
                        for (const QString &table : std::as_const(syncTables)) {
                            Query(db, dialect(), QStringLiteral("pruneAnonymousUsers"))
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
                if (!SqlDetail::threadFailures().retryable || attempt >= kPruneAttempts)
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
