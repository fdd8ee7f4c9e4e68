#include "merge_policy.h"

namespace Kernia::Server {

std::optional<MergePolicy> parseMergePolicy(const QString &name)
{
    if (name == QLatin1String("merge-fields"))
        return MergePolicy::MergeFields;
    if (name == QLatin1String("keep-account"))
        return MergePolicy::KeepAccount;
    if (name == QLatin1String("keep-guest"))
        return MergePolicy::KeepGuest;
    return std::nullopt;
}

QString mergePolicyName(MergePolicy policy)
{
    switch (policy) {
    case MergePolicy::MergeFields: return QStringLiteral("merge-fields");
    case MergePolicy::KeepAccount: return QStringLiteral("keep-account");
    case MergePolicy::KeepGuest: return QStringLiteral("keep-guest");
    }
    return {};
}

QJsonObject mergeRecords(MergePolicy policy, const QJsonObject &account, const QDateTime &accountUpdatedAt,
                         const QJsonObject &guest, const QDateTime &guestUpdatedAt)
{
    switch (policy) {
    case MergePolicy::KeepAccount:
        return account;
    case MergePolicy::KeepGuest:
        return guest;
    case MergePolicy::MergeFields:
        break;
    }
    const bool guestWins = !accountUpdatedAt.isValid() || !(guestUpdatedAt < accountUpdatedAt);
    QJsonObject merged = guestWins ? account : guest;
    const QJsonObject &winner = guestWins ? guest : account;
    for (auto it = winner.constBegin(); it != winner.constEnd(); ++it)
        merged.insert(it.key(), it.value());
    return merged;
}

} // namespace Kernia::Server
