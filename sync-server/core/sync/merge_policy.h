// How a guest's record and the account's record for the same (collection, id) become one
// when a guest signs up or in (docs/sync-protocol.md §Merge at link).
//
//   MergePolicy policy = parseMergePolicy(QStringLiteral("keep-guest")).value();
//   QJsonObject merged = mergeRecords(policy, account, accountUpdatedAt, guest, guestUpdatedAt);
#pragma once

#include <QDateTime>
#include <QJsonObject>
#include <QString>
#include <functional>
#include <optional>

namespace Kernia::Server {

enum class MergePolicy {
    MergeFields,   // "merge-fields" (default): union of the top-level fields; for a field
                   // both have, the value of the more recently written record wins (the
                   // guest's on a tie)
    KeepAccount,   // "keep-account": the account's record stays as it is
    KeepGuest,     // "keep-guest": the guest's record replaces the account's
};

std::optional<MergePolicy> parseMergePolicy(const QString &name);
QString mergePolicyName(MergePolicy policy);

// An embedder's own merge (SyncOptions::mergeHook): returns the record to keep.
using MergeHook = std::function<QJsonObject(const QString &collection, const QJsonObject &account,
                                            const QJsonObject &guest)>;

QJsonObject mergeRecords(MergePolicy policy, const QJsonObject &account, const QDateTime &accountUpdatedAt,
                         const QJsonObject &guest, const QDateTime &guestUpdatedAt);

} // namespace Kernia::Server
