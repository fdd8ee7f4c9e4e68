// Kernia SDK internal: the local SQLite cache (WAL, versioned migrations, its own
// connection name). Holds the current identity and the local profiles that local data
// is attached to (tables with an owner_local_id column, e.g. the coming collections and
// outbox, are re-keyed on adopt and deleted on discard). Not API.
#pragma once

#include <Kernia/error.h>
#include <Kernia/user.h>

#include <QtCore/QDateTime>
#include <QtCore/QHash>
#include <QtCore/QJsonObject>
#include <QtCore/QList>
#include <QtCore/QSet>
#include <QtCore/QString>
#include <QtCore/QStringList>
#include <QtCore/QVariant>

#include <functional>
#include <initializer_list>
#include <optional>

class QSqlQuery;

namespace Kernia {

struct StoredIdentity
{
    int state = 0;                  // Client::State as int
    QString localId;                // the current profile (empty when signed out)
    bool hasServerSession = false;
    QDateTime sessionExpiresAt;
    // SHA-256 (hex) of the session token the keychain holds for this identity; empty: the
    // token could not be stored (it lived in memory only); nullopt: unknown (a database
    // of an older SDK, or no server session).
    std::optional<QByteArray> tokenFingerprint;
};

// A session switch between "token sent to the keychain" and "identity saved": a restart
// that finds the keychain holding this token completes the switch.
struct PendingIdentity
{
    StoredIdentity identity;
    User user;
};

// --- data sync (schema 2) ---------------------------------------------------------------

// A record as stored locally: the server's state with the local pending changes on top.
struct LocalRecord
{
    QString collection;
    QString id;
    QJsonObject data;          // empty for a tombstone
    QDateTime updatedAt;
    bool pending = false;      // outbox entries for it are not acknowledged yet
    bool deleted = false;
};

// One mutation waiting to be pushed (protocol names: op is put | patch | delete).
struct OutboxEntry
{
    qint64 mid = 0;
    QString op;
    QString collection;
    QString id;
    QJsonObject data;          // put: the record; patch: the fields (null removes); delete: empty
    qsizetype dataBytes = 0;   // size of `data` as stored: compact JSON in UTF-8 (0 for delete)
    QString clientId;          // the protocol clientId `mid` was numbered under; empty: the install's
};

// One change from GET /api/sync/pull.
struct RemoteChange
{
    QString collection;
    QString id;
    bool deleted = false;
    QJsonObject data;
    QDateTime updatedAt;
};

struct SyncCursor
{
    QString userId;            // the server user the cursor belongs to
    qint64 version = 0;        // last pulled version (0: pull everything)
};

// (collection -> ids) touched by a store operation, for change notifications.
using TouchedRecords = QHash<QString, QSet<QString>>;

class LocalStore
{
public:
    static constexpr const char *ProfileCurrent = "current";
    static constexpr const char *ProfileOffered = "offered";      // left by a lost session
    static constexpr const char *ProfileSignedOut = "signed_out"; // left by an explicit sign-out

    explicit LocalStore(const QString &directory);
    ~LocalStore();
    LocalStore(const LocalStore &) = delete;
    LocalStore &operator=(const LocalStore &) = delete;

    Error open();
    bool isOpen() const { return m_open; }
    // The install's sync client id (ClientOptions::clientId() or the generated one). A
    // profile saved for the first time afterwards pushes under it plus a suffix of its own
    // (its mids stay its own when another profile's are merged into the same account).
    void setInstallClientId(const QString &clientId) { m_installClientId = clientId; }
    QString databasePath() const;
    int schemaVersion() const;
    static int latestSchemaVersion();

    std::optional<StoredIdentity> identity() const;
    // Writes the identity and (when user is valid) the user's profile in one transaction;
    // a pending identity is dropped with it (this one supersedes it).
    Error saveCurrent(const StoredIdentity &identity, const User &user);
    Error savePending(const PendingIdentity &pending);
    std::optional<PendingIdentity> pending() const;
    Error clearPending();

    User profileUser(const QString &localId) const;
    Error setProfileStatus(const QString &localId, const QString &status);
    QStringList profiles(const QString &status) const;
    // The profiles an account left on this device (signed out, or offered after its
    // session was lost), most recent first, except `except`: an account signing in again
    // gets its data back.
    QStringList leftProfiles(const QString &userId, const QString &except = QString()) const;

    // Moves the data of `from` to `to` and drops the `from` profile. Profiles of one
    // server user: only the pending changes of `from` move (its settled records are the
    // server's state, which `to` pulls), each keeping its mid and client id; otherwise
    // every live record of `from` becomes a pending put of `to` (fresh mids).
    Error adopt(const QString &from, const QString &to);
    // Deletes a profile and every row it owns.
    Error discard(const QString &localId);

    // Magic links (schema 4): the server links a guest at verification only if that guest
    // asked for the link, so the client notes which guest (server user id) asked for which
    // address. Noting a request forgets those of any other guest (never linkable again).
    Error noteMagicLinkRequest(const QString &guestUserId, const QString &email);
    bool magicLinkRequested(const QString &guestUserId, const QString &email) const;
    Error forgetMagicLinkRequests();

    QString meta(const QString &key) const;
    Error setMeta(const QString &key, const QString &value);

    // --- data sync -------------------------------------------------------------------
    // A local put / patch / delete: the record's new state and its outbox entry are
    // written in one transaction (mids come from an AUTOINCREMENT key: they strictly
    // increase for this database, i.e. per client, and are never reused).
    Error writeLocal(const QString &owner, const QString &op, const QString &collection, const QString &id,
                     const QJsonObject &data, LocalRecord *result = nullptr);
    std::optional<LocalRecord> record(const QString &owner, const QString &collection, const QString &id) const;
    QList<LocalRecord> records(const QString &owner, const QString &collection) const;   // live, by id
    int recordCount(const QString &owner, const QString &collection) const;            // live
    int outboxCount(const QString &owner) const;
    QList<OutboxEntry> outbox(const QString &owner, int limit) const;                  // by mid
    // The server has these entries (the mids of a push it answered, or one it refused):
    // drop them, clear `pending` of records without further entries. Exactly these: rows
    // taken back from another profile while the push was on its way keep their lower mids.
    Error acknowledge(const QString &owner, const QList<qint64> &mids, TouchedRecords *touched);
    SyncCursor cursor(const QString &owner) const;
    Error setCursor(const QString &owner, const SyncCursor &cursor);
    // Applies one pulled page and the new cursor in one transaction. A record with local
    // pending changes gets the server's state with its outbox entries replayed on top.
    Error applyRemote(const QString &owner, const QList<RemoteChange> &changes, const SyncCursor &cursor,
                      TouchedRecords *touched);
    // After a full pull (from version 0): drops settled local records the server does
    // not have (`keep` = every (collection, id) the pull returned, as collection + '\n' + id).
    Error pruneSettled(const QString &owner, const QSet<QString> &keep, TouchedRecords *touched);

    // Result of applying one op to a record state (nullopt = absent / tombstone).
    static std::optional<QJsonObject> applyOp(const std::optional<QJsonObject> &base, const QString &op,
                                              const QJsonObject &data);

private:
    // Runs `steps` in one transaction on the local database: commits when they return no
    // error; otherwise rolls back and returns their error.
    Error inTransaction(const std::function<Error(QSqlQuery &)> &steps,
                        const QString &beginWhat = QStringLiteral("Cannot begin a transaction"));
    Error adoptSyncData(QSqlQuery &q, const QString &from, const QString &to, bool sameUser);
    Error takeBackPendingChanges(QSqlQuery &q, const QString &from, const QString &to, const QString &now);
    // What `owner` wrote to the record after change `mid` (its local writes, synced or
    // not): in `newer` the fields later patches set, with the values the record holds
    // now; `superseded` set when a later put or delete replaced the record.
    Error laterLocalWrites(QSqlQuery &q, const QString &owner, const QString &collection, const QString &id,
                            qint64 mid, QJsonObject *newer, bool *superseded) const;
    // writeLocal's steps inside a transaction: queueChange, then applyToRecord.
    Error writeLocalIn(QSqlQuery &q, const QString &owner, const QString &op, const QString &collection,
                       const QString &id, const QJsonObject &data, const QString &now,
                       std::optional<QJsonObject> *state = nullptr);
    // The record's new local state after `op` (pending), the change numbered `mid`;
    // `state`: that state.
    Error applyToRecord(QSqlQuery &q, const QString &owner, const QString &op, const QString &collection,
                        const QString &id, const QJsonObject &data, qint64 mid, const QString &now,
                        std::optional<QJsonObject> *state = nullptr);
    // A new outbox entry of `owner`; `mid`: the mid it got (the next one).
    Error queueChange(QSqlQuery &q, const QString &owner, const QString &op, const QString &collection,
                      const QString &id, const QJsonObject &data, qint64 *mid = nullptr);
    QVariant newProfileClientId() const;
    Error dropProfile(QSqlQuery &q, const QString &localId) const;
    Error migrate();
    QStringList ownedTables() const;
    Error sqlError(const QString &what, const QString &detail) const;
    Error failed(const QSqlQuery &q, const QString &what) const;   // names `what` and the driver's message
    Error notOpen() const;

    // Placeholder -> value, e.g. {{":o", owner}, {":c", collection}}.
    using Binds = std::initializer_list<std::pair<const char *, QVariant>>;
    // Prepares `sql` on q, binds the values and runs it: no error, or `what` with the
    // driver's message.
    Error run(QSqlQuery &q, const QString &sql, Binds binds, const QString &what) const;
    // A read outside a transaction: the executed query, positioned before its first row;
    // nullopt when the store is not open or the statement failed (logged as `what`).
    std::optional<QSqlQuery> read(const QString &sql, Binds binds, const QString &what) const;
    // One statement outside a transaction.
    Error write(const QString &sql, Binds binds, const QString &what);

    QString m_directory;
    QString m_connection;
    QString m_installClientId;
    bool m_open = false;
};

} // namespace Kernia
