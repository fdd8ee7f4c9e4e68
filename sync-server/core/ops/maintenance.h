// kernia-server's maintenance commands as plain functions (app/main.cpp runs them; the
// unit tests call them directly):
//
//   kernia-server migrate                                  applyMigrations()
//   kernia-server prune-anonymous --older-than 30d [--dry-run]   pruneAnonymous()
//
// and the housekeeping a running server does on its own, runHousekeeping(): at start-up
// and then every kHousekeepingIntervalMs, on a timer of kernia-server's main thread, so no
// request waits for it (this is also where stale rate-limit counters go, not on a
// request). An application that embeds AuthServer calls it on a timer too, and sooner
// (kHousekeepingFollowUpMs) after a pass that reports moreLeft.
#pragma once

#include <QDateTime>
#include <QString>
#include <QStringList>
#include <optional>

namespace Kernia::Server {

class AuthServer;
class SqlStore;

// "90s", "90m", "12h", "30d", "2w" (a bare number is seconds) → seconds; nullopt when the
// text is not such a duration or is not positive.
std::optional<qint64> parseDurationSeconds(const QString &text);

// Applies pending migrations; returns one line per migration applied, "<id> (<label>)".
QStringList applyMigrations(SqlStore &store);

struct PruneResult
{
    QDateTime cutoff;
    int users = 0;         // deleted, or that would be deleted with dryRun
};
// Migrates first (the tables must exist), then deletes anonymous users inactive since
// now - olderThanSeconds (Store::pruneAnonymousUsers), or only counts them with dryRun.
PruneResult pruneAnonymous(SqlStore &store, qint64 olderThanSeconds, bool dryRun,
                           const QDateTime &now = QDateTime::currentDateTimeUtc());

inline constexpr int kHousekeepingIntervalMs = 60 * 1000;
// After a pass that stopped at its bound: soon, but with the event loop (signals, timers)
// getting its turn in between.
inline constexpr int kHousekeepingFollowUpMs = 1000;
// Expired verification rows one pass deletes at most: 20 of SqlStore's batches of 1,000.
// A pass runs on kernia-server's main thread, which also handles SIGTERM, so it must stay
// short however large the backlog: 20 batches took 0.1-0.2 s (SQLite and PostgreSQL, test
// machine), and a backlog still drains at ~20,000 rows per kHousekeepingFollowUpMs.
inline constexpr int kHousekeepingMaxVerificationRows = 20 * 1000;

struct HousekeepingResult
{
    int expiredVerifications = 0;   // verification rows deleted (expired before `now`)
    int staleRateLimitCounters = 0; // rateLimit rows deleted (RateLimiter::removeStaleCounters)
    bool moreLeft = false;          // stopped at a bound: run the next pass soon
};
// Deletes what nobody will use again:
// - verification rows that expired unconsumed (a passkey challenge is stored for every
//   unauthenticated GET /passkey/generate-authenticate-options, a reset or magic link for
//   every request), at most kHousekeepingMaxVerificationRows a pass. Better Auth deletes
//   them on lookups; once a minute costs less.
// - when `auth` has a rate limiter, its stale counters (by the limiter's own clock and the
//   windows of auth's plugins' rules).
// Throws StoreError.
HousekeepingResult runHousekeeping(AuthServer &auth, const QDateTime &now = QDateTime::currentDateTimeUtc());

} // namespace Kernia::Server
