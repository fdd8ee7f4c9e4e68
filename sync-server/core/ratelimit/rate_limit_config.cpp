#include "rate_limit_config.h"

#include <QJsonArray>

namespace Kernia::Server {

namespace {

bool readInt(const QJsonObject &object, const char *key, const QString &where, int *out, QString *error)
{
    const QJsonValue value = object.value(QLatin1String(key));
    if (value.isUndefined())
        return true;
    if (!value.isDouble() || value.toDouble() != double(qint64(value.toDouble()))) {
        *error = QStringLiteral("%1 must be a whole number in %2").arg(QLatin1String(key), where);
        return false;
    }
    const double number = value.toDouble();
    if (number < -2147483648.0 || number > 2147483647.0) {
        *error = QStringLiteral("%1 is out of range in %2").arg(QLatin1String(key), where);
        return false;
    }
    *out = int(number);
    return true;
}

} // namespace

bool applyRateLimitJson(const QJsonObject &object, const QString &where, RateLimitOptions &options, QString *error)
{
    static const QStringList keys = {QStringLiteral("enabled"), QStringLiteral("window"), QStringLiteral("max"),
                                     QStringLiteral("ip_address_headers"), QStringLiteral("custom_rules"),
                                     QStringLiteral("anonymous_sign_ins_per_hour")};
    for (const QString &key : object.keys()) {
        if (!keys.contains(key)) {
            *error = QStringLiteral("unknown key \"rate_limit.%1\" in config file %2").arg(key, where);
            return false;
        }
    }
    const QString context = QStringLiteral("rate_limit of config file %1").arg(where);
    if (object.contains(QStringLiteral("enabled"))) {
        if (!object.value(QStringLiteral("enabled")).isBool()) {
            *error = QStringLiteral("enabled must be true or false in %1").arg(context);
            return false;
        }
        options.enabled = object.value(QStringLiteral("enabled")).toBool();
    }
    if (!readInt(object, "window", context, &options.windowSeconds, error)
        || !readInt(object, "max", context, &options.max, error)
        || !readInt(object, "anonymous_sign_ins_per_hour", context, &options.anonymousSignInsPerHour, error))
        return false;
    if (object.contains(QStringLiteral("ip_address_headers"))) {
        const QJsonValue headers = object.value(QStringLiteral("ip_address_headers"));
        if (!headers.isArray()) {
            *error = QStringLiteral("ip_address_headers must be an array of header names in %1").arg(context);
            return false;
        }
        options.ipAddressHeaders.clear();
        for (const QJsonValue &header : headers.toArray()) {
            if (!header.isString() || header.toString().trimmed().isEmpty()) {
                *error = QStringLiteral("ip_address_headers must be an array of header names in %1").arg(context);
                return false;
            }
            options.ipAddressHeaders << header.toString().trimmed().toLower();
        }
    }
    const QJsonValue custom = object.value(QStringLiteral("custom_rules"));
    if (!custom.isUndefined() && !custom.isObject()) {
        *error = QStringLiteral("custom_rules must be an object {\"/path\": {\"window\": S, \"max\": N} or false} in %1")
                     .arg(context);
        return false;
    }
    const QJsonObject rules = custom.toObject();
    for (auto it = rules.constBegin(); it != rules.constEnd(); ++it) {
        RateLimitOptions::CustomRule rule;
        rule.path = it.key();
        rule.windowSeconds = options.windowSeconds;
        rule.max = options.max;
        if (it.value().isBool() && !it.value().toBool()) {
            rule.disabled = true;
        } else if (it.value().isObject()) {
            const QJsonObject limits = it.value().toObject();
            for (const QString &key : limits.keys()) {
                if (key != QLatin1String("window") && key != QLatin1String("max")) {
                    *error = QStringLiteral("unknown key \"%1\" in custom rule \"%2\" of %3").arg(key, rule.path, context);
                    return false;
                }
            }
            const QString ruleContext = QStringLiteral("custom rule \"%1\" of %2").arg(rule.path, context);
            if (!readInt(limits, "window", ruleContext, &rule.windowSeconds, error)
                || !readInt(limits, "max", ruleContext, &rule.max, error))
                return false;
        } else {
            *error = QStringLiteral("custom rule \"%1\" must be {\"window\": S, \"max\": N} or false in %2")
                         .arg(rule.path, context);
            return false;
        }
        options.customRules.append(rule);
    }
    return true;
}

bool validateRateLimitOptions(const RateLimitOptions &options, QString *error)
{
    auto window = [&](int seconds, const QString &what) {
        if (seconds >= 1 && seconds <= 86400)
            return true;
        *error = QStringLiteral("%1: the window must be between 1 and 86400 seconds, got %2").arg(what).arg(seconds);
        return false;
    };
    auto max = [&](int count, const QString &what) {
        if (count >= 1 && count <= 1000000000)
            return true;
        *error = QStringLiteral("%1: max must be between 1 and 1000000000, got %2").arg(what).arg(count);
        return false;
    };
    if (!window(options.windowSeconds, QStringLiteral("rate limit")) || !max(options.max, QStringLiteral("rate limit")))
        return false;
    for (const RateLimitOptions::CustomRule &rule : options.customRules) {
        const QString what = QStringLiteral("rate-limit rule \"%1\"").arg(rule.path);
        if (!rule.path.startsWith(QLatin1Char('/'))) {
            *error = QStringLiteral("%1: the path must start with '/' (paths are relative to /api/auth)").arg(what);
            return false;
        }
        if (!rule.disabled && (!window(rule.windowSeconds, what) || !max(rule.max, what)))
            return false;
    }
    if (options.anonymousSignInsPerHour < 0 || options.anonymousSignInsPerHour > 1000000) {
        *error = QStringLiteral("the anonymous sign-in cap must be between 0 (no cap) and 1000000 per hour, got %1")
                     .arg(options.anonymousSignInsPerHour);
        return false;
    }
    return true;
}

} // namespace Kernia::Server
