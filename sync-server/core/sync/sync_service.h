// The data-sync domain logic (docs/sync-protocol.md), independent of HTTP: validating a
// push, applying it exactly once, reading changes since a version, and moving a guest's
// records into an account at link time. Thread-safe (no mutable state of its own); all
// state lives in the Store.
//
//   SyncService sync(options);
//   SyncPush push = sync.parsePush(body);                        // throws SyncError
//   SyncPushResult r = sync.push(store, userId, push);           // one transaction
//   SyncPullResult changes = sync.pull(store, userId, r.version - 10, 100);
//   store.transaction([&] { sync.linkGuest(store, guestId, accountId); });
#pragma once

#include "store/models.h"
#include "sync/sync_errors.h"
#include "sync/sync_options.h"

#include <QJsonObject>
#include <QList>
#include <QLoggingCategory>

Q_DECLARE_LOGGING_CATEGORY(lcSync)

namespace Kernia::Server {

class Store;

struct SyncMutation
{
    enum class Op { Put, Patch, Delete };
    qint64 mid = 0;
    Op op = Op::Put;
    QString collection;
    QString id;
    QJsonObject data;      // put: the record; patch: the fields to set (null removes one)
};

struct SyncPush
{
    QString clientId;
    QList<SyncMutation> mutations;   // mids strictly increasing
};

struct SyncPushResult
{
    int applied = 0;       // mutations applied now
    int skipped = 0;       // at or below the client's mark: applied by an earlier push
    qint64 lastMid = 0;    // the client's mark after this push (0: none applied ever)
    qint64 version = 0;    // the user's version after this push
};

struct SyncPullResult
{
    QList<SyncRecord> changes;   // version order
    qint64 version = 0;          // cursor for the next pull
    bool more = false;           // changes after `version` remain (record limit or byte budget)
};

struct SyncLinkResult
{
    int moved = 0;         // guest records the account did not hold (live)
    int merged = 0;        // overlapping records rewritten by the merge
    int keptAccount = 0;   // overlapping records where the merge kept the account's data
    int conflicts = 0;     // overlapping records whose merge would exceed maxRecordBytes: the
                           // account's kept, the guest's put in SyncOptions::conflictCollection
    int tombstones = 0;    // guest tombstones carried over
    int dropped = 0;       // guest tombstones dropped: the account holds a live record
    int clients = 0;       // client marks carried over
};

class SyncService
{
public:
    explicit SyncService(SyncOptions options = {});

    const SyncOptions &options() const { return m_options; }
    MergePolicy policyFor(const QString &collection) const;

    // Validates a push body ({clientId, mutations}); throws SyncError.
    SyncPush parsePush(const QJsonObject &body) const;
    // Applies the mutations above the client's mark, in order, in one transaction, each
    // with the next version of the user's counter, and stores the user's new storage usage.
    // Throws SyncError (RECORD_TOO_LARGE after a patch; SYNC_QUOTA_EXCEEDED when the push
    // grows the usage above maxUserBytes) or StoreError; nothing is applied then.
    SyncPushResult push(Store &store, const QString &userId, const SyncPush &push) const;
    // Changes with version > since: at most `limit` and at most maxPullBytes of them (but at
    // least one); throws SyncError (INVALID_SINCE, INVALID_LIMIT).
    SyncPullResult pull(Store &store, const QString &userId, qint64 since, int limit) const;
    // Moves the guest's records and client marks to the account (merging overlaps by
    // policy) and deletes the guest's sync data. Records whose key the account does not
    // hold move inside the database, a few statements for any number of them; only the
    // keys both hold are read and merged here. A merge whose result would exceed
    // maxRecordBytes keeps the account's record and files the guest's under
    // conflictCollection (logged once the caller's transaction has committed, through
    // Store::afterCommit). The account's storage usage is recounted afterwards; the quota
    // never fails a link. Joins the caller's transaction (the link transaction); throws
    // on failure.
    SyncLinkResult linkGuest(Store &store, const QString &guestId, const QString &accountId) const;

    // {collection, id, version, deleted, data, updatedAt} as the pull answer carries it.
    static QJsonObject changeJson(const SyncRecord &record);

private:
    SyncOptions m_options;
};

} // namespace Kernia::Server
