// Better Auth's rate limiter (protocol README §8, transcript 15) as one pipeline stage,
// with the counters in the database so every server process sharing it sees the same
// numbers.
//
//   auto limiter = std::make_shared<RateLimiter>(RateLimitOptions{}, store);
//   auth.setRateLimiter(limiter);          // AuthServer::handle calls check() first
//
//   if (std::optional<Response> refused = limiter->check(request, path, router.routeOf(path), plugins))
//       return *refused;                   // 429 + X-Retry-After
//
// Key = client address + path. Requests to a path no endpoint serves (with any method) share
// one counter per address instead, key "unknown-path|<address>", under the default rule
// (unless a custom rule switches the path off): a scan is limited like any client, but adds
// one row per address, not one per path. A parameterised endpoint keeps one counter for all
// its parameters ("<address>/reset-password/*"). Rule for a path, last match wins: the
// default (10 s / 100),
// Better Auth's special rules (/sign-in*, /sign-up*, /change-password*, /change-email*:
// 10 s / 3; /request-password-reset, /send-verification-email, /forget-password*: 60 s / 3),
// the first plugin rule that matches (magic link: 60 s / 5), then the operator's custom
// rules. Every request counts, failed ones included. Like Better Auth, the window slides:
// a counter starts over once `window` seconds passed since the last counted request.
//
// Kernia adds a cap on POST /sign-in/anonymous per client address and hour (fixed window
// from the first sign-in): 429 TOO_MANY_ANONYMOUS_SIGN_INS.
//
// Stale counters are swept by removeStaleCounters(), which the server's housekeeping calls
// (ops/maintenance.h runHousekeeping: at start-up, then about once a minute, off the
// request path; an application embedding AuthServer runs it on its own timer), each by
// its own kind of window: path counters once older than twice the longest window a path
// rule has (default, Better Auth's 60 s rules, plugin and custom rules), the anonymous
// cap's once older than two hours.
//
// Client address: the first valid address in the configured headers (default
// x-forwarded-for; first entry of a list), else the socket's peer address. Better Auth
// puts all clients without such a header in one bucket; Kernia uses the peer instead.
// IPv4-mapped IPv6 addresses count as IPv4; IPv6 clients are bucketed by /64.
//
// A database failure lets the request through (logged): the limiter must not take the
// whole service down with it.
#pragma once

#include "http/request.h"
#include "http/response.h"
#include "ratelimit/rate_limit_options.h"
#include "ratelimit/rate_limit_rule.h"

#include <QList>
#include <QLoggingCategory>
#include <QRegularExpression>
#include <functional>
#include <memory>
#include <optional>

Q_DECLARE_LOGGING_CATEGORY(lcRateLimit)

namespace Kernia::Server {

class Plugin;
class Store;

class RateLimiter
{
public:
    RateLimiter(RateLimitOptions options, std::shared_ptr<Store> store);

    // Counts the request and returns the 429 answer when it is over a limit, or nullopt.
    // `path` is relative to the base path (/sign-in/email); other mounts pass their full
    // path (/api/sync/push) and get the default rule. `route` is the endpoint route `path`
    // belongs to (Router::routeOf, mounts prefixed the same way): `path` itself, a prefix
    // route ("/reset-password/"), or null for an unknown path.
    std::optional<Response> check(const Request &request, const QString &path, const QString &route,
                                  const QList<Plugin *> &plugins = {});

    struct Limit
    {
        bool limited = true;       // false: a custom rule switched this path off
        int windowSeconds = 10;
        int max = 100;
    };
    Limit limitFor(const QString &path, const QList<Plugin *> &plugins = {}) const;

    const RateLimitOptions &options() const { return m_options; }

    // Deletes the counters that can only start over (see above), by this limiter's clock;
    // returns how many. `plugins` give their rules' windows (AuthServer::plugins()). For the
    // housekeeping (ops/maintenance.h), not the request path. Throws StoreError.
    int removeStaleCounters(const QList<Plugin *> &plugins = {});

    // Milliseconds since the epoch; tests move time by replacing it.
    void setClock(std::function<qint64()> nowMs) { m_now = std::move(nowMs); }

    // Better Auth's built-in special rules.
    static QList<RateLimitRule> specialRules();
    // The client's address (see above); the peer address verbatim when nothing parses.
    static QString clientAddress(const Request &request, const QStringList &headers);
    // The address a counter is kept for: IPv6 reduced to its /64 ("2001:db8:1:2::/64").
    static QString bucketAddress(const QString &clientAddress);
    // '*' matches within one path segment, '**' across segments; everything else literally.
    static bool wildcardMatch(const QString &pattern, const QString &path);

    static constexpr const char *kUnknownPathKeyPrefix = "unknown-path|";
    static constexpr const char *kAnonymousKeyPrefix = "anonymous-sign-in|";
    static constexpr const char *kTooManyRequestsMessage = "Too many requests. Please try again later.";
    static constexpr const char *kAnonymousCapCode = "TOO_MANY_ANONYMOUS_SIGN_INS";
    static constexpr const char *kAnonymousCapMessage =
        "Too many anonymous sign-ins from this address. Please try again later.";

private:
    // The longest window of any rule a path can get, in ms.
    qint64 longestPathWindowMs(const QList<Plugin *> &plugins) const;

    RateLimitOptions m_options;
    QList<QRegularExpression> m_customPatterns;   // one per custom rule, same order
    std::shared_ptr<Store> m_store;
    std::function<qint64()> m_now;
};

} // namespace Kernia::Server
