#include "sync_endpoints.h"

#include "auth/endpoint_context.h"
#include "auth/router.h"
#include "http/response.h"
#include "store/store.h"

#include <QJsonArray>
#include <QRegularExpression>

namespace Kernia::Server {

namespace {

[[noreturn]] void rethrowAsApiError(const SyncError &error)
{
    throw ApiError(400, error.code(), error.message());
}

// A query parameter that must be a plain decimal number; `fallback` when absent.
std::optional<qint64> queryNumber(const QUrlQuery &query, const QString &name, qint64 fallback)
{
    if (!query.hasQueryItem(name))
        return fallback;
    static const QRegularExpression digits(QStringLiteral("^[0-9]{1,15}$"));
    const QString text = query.queryItemValue(name, QUrl::FullyDecoded);
    if (!digits.match(text).hasMatch() || query.allQueryItemValues(name).size() != 1)
        return std::nullopt;
    return text.toLongLong();
}

} // namespace

SyncPlugin::SyncPlugin(std::shared_ptr<const SyncService> service)
    : m_service(std::move(service))
{
}

void SyncPlugin::registerEndpoints(Router &router)
{
    const QString &mount = m_service->options().mountPath;
    router.addMounted(mount, {"POST", QStringLiteral("/push"), Endpoint::Body::Required, false, false,
                              [this](EndpointContext &context) { return push(context); }});
    router.addMounted(mount, {"GET", QStringLiteral("/pull"), Endpoint::Body::Ignored, false, false,
                              [this](EndpointContext &context) { return pull(context); }});
}

Response SyncPlugin::push(EndpointContext &context)
{
    const SessionWithUser caller = context.requireSession();
    SyncPushResult result;
    try {
        const SyncPush push = m_service->parsePush(context.body);
        result = m_service->push(context.store(), caller.user.id, push);
    } catch (const SyncError &error) {
        rethrowAsApiError(error);
    }
    Response response = Response::json(QJsonObject{
        {QStringLiteral("applied"), result.applied},
        {QStringLiteral("skipped"), result.skipped},
        {QStringLiteral("lastMid"), result.lastMid},
        {QStringLiteral("version"), result.version},
    });
    response.setHeader("cache-control", "no-store");
    return response;
}

Response SyncPlugin::pull(EndpointContext &context)
{
    const SessionWithUser caller = context.requireSession();
    const QUrlQuery &query = context.request().query;
    const SyncOptions &options = m_service->options();
    const std::optional<qint64> since = queryNumber(query, QStringLiteral("since"), 0);
    if (!since)
        throw ApiError(400, SyncErrors::INVALID_SINCE);
    const std::optional<qint64> limit = queryNumber(query, QStringLiteral("limit"), options.defaultPullLimit);
    if (!limit || *limit < 1 || *limit > options.maxPullLimit) {
        throw ApiError(400, QString::fromLatin1(SyncErrors::INVALID_LIMIT.code),
                       QStringLiteral("limit must be an integer between 1 and %1").arg(options.maxPullLimit));
    }
    SyncPullResult result;
    try {
        result = m_service->pull(context.store(), caller.user.id, *since, int(*limit));
    } catch (const SyncError &error) {
        rethrowAsApiError(error);
    }
    QJsonArray changes;
    for (const SyncRecord &record : std::as_const(result.changes))
        changes.append(SyncService::changeJson(record));
    Response response = Response::json(QJsonObject{
        {QStringLiteral("changes"), changes},
        {QStringLiteral("version"), result.version},
        {QStringLiteral("more"), result.more},
    });
    response.setHeader("cache-control", "no-store");
    return response;
}

OnLinkFunction syncOnLink(std::shared_ptr<const SyncService> service, OnLinkFunction next)
{
    return [service = std::move(service), next = std::move(next)](const AnonymousLink &link, QString *errorMessage) {
        const User &guest = link.anonymous.user;
        const User &account = link.newUser.user;
        if (guest.id != account.id && !account.isAnonymous) {
            try {
                const SyncLinkResult moved = service->linkGuest(link.store, guest.id, account.id);
                // Once the sign-in has committed: not for an attempt rolled back or run again.
                link.store.afterCommit([guestId = guest.id, accountId = account.id, moved] {
                    qCInfo(lcSync).nospace() << "guest " << guestId << " -> " << accountId << ": " << moved.moved
                                             << " moved, " << moved.merged << " merged, " << moved.keptAccount
                                             << " kept, " << moved.tombstones << " tombstones, " << moved.dropped
                                             << " dropped, " << moved.conflicts << " conflicts, " << moved.clients
                                             << " client marks";
                });
            } catch (const std::exception &error) {
                if (errorMessage)
                    *errorMessage = QStringLiteral("moving the guest's synced records failed: %1")
                                        .arg(QString::fromUtf8(error.what()));
                return false;
            }
        }
        if (!next)
            return true;
        if (!next(link, errorMessage))
            return false;
        // What runs after the merge (the operator's on_link SQL) may have changed the
        // account's records: the quota must see them (links are rare). An account that
        // never synced has no usage to count.
        try {
            link.store.recountSyncUserBytes(account.id);
        } catch (const std::exception &error) {
            if (errorMessage)
                *errorMessage = QStringLiteral("counting the account's synced data failed: %1").arg(QString::fromUtf8(error.what()));
            return false;
        }
        return true;
    };
}

} // namespace Kernia::Server
