// SqlStore: rate-limit counters, expired verification rows and operator maintenance
// (prune-anonymous). Kept apart from
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

using SqlDetail::Connection;
using SqlDetail::execEachWithId;
using SqlDetail::Query;

namespace {

constexpr int kPruneBatch = 200;
constexpr int kPruneAttempts = 10;

} // namespace

// ---------------------------------------------------------------------------------------
// Rate limiting

RateLimitHit SqlStore::hitRateLimit(const QString &key, qint64 nowMs, qint64 windowMs, qint64 max, bool sliding)
{
    // One statement text per window kind, values bound: prepared once per connection
    // (on PostgreSQL a fresh text per call was PREPARE + EXECUTE + DEALLOCATE, three round
    // trips on every rate-limited request). The CASTs type the parameters for PostgreSQL.
    static const QString expired = QStringLiteral(
        "CAST(:now AS BIGINT) - \"rateLimit\".\"lastRequest\" >= CAST(:window AS BIGINT)");
    static const auto statement = [](const QString &newLastRequest) {
        return QStringLiteral(
            "INSERT INTO \"rateLimit\" (\"id\", \"key\", \"count\", \"lastRequest\") "
            "VALUES (:id, :key, 1, CAST(:now AS BIGINT)) "
            "ON CONFLICT (\"key\") DO UPDATE SET "
            "\"count\" = CASE WHEN %1 THEN 1 ELSE \"rateLimit\".\"count\" + 1 END, "
            "\"lastRequest\" = %2 "
            "WHERE %1 OR \"rateLimit\".\"count\" < CAST(:max AS BIGINT) "
            "RETURNING \"count\", \"lastRequest\"").arg(expired, newLastRequest);
    };
    // Sliding: every allowed request moves the window; fixed: only a new window does.
    static const QString slidingSql = statement(QStringLiteral("CAST(:now AS BIGINT)"));
    static const QString fixedSql = statement(
        QStringLiteral("CASE WHEN %1 THEN CAST(:now AS BIGINT) ELSE \"rateLimit\".\"lastRequest\" END").arg(expired));
    const Connection db = connection();
    {
        Query q(db, dialect(), QStringLiteral("hitRateLimit"));
        q.prepare(sliding ? slidingSql : fixedSql)
            .bind(QStringLiteral(":id"), Crypto::sortableId())
            .bind(QStringLiteral(":key"), key)
            .bind(QStringLiteral(":now"), nowMs)
            .bind(QStringLiteral(":window"), windowMs)
            .bind(QStringLiteral(":max"), max)
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

int SqlStore::deleteRateLimitsBefore(qint64 cutoffMs, const QString &exceptKeyPrefix)
{
    Query q(connection(), dialect(), QStringLiteral("deleteRateLimitsBefore"));
    if (exceptKeyPrefix.isEmpty()) {
        q.prepare(QStringLiteral("DELETE FROM \"rateLimit\" WHERE \"lastRequest\" < :cutoff"))
            .bind(QStringLiteral(":cutoff"), cutoffMs)
            .exec();
    } else {
        // substr, not LIKE: the prefix is matched literally, whatever characters it has.
        q.prepare(QStringLiteral("DELETE FROM \"rateLimit\" WHERE \"lastRequest\" < :cutoff "
                                 "AND substr(\"key\", 1, CAST(:length AS INTEGER)) <> :prefix"))
            .bind(QStringLiteral(":cutoff"), cutoffMs)
            .bind(QStringLiteral(":length"), qint64(exceptKeyPrefix.size()))
            .bind(QStringLiteral(":prefix"), exceptKeyPrefix)
            .exec();
    }
    return qMax(0, q.rowsAffected());
}

// ---------------------------------------------------------------------------------------
// Expired verification rows

int SqlStore::deleteExpiredVerifications(const QDateTime &now, int maxRows)
{
    // A batch per transaction: a backlog (a server that never swept, a flood of passkey
    // challenges) holds SQLite's write lock, or PostgreSQL's row locks, a batch at a time.
    static const QString sql = QStringLiteral(
        "DELETE FROM \"verification\" WHERE \"id\" IN (SELECT \"id\" FROM \"verification\" "
        "WHERE \"expiresAt\" < :now LIMIT :limit)");
    int total = 0;
    while (total < maxRows) {
        const int limit = qMin(kExpiredVerificationBatch, maxRows - total);
        int deleted = 0;
        transaction([&] {
            Query q(connection(), dialect(), QStringLiteral("deleteExpiredVerifications"));
            q.prepare(sql)
                .bind(QStringLiteral(":now"), qint64(now.toMSecsSinceEpoch()))
                .bind(QStringLiteral(":limit"), qint64(limit))
                .exec();
            deleted = qMax(0, q.rowsAffected());
        });
        total += deleted;
        if (deleted < limit)
            break;
    }
    return total;
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

QStringList selectIds(const Connection &db, const SqlDialect &d, const QDateTime &cutoff, int limit)
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
    QStringList syncDeletes;
    {
        const Connection db = connection();
        for (const char *table : {"sync_record", "sync_client", "sync_user_version"}) {
            Query q(db, dialect(), QStringLiteral("pruneAnonymousUsers"));
            q.prepare(dialect().tableExistsQuery()).bind(QStringLiteral(":name"), QString::fromLatin1(table)).exec();
            if (q.next())
                syncDeletes << QStringLiteral("DELETE FROM \"%1\" WHERE \"userId\" = :id").arg(QLatin1String(table));
        }
    }

    int total = 0;
    for (;;) {
        int batch = 0;
        for (int attempt = 1;; ++attempt) {
            try {
                transaction([&] {
                    const Connection db = connection();
                    // Re-evaluated inside the transaction: a guest active a moment ago stays.
                    const QStringList ids = selectIds(db, dialect(), cutoff, kPruneBatch);
                    for (const QString &id : ids) {
                        execEachWithId(db, dialect(), syncDeletes, id, QStringLiteral("pruneAnonymousUsers"));
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
