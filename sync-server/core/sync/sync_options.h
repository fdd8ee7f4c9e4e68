// Options of the data-sync unit (docs/sync-protocol.md). The standalone server fills them
// from the config file's "sync" object and the --sync-* flags; an embedding application
// sets them in C++:
//
//   SyncOptions options;
//   options.mergePolicies.insert(QStringLiteral("settings"), MergePolicy::KeepAccount);
//   options.mergeHook = [](const QString &collection, const QJsonObject &account,
//                          const QJsonObject &guest) {
//       QJsonObject merged = account;            // e.g. add up cart quantities
//       merged["qty"] = account["qty"].toInt() + guest["qty"].toInt();
//       return merged;
//   };
#pragma once

#include "sync/merge_policy.h"

#include <QHash>
#include <QString>

namespace Kernia::Server {

struct SyncOptions
{
    QString mountPath = QStringLiteral("/api/sync");
    int maxMutationsPerPush = 500;        // more: 400 TOO_MANY_MUTATIONS
    qint64 maxRecordBytes = 64 * 1024;    // compact JSON of one record; more: 400 RECORD_TOO_LARGE
    int defaultPullLimit = 500;           // GET /pull without ?limit
    int maxPullLimit = 1000;              // ?limit above it (or below 1): 400 INVALID_LIMIT
    // Byte budget of one pull answer, counting each change's data (compact JSON), collection
    // and id: a page ends early (more: true) before the change that would exceed it, but
    // always holds at least one change.
    qint64 maxPullBytes = 4 * 1024 * 1024;
    // Storage quota per user: the UTF-8 bytes of the data of the user's live records
    // (tombstones count 0), kept in sync_user_version."bytes". A push that would end above
    // it and grows the usage: 400 SYNC_QUOTA_EXCEEDED, nothing applied; one that shrinks or
    // keeps the usage always passes. A link never fails because of it. 0 = unlimited.
    qint64 maxUserBytes = 100 * 1024 * 1024;

    // Merge at link time, for a (collection, id) both the guest and the account hold:
    // an entry here wins; otherwise mergeHook when set; otherwise defaultMergePolicy.
    QHash<QString, MergePolicy> mergePolicies;
    MergePolicy defaultMergePolicy = MergePolicy::MergeFields;
    // Called inside the link transaction, from request worker threads; may throw to make
    // the whole sign-in fail (500 ACCOUNT_LINK_FAILED, nothing kept).
    MergeHook mergeHook;
    // Where a guest's record goes when merging it with the account's would make a record
    // above maxRecordBytes (by policy or by mergeHook): the account's record stays as it
    // is and the guest's is kept whole in this collection, as
    // {collection, id, reason, mergedBytes, updatedAt, data}.
    QString conflictCollection = QStringLiteral("_conflicts");
};

} // namespace Kernia::Server
