#include "maintenance.h"

#include "auth/auth_server.h"
#include "ratelimit/rate_limiter.h"
#include "store/migrations.h"
#include "store/sql_store.h"

#include <QRegularExpression>
#include <QSet>

namespace Kernia::Server {

std::optional<qint64> parseDurationSeconds(const QString &text)
{
    static const QRegularExpression re(QStringLiteral("^\\s*(\\d{1,9})\\s*([smhdw]?)\\s*$"));
    const QRegularExpressionMatch match = re.match(text);
    if (!match.hasMatch())
        return std::nullopt;
    const qint64 amount = match.captured(1).toLongLong();
    static const QHash<QString, qint64> unit = {
        {QString(), 1}, {QStringLiteral("s"), 1}, {QStringLiteral("m"), 60}, {QStringLiteral("h"), 3600},
        {QStringLiteral("d"), 86400}, {QStringLiteral("w"), 7 * 86400}};
    const qint64 seconds = amount * unit.value(match.captured(2));
    if (seconds <= 0)
        return std::nullopt;
    return seconds;
}

QStringList applyMigrations(SqlStore &store)
{
    const QStringList before = store.appliedMigrations();
    store.migrate();
    const QStringList after = store.appliedMigrations();
    const QSet<QString> known(before.cbegin(), before.cend());
    QStringList applied;
    for (const Migration &m : schemaMigrations(store.dialect())) {
        if (!known.contains(m.id) && after.contains(m.id))
            applied << QStringLiteral("%1 (%2)").arg(m.id, m.plugin);
    }
    return applied;
}

PruneResult pruneAnonymous(SqlStore &store, qint64 olderThanSeconds, bool dryRun, const QDateTime &now)
{
    store.migrate();
    PruneResult result;
    result.cutoff = now.toUTC().addSecs(-olderThanSeconds);
    result.users = dryRun ? int(store.inactiveAnonymousUsers(result.cutoff).size())
                          : store.pruneAnonymousUsers(result.cutoff);
    return result;
}

HousekeepingResult runHousekeeping(AuthServer &auth, const QDateTime &now)
{
    HousekeepingResult result;
    result.expiredVerifications =
        auth.store().deleteExpiredVerifications(now.toUTC(), kHousekeepingMaxVerificationRows);
    result.moreLeft = result.expiredVerifications >= kHousekeepingMaxVerificationRows;
    if (RateLimiter *limiter = auth.rateLimiter())
        result.staleRateLimitCounters = limiter->removeStaleCounters(auth.plugins());
    return result;
}

} // namespace Kernia::Server
