// One rate-limit rule: the paths it covers and how many requests per window it allows.
// Plugins declare theirs with Plugin::rateLimitRules() (Better Auth's plugin `rateLimit`).
#pragma once

#include <QString>
#include <functional>

namespace Kernia::Server {

struct RateLimitRule
{
    std::function<bool(const QString &path)> matches;   // path relative to /api/auth
    int windowSeconds = 10;
    int max = 100;
};

} // namespace Kernia::Server
