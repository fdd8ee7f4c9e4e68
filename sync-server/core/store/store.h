// The one storage interface of the server. Endpoints and plugins only talk to this;
// SQLite (default) and PostgreSQL implement it.
//
// Threading: every method may be called from any thread; implementations keep one
// database connection per thread. Errors: a database failure throws StoreError, which the
// router turns into a logged 500 — callers never see half-applied writes because every
// multi-step change runs inside transaction().
#pragma once

#include "models.h"

#include <QList>
#include <QPair>
#include <QStringList>
#include <QVariantMap>
#include <functional>
#include <optional>
#include <stdexcept>

namespace Kernia::Server {

class StoreError : public std::runtime_error
{
public:
    explicit StoreError(const QString &message, bool uniqueViolation = false)
        : std::runtime_error(message.toStdString()), m_uniqueViolation(uniqueViolation) {}
    // True when the failure was a UNIQUE constraint (e.g. two sign-ups racing for one email).
    bool isUniqueViolation() const { return m_uniqueViolation; }

private:
    bool m_uniqueViolation;
};

// One counted request of a rate-limit counter (Store::hitRateLimit).
struct RateLimitHit
{
    bool allowed = true;
    qint64 count = 0;          // requests in the counter's window (this one included when allowed)
    qint64 lastRequest = 0;    // the row's lastRequest, ms since epoch
};

class Store
{
public:
    virtual ~Store() = default;

    // Applies versioned schema migrations; safe to call on every start.
    virtual void migrate() = 0;

    // Runs `work` in one write transaction on this thread's connection and commits when it
    // returns; any exception rolls everything back and is rethrown. Writers are serialised
    // (SQLite: BEGIN IMMEDIATE; PostgreSQL: SERIALIZABLE isolation, where a conflicting
    // attempt is rolled back and `work` runs again — keep `work` free of effects outside
    // the store, or queue them with afterCommit), so a read at the start of `work` sees
    // the state the transaction will commit against, also across several server processes.
    // Nested calls join the outer transaction.
    virtual void transaction(const std::function<void()> &work) = 0;
    // transaction(), but those with the same `key` wait for one another, also across
    // server processes, instead of conflicting and running again: for work that always
    // writes the same row (a user's sync version). SQLite serialises every writer anyway.
    // PostgreSQL takes an advisory lock on the key before BEGIN, so the transaction's
    // snapshot comes after the previous holder's commit. Nested calls join the outer
    // transaction without a lock.
    virtual void serialTransaction(const QString &key, const std::function<void()> &work) = 0;
    // Queues `callback` until the transaction this call is part of has committed: for
    // effects outside the store that must happen once, and only for what was stored (log
    // lines, notices to other systems). The callbacks run in the order queued, after the
    // outermost transaction() / serialTransaction() committed, on the thread that called
    // it, before that call returns. They are dropped, never run, when `work` throws, when
    // a nested transaction() they were queued in throws (its writes are undone, even if
    // the caller catches the exception), and when PostgreSQL runs `work` again after a
    // serialization failure (the next attempt queues its own). Outside a transaction the
    // callback runs at once. A callback's exception is logged and goes no further: the
    // transaction has committed. A callback may use the store (a new transaction).
    virtual void afterCommit(std::function<void()> callback) = 0;

    // Users
    virtual void createUser(const User &user) = 0;          // StoreError(unique) on a taken email/username
    virtual std::optional<User> userById(const QString &id) = 0;
    virtual std::optional<User> userByEmail(const QString &lowerCaseEmail) = 0;
    virtual std::optional<User> userByUsername(const QString &normalisedUsername) = 0;
    virtual void updateUser(const User &user) = 0;          // writes every column of the row
    // Deletes the user's sessions, accounts, passkeys, then the user (Better Auth's order).
    virtual void deleteUser(const QString &id) = 0;

    // Accounts
    virtual void createAccount(const Account &account) = 0;
    virtual QList<Account> accountsByUser(const QString &userId) = 0;
    virtual int deleteAccountsByUser(const QString &userId) = 0;   // returns how many
    virtual void updateAccount(const Account &account) = 0;

    // Sessions
    virtual void createSession(const Session &session) = 0;
    // A new user and its first session, written together or not at all (StoreError(unique)
    // as createUser). Outside a transaction PostgreSQL writes both in one statement: one
    // round trip instead of four (BEGIN, two INSERTs, COMMIT). Guests are made this way.
    virtual void createUserWithSession(const User &user, const Session &session) = 0;
    virtual std::optional<Session> sessionByToken(const QString &token) = 0;
    // The session and its user in one read (every authenticated request needs both); nullopt
    // when either is missing.
    virtual std::optional<std::pair<Session, User>> sessionWithUserByToken(const QString &token) = 0;
    virtual QList<Session> sessionsByUser(const QString &userId) = 0;   // in creation order
    virtual void updateSession(const Session &session) = 0;
    virtual void deleteSessionByToken(const QString &token) = 0;
    virtual int deleteSessionsByUser(const QString &userId) = 0;   // returns how many
    virtual void deleteSessionsByUserExcept(const QString &userId, const QString &keepToken) = 0;

    // Verifications (single-use tokens)
    virtual void createVerification(const Verification &verification) = 0;
    virtual std::optional<Verification> verificationByIdentifier(const QString &identifier) = 0;
    // Deletes and returns the row in one step, so two requests can never both use it.
    virtual std::optional<Verification> consumeVerification(const QString &identifier) = 0;
    // Deletes every row whose identifier starts with `identifierPrefix` and whose value is
    // `value` (a user's pending reset-password or change-email tokens); returns how many.
    virtual int deleteVerificationsByValue(const QString &identifierPrefix, const QString &value) = 0;
    // Deletes rows whose expiresAt is before `now` (any kind: magic links, reset tokens,
    // passkey challenges), at most `maxRows` of them, a batch per transaction so a backlog
    // never holds the write lock for long; returns how many. When that is `maxRows`, more
    // may be left: the caller bounds how long one call takes and comes back for the rest
    // (the server's housekeeping, ops/maintenance.h).
    virtual int deleteExpiredVerifications(const QDateTime &now, int maxRows) = 0;

    // Passkeys (passkey plugin). Lists are in creation order.
    virtual void createPasskey(const Passkey &passkey) = 0;
    virtual std::optional<Passkey> passkeyById(const QString &id) = 0;
    virtual std::optional<Passkey> passkeyByCredentialId(const QString &credentialId) = 0;
    virtual QList<Passkey> passkeysByUser(const QString &userId) = 0;
    virtual void updatePasskey(const Passkey &passkey) = 0;   // writes every column of the row
    virtual void deletePasskey(const QString &id) = 0;
    virtual int deletePasskeysByUser(const QString &userId) = 0;   // returns how many

    // Sync (core/sync): per user, records keyed (collection, recordId), a version counter
    // and the last mutation id applied per client. Call these inside transaction().
    virtual std::optional<SyncRecord> syncRecord(const QString &userId, const QString &collection,
                                                 const QString &recordId) = 0;
    // Inserts or replaces the row (userId, record.collection, record.recordId).
    virtual void putSyncRecord(const QString &userId, const SyncRecord &record) = 0;
    // Records with since < version <= upTo in version order, at most `limit` of them.
    virtual QList<SyncRecord> syncChangesSince(const QString &userId, qint64 since, qint64 upTo, int limit) = 0;
    // The same records' versions and sizes without their data: passes (version, bytes) of
    // each, in version order, to `take` until it returns false; what follows is not read.
    // bytes = UTF-8 length of data (0 for a tombstone) + collection + recordId. `take`
    // must not use the store. (A pull sizes its page with this before reading the data.)
    virtual void syncChangeSizes(const QString &userId, qint64 since, qint64 upTo, int limit,
                                 const std::function<bool(qint64 version, qint64 bytes)> &take) = 0;
    // The user's counter: the highest version handed out (0 before the first change).
    virtual qint64 syncVersion(const QString &userId) = 0;
    // Adds `count` (>= 1) to the counter in one statement and returns the new value, so
    // versions last-count+1 .. last belong to the caller, with the user's storage usage
    // (sync_user_version."bytes": the UTF-8 bytes of the data of its live records). The
    // row stays locked until the transaction ends, so neither changes under the caller.
    virtual SyncCounter bumpSyncVersion(const QString &userId, qint64 count) = 0;
    // The last mutation id applied for (userId, clientId); 0 when none.
    virtual qint64 syncClientMark(const QString &userId, const QString &clientId) = 0;
    virtual void setSyncClientMark(const QString &userId, const QString &clientId, qint64 lastMid) = 0;
    // Every (clientId, lastMid) of the user.
    virtual QList<QPair<QString, qint64>> syncClientMarks(const QString &userId) = 0;
    // UTF-8 length of the data of (userId, collection, recordId), read without the data;
    // 0 for a tombstone or no record.
    virtual qint64 syncRecordBytes(const QString &userId, const QString &collection,
                                   const QString &recordId) = 0;
    // Stores the usage in the counter row, which must exist (bumpSyncVersion made it).
    virtual void setSyncUserBytes(const QString &userId, qint64 bytes) = 0;
    // Sets the usage from the user's records (one SUM over them) and returns it; nullopt,
    // and nothing written, for a user that never synced (no counter row).
    virtual std::optional<qint64> recountSyncUserBytes(const QString &userId) = 0;
    // Deletes the user's records, client marks and counter (deleteUser does it by cascade).
    virtual void deleteSyncData(const QString &userId) = 0;

    // Moving one user's records to another (a guest's into the account it links to,
    // SyncService::linkGuest) without reading every record into memory. Keys are
    // (collection, recordId); a key `to` holds is "shared", a tombstone included.
    //
    // `from`'s records whose key `to` holds too, each with `to`'s record of that key, in
    // the order of `from`'s versions. Only these are read.
    virtual QList<SharedSyncRecord> sharedSyncRecords(const QString &fromUserId, const QString &toUserId) = 0;
    // How many of `from`'s records have a key `to` does not hold: live ones and tombstones.
    virtual UnsharedSyncRecordCounts unsharedSyncRecordCounts(const QString &fromUserId, const QString &toUserId) = 0;
    // Moves exactly those records to `to` in one statement, in the database: data,
    // deleted and updatedAt unchanged, versions firstVersion, firstVersion + 1, ... in the
    // order of `from`'s versions. The caller reserves the versions first (bumpSyncVersion)
    // and calls this in the same transaction as unsharedSyncRecordCounts. Returns how many
    // records moved.
    virtual qint64 moveUnsharedSyncRecords(const QString &fromUserId, const QString &toUserId,
                                           qint64 firstVersion) = 0;

    // Rate limiting (core/ratelimit): counters in the "rateLimit" table, shared by every
    // server process on the database. Counts one request for `key` in one atomic statement
    // (no surrounding transaction needed) unless the counter is full: `max` requests
    // already counted and less than `windowMs` since its lastRequest, then nothing changes
    // and allowed is false. After windowMs the counter starts over at 1. `sliding`
    // (Better Auth): every counted request moves lastRequest to nowMs; otherwise
    // lastRequest stays the start of a fixed window.
    virtual RateLimitHit hitRateLimit(const QString &key, qint64 nowMs, qint64 windowMs, qint64 max,
                                      bool sliding) = 0;
    // Deletes counters whose lastRequest is before cutoffMs, except those whose key starts
    // with `exceptKeyPrefix` (when not empty); returns how many.
    virtual int deleteRateLimitsBefore(qint64 cutoffMs, const QString &exceptKeyPrefix = QString()) = 0;

    // Operations (kernia-server prune-anonymous): anonymous users whose newest activity —
    // the latest session.updatedAt, or user.updatedAt when they have no session — is
    // before `cutoff`.
    virtual QStringList inactiveAnonymousUsers(const QDateTime &cutoff) = 0;
    // Deletes those users with their sessions, accounts, passkeys and sync data (each batch
    // in one transaction, re-checking the condition inside it); returns how many.
    virtual int pruneAnonymousUsers(const QDateTime &cutoff) = 0;

    // Runs an operator-supplied statement (the server's on_link SQL templates) on this
    // thread's connection, inside the current transaction. Only the named binds that occur
    // in `sql` are bound.
    virtual void execTemplate(const QString &sql, const QVariantMap &namedBinds) = 0;
};

} // namespace Kernia::Server
