#include "rate_limiter.h"

#include "auth/plugin.h"
#include "store/store.h"

#include <QDateTime>
#include <QHostAddress>
#include <QJsonObject>

Q_LOGGING_CATEGORY(lcRateLimit, "kernia.ratelimit")

namespace Kernia::Server {

namespace {

constexpr qint64 kHourMs = 3600 * 1000;
constexpr int kMaxPathInKey = 512;   // unknown paths count too; keep keys bounded

QRegularExpression compileWildcard(const QString &pattern)
{
    QString regex;
    for (qsizetype i = 0; i < pattern.size(); ++i) {
        if (pattern.at(i) == QLatin1Char('*')) {
            if (i + 1 < pattern.size() && pattern.at(i + 1) == QLatin1Char('*')) {
                regex += QStringLiteral(".*");
                ++i;
            } else {
                regex += QStringLiteral("[^/]*");
            }
        } else {
            regex += QRegularExpression::escape(pattern.at(i));
        }
    }
    return QRegularExpression(QRegularExpression::anchoredPattern(regex));
}

Response tooManyRequests(qint64 retryAfterSeconds, const char *code, const char *message)
{
    QJsonObject body{{QStringLiteral("message"), QString::fromUtf8(message)}};
    if (code)
        body.insert(QStringLiteral("code"), QString::fromLatin1(code));
    Response response = Response::json(body, 429);
    response.setHeader("x-retry-after", QByteArray::number(qMax<qint64>(1, retryAfterSeconds)));
    return response;
}

// Seconds until the counter's window ends, rounded up (Better Auth's getRetryAfter).
qint64 retryAfter(const RateLimitHit &hit, qint64 now, qint64 windowMs)
{
    return (hit.lastRequest + windowMs - now + 999) / 1000;
}

} // namespace

RateLimiter::RateLimiter(RateLimitOptions options, std::shared_ptr<Store> store)
    : m_options(std::move(options)),
      m_store(std::move(store)),
      m_now([] { return QDateTime::currentMSecsSinceEpoch(); })
{
    for (const RateLimitOptions::CustomRule &rule : std::as_const(m_options.customRules))
        m_customPatterns.append(compileWildcard(rule.path));
}

QList<RateLimitRule> RateLimiter::specialRules()
{
    auto startsWithAny = [](std::initializer_list<const char *> prefixes) {
        QStringList list;
        for (const char *prefix : prefixes)
            list << QString::fromLatin1(prefix);
        return [list](const QString &path) {
            for (const QString &prefix : list) {
                if (path.startsWith(prefix))
                    return true;
            }
            return false;
        };
    };
    return {
        {startsWithAny({"/sign-in", "/sign-up", "/change-password", "/change-email"}), 10, 3},
        {[](const QString &path) {
             return path == QLatin1String("/request-password-reset")
                 || path == QLatin1String("/send-verification-email")
                 || path.startsWith(QLatin1String("/forget-password"))
                 || path == QLatin1String("/email-otp/send-verification-otp")
                 || path == QLatin1String("/email-otp/request-password-reset");
         }, 60, 3},
    };
}

RateLimiter::Limit RateLimiter::limitFor(const QString &path, const QList<Plugin *> &plugins) const
{
    Limit limit{true, m_options.windowSeconds, m_options.max};
    for (const RateLimitRule &rule : specialRules()) {
        if (rule.matches(path)) {
            limit.windowSeconds = rule.windowSeconds;
            limit.max = rule.max;
            break;
        }
    }
    bool pluginMatched = false;
    for (const Plugin *plugin : plugins) {
        for (const RateLimitRule &rule : plugin->rateLimitRules()) {
            if (rule.matches && rule.matches(path)) {
                limit.windowSeconds = rule.windowSeconds;
                limit.max = rule.max;
                pluginMatched = true;
                break;
            }
        }
        if (pluginMatched)
            break;
    }
    for (qsizetype i = 0; i < m_options.customRules.size(); ++i) {
        const RateLimitOptions::CustomRule &rule = m_options.customRules.at(i);
        if (rule.path == path || m_customPatterns.at(i).match(path).hasMatch()) {
            if (rule.disabled)
                return Limit{false, 0, 0};
            limit.windowSeconds = rule.windowSeconds;
            limit.max = rule.max;
            break;
        }
    }
    return limit;
}

bool RateLimiter::wildcardMatch(const QString &pattern, const QString &path)
{
    return compileWildcard(pattern).match(path).hasMatch();
}

QString RateLimiter::clientAddress(const Request &request, const QStringList &headers)
{
    auto normalised = [](const QHostAddress &address) {
        bool mapped = false;
        const quint32 v4 = address.toIPv4Address(&mapped);
        if (mapped && address.protocol() == QAbstractSocket::IPv6Protocol)
            return QHostAddress(v4).toString();
        QHostAddress plain(address);
        plain.setScopeId(QString());
        return plain.toString();
    };
    for (const QString &name : headers) {
        const QByteArray value = request.header(name.toLatin1().toLower());
        if (value.isEmpty())
            continue;
        const QString first = QString::fromLatin1(value.split(',').first().trimmed());
        QHostAddress address;
        if (address.setAddress(first))
            return normalised(address);
    }
    QHostAddress peer;
    if (peer.setAddress(request.peerAddress))
        return normalised(peer);
    return request.peerAddress;
}

QString RateLimiter::bucketAddress(const QString &clientAddress)
{
    QHostAddress address;
    if (!address.setAddress(clientAddress) || address.protocol() != QAbstractSocket::IPv6Protocol)
        return clientAddress;
    Q_IPV6ADDR bytes = address.toIPv6Address();
    for (int i = 8; i < 16; ++i)
        bytes[i] = 0;
    return QHostAddress(bytes).toString() + QStringLiteral("/64");
}

std::optional<Response> RateLimiter::check(const Request &request, const QString &path, const QString &route,
                                           const QList<Plugin *> &plugins)
{
    if (!m_options.enabled)
        return std::nullopt;
    const bool unknownPath = route.isNull();
    Limit limit = limitFor(path, plugins);
    if (unknownPath && limit.limited) {
        // One counter per address for every unknown path: one rule for it, the default.
        limit.windowSeconds = m_options.windowSeconds;
        limit.max = m_options.max;
    }
    const bool anonymousSignIn = m_options.anonymousSignInsPerHour > 0 && request.method == "POST"
        && path == QLatin1String("/sign-in/anonymous");
    if (!limit.limited && !anonymousSignIn)
        return std::nullopt;

    const QString address = bucketAddress(clientAddress(request, m_options.ipAddressHeaders));
    const qint64 now = m_now();
    try {
        if (limit.limited) {
            const qint64 windowMs = qint64(limit.windowSeconds) * 1000;
            const QString key = unknownPath ? QLatin1String(kUnknownPathKeyPrefix) + address
                : route.endsWith(QLatin1Char('/')) ? address + route.left(kMaxPathInKey) + QLatin1Char('*')
                                                    : address + path.left(kMaxPathInKey);
            const RateLimitHit hit = m_store->hitRateLimit(key, now, windowMs, limit.max, true);
            if (!hit.allowed) {
                qCInfo(lcRateLimit).noquote() << "limited" << address << path << "max" << limit.max
                                              << "per" << limit.windowSeconds << "s";
                return tooManyRequests(retryAfter(hit, now, windowMs), nullptr, kTooManyRequestsMessage);
            }
        }
        if (anonymousSignIn) {
            const RateLimitHit hit = m_store->hitRateLimit(QLatin1String(kAnonymousKeyPrefix) + address,
                                                           now, kHourMs, m_options.anonymousSignInsPerHour, false);
            if (!hit.allowed) {
                qCInfo(lcRateLimit).noquote() << "anonymous sign-in cap reached for" << address;
                return tooManyRequests(retryAfter(hit, now, kHourMs), kAnonymousCapCode, kAnonymousCapMessage);
            }
        }
    } catch (const StoreError &error) {
        qCWarning(lcRateLimit) << "rate-limit storage failed, letting the request through:" << error.what();
    }
    return std::nullopt;
}

qint64 RateLimiter::longestPathWindowMs(const QList<Plugin *> &plugins) const
{
    int longest = m_options.windowSeconds;
    for (const RateLimitRule &rule : specialRules())
        longest = qMax(longest, rule.windowSeconds);
    for (const Plugin *plugin : plugins) {
        for (const RateLimitRule &rule : plugin->rateLimitRules())
            longest = qMax(longest, rule.windowSeconds);
    }
    for (const RateLimitOptions::CustomRule &rule : std::as_const(m_options.customRules))
        longest = qMax(longest, rule.windowSeconds);
    return qint64(longest) * 1000;
}

int RateLimiter::removeStaleCounters(const QList<Plugin *> &plugins)
{
    // A counter older than its window can only ever start over: drop it, each kind by its
    // own window, twice over (for the clocks of several processes). Path counters (the
    // unknown-path ones included) first, then the anonymous cap's hourly ones.
    const qint64 now = m_now();
    const qint64 pathWindow = longestPathWindowMs(plugins);
    const int paths = m_store->deleteRateLimitsBefore(now - 2 * pathWindow, QLatin1String(kAnonymousKeyPrefix));
    const int hourly = m_store->deleteRateLimitsBefore(now - 2 * qMax(pathWindow, kHourMs));
    return paths + hourly;
}

} // namespace Kernia::Server
