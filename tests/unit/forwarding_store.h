// A Store that passes every call on to another one: the base of test decorators that
// watch what a caller asks of the store (override the methods of interest, call the
// base). Keeps no state of its own.
//
//   struct CountingStore : ForwardingStore {
//       using ForwardingStore::ForwardingStore;
//       int puts = 0;
//       void putSyncRecord(const QString &u, const SyncRecord &r) override { ++puts; ForwardingStore::putSyncRecord(u, r); }
//   };
//   CountingStore counting(*server.store);
//   server.store->transaction([&] { sync.linkGuest(counting, guestId, accountId); });
#pragma once

#include "store/store.h"

namespace Kernia::Server::Testing {

class ForwardingStore : public Store
{
public:
    explicit ForwardingStore(Store &inner) : m_inner(inner) {}

    void migrate() override { m_inner.migrate(); }
    void transaction(const std::function<void()> &work) override { m_inner.transaction(work); }
    void serialTransaction(const QString &key, const std::function<void()> &work) override
    {
        m_inner.serialTransaction(key, work);
    }
    void afterCommit(std::function<void()> callback) override { m_inner.afterCommit(std::move(callback)); }

    void createUser(const User &user) override { m_inner.createUser(user); }
    std::optional<User> userById(const QString &id) override { return m_inner.userById(id); }
    std::optional<User> userByEmail(const QString &email) override { return m_inner.userByEmail(email); }
    std::optional<User> userByUsername(const QString &username) override { return m_inner.userByUsername(username); }
    void updateUser(const User &user) override { m_inner.updateUser(user); }
    void deleteUser(const QString &id) override { m_inner.deleteUser(id); }

    void createAccount(const Account &account) override { m_inner.createAccount(account); }
    QList<Account> accountsByUser(const QString &userId) override { return m_inner.accountsByUser(userId); }
    int deleteAccountsByUser(const QString &userId) override { return m_inner.deleteAccountsByUser(userId); }
    void updateAccount(const Account &account) override { m_inner.updateAccount(account); }

    void createSession(const Session &session) override { m_inner.createSession(session); }
    void createUserWithSession(const User &user, const Session &session) override
    {
        m_inner.createUserWithSession(user, session);
    }
    std::optional<Session> sessionByToken(const QString &token) override { return m_inner.sessionByToken(token); }
    std::optional<std::pair<Session, User>> sessionWithUserByToken(const QString &token) override
    {
        return m_inner.sessionWithUserByToken(token);
    }
    QList<Session> sessionsByUser(const QString &userId) override { return m_inner.sessionsByUser(userId); }
    void updateSession(const Session &session) override { m_inner.updateSession(session); }
    void deleteSessionByToken(const QString &token) override { m_inner.deleteSessionByToken(token); }
    int deleteSessionsByUser(const QString &userId) override { return m_inner.deleteSessionsByUser(userId); }
    void deleteSessionsByUserExcept(const QString &userId, const QString &keepToken) override
    {
        m_inner.deleteSessionsByUserExcept(userId, keepToken);
    }

    void createVerification(const Verification &verification) override { m_inner.createVerification(verification); }
    std::optional<Verification> verificationByIdentifier(const QString &identifier) override
    {
        return m_inner.verificationByIdentifier(identifier);
    }
    std::optional<Verification> consumeVerification(const QString &identifier) override
    {
        return m_inner.consumeVerification(identifier);
    }
    int deleteVerificationsByValue(const QString &identifierPrefix, const QString &value) override
    {
        return m_inner.deleteVerificationsByValue(identifierPrefix, value);
    }
    int deleteExpiredVerifications(const QDateTime &now, int maxRows) override
    {
        return m_inner.deleteExpiredVerifications(now, maxRows);
    }

    void createPasskey(const Passkey &passkey) override { m_inner.createPasskey(passkey); }
    std::optional<Passkey> passkeyById(const QString &id) override { return m_inner.passkeyById(id); }
    std::optional<Passkey> passkeyByCredentialId(const QString &credentialId) override
    {
        return m_inner.passkeyByCredentialId(credentialId);
    }
    QList<Passkey> passkeysByUser(const QString &userId) override { return m_inner.passkeysByUser(userId); }
    void updatePasskey(const Passkey &passkey) override { m_inner.updatePasskey(passkey); }
    void deletePasskey(const QString &id) override { m_inner.deletePasskey(id); }
    int deletePasskeysByUser(const QString &userId) override { return m_inner.deletePasskeysByUser(userId); }

    std::optional<SyncRecord> syncRecord(const QString &userId, const QString &collection,
                                         const QString &recordId) override
    {
        return m_inner.syncRecord(userId, collection, recordId);
    }
    void putSyncRecord(const QString &userId, const SyncRecord &record) override
    {
        m_inner.putSyncRecord(userId, record);
    }
    QList<SyncRecord> syncChangesSince(const QString &userId, qint64 since, qint64 upTo, int limit) override
    {
        return m_inner.syncChangesSince(userId, since, upTo, limit);
    }
    void syncChangeSizes(const QString &userId, qint64 since, qint64 upTo, int limit,
                         const std::function<bool(qint64 version, qint64 bytes)> &take) override
    {
        m_inner.syncChangeSizes(userId, since, upTo, limit, take);
    }
    qint64 syncVersion(const QString &userId) override { return m_inner.syncVersion(userId); }
    SyncCounter bumpSyncVersion(const QString &userId, qint64 count) override { return m_inner.bumpSyncVersion(userId, count); }
    qint64 syncClientMark(const QString &userId, const QString &clientId) override
    {
        return m_inner.syncClientMark(userId, clientId);
    }
    void setSyncClientMark(const QString &userId, const QString &clientId, qint64 lastMid) override
    {
        m_inner.setSyncClientMark(userId, clientId, lastMid);
    }
    QList<QPair<QString, qint64>> syncClientMarks(const QString &userId) override
    {
        return m_inner.syncClientMarks(userId);
    }
    qint64 syncRecordBytes(const QString &userId, const QString &collection, const QString &recordId) override
    {
        return m_inner.syncRecordBytes(userId, collection, recordId);
    }
    void setSyncUserBytes(const QString &userId, qint64 bytes) override { m_inner.setSyncUserBytes(userId, bytes); }
    std::optional<qint64> recountSyncUserBytes(const QString &userId) override
    {
        return m_inner.recountSyncUserBytes(userId);
    }
    void deleteSyncData(const QString &userId) override { m_inner.deleteSyncData(userId); }
    QList<SharedSyncRecord> sharedSyncRecords(const QString &fromUserId, const QString &toUserId) override
    {
        return m_inner.sharedSyncRecords(fromUserId, toUserId);
    }
    UnsharedSyncRecordCounts unsharedSyncRecordCounts(const QString &fromUserId, const QString &toUserId) override
    {
        return m_inner.unsharedSyncRecordCounts(fromUserId, toUserId);
    }
    qint64 moveUnsharedSyncRecords(const QString &fromUserId, const QString &toUserId, qint64 firstVersion) override
    {
        return m_inner.moveUnsharedSyncRecords(fromUserId, toUserId, firstVersion);
    }

    RateLimitHit hitRateLimit(const QString &key, qint64 nowMs, qint64 windowMs, qint64 max, bool sliding) override
    {
        return m_inner.hitRateLimit(key, nowMs, windowMs, max, sliding);
    }
    int deleteRateLimitsBefore(qint64 cutoffMs, const QString &exceptKeyPrefix = QString()) override
    {
        return m_inner.deleteRateLimitsBefore(cutoffMs, exceptKeyPrefix);
    }

    QStringList inactiveAnonymousUsers(const QDateTime &cutoff) override { return m_inner.inactiveAnonymousUsers(cutoff); }
    int pruneAnonymousUsers(const QDateTime &cutoff) override { return m_inner.pruneAnonymousUsers(cutoff); }

    void execTemplate(const QString &sql, const QVariantMap &namedBinds) override
    {
        m_inner.execTemplate(sql, namedBinds);
    }

private:
    Store &m_inner;
};

} // namespace Kernia::Server::Testing
