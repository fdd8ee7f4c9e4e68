// Settings of the rate limiter (core/ratelimit/rate_limiter.h). Defaults are Better
// Auth's (protocol README §8) plus Kernia's cap on anonymous sign-ins; docs/operations.md
// describes every field and its config-file key.
#pragma once

#include <QList>
#include <QString>
#include <QStringList>

namespace Kernia::Server {

struct RateLimitOptions
{
    bool enabled = true;           // --no-rate-limit turns every limit off (tests, benchmarks)
    int windowSeconds = 10;        // default rule: `max` requests per `windowSeconds`
    int max = 100;
    // Request headers holding the client address, first usable one wins (Better Auth's
    // advanced.ipAddress.ipAddressHeaders). Empty: only the socket's peer address counts.
    QStringList ipAddressHeaders{QStringLiteral("x-forwarded-for")};

    // Better Auth's customRules: exact path (relative to /api/auth) or a pattern with '*'
    // (one path segment) / '**' (anything). They win over every built-in rule.
    struct CustomRule
    {
        QString path;
        bool disabled = false;     // `false` in the config file: no limit on this path
        int windowSeconds = 10;
        int max = 100;
    };
    QList<CustomRule> customRules;

    // Kernia's own: POST /sign-in/anonymous per client address and hour (fixed window).
    // 0 = no cap.
    int anonymousSignInsPerHour = 30;
};

} // namespace Kernia::Server
