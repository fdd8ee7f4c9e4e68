// The config file's "rate_limit" object (docs/operations.md):
//
//   "rate_limit": {
//     "enabled": true, "window": 10, "max": 100,
//     "ip_address_headers": ["x-forwarded-for"],
//     "anonymous_sign_ins_per_hour": 30,
//     "custom_rules": { "/sign-in/email": {"window": 60, "max": 5}, "/get-session": false }
//   }
#pragma once

#include "ratelimit/rate_limit_options.h"

#include <QJsonObject>

namespace Kernia::Server {

// Applies the keys present in `object` onto `options`; false + message on unknown keys or
// wrong types. `where` names the file for messages.
bool applyRateLimitJson(const QJsonObject &object, const QString &where, RateLimitOptions &options, QString *error);

// Range checks (window 1..86400 s, max 1..1000000000, custom paths start with '/',
// anonymous cap 0..1000000); false + message.
bool validateRateLimitOptions(const RateLimitOptions &options, QString *error);

} // namespace Kernia::Server
