// Kernia SDK internal: Client's private half. Orchestrates the local store, token
// vault, transport, reachability and session keeper; runs operations one at a time.
// Not API.
#pragma once

#include <Kernia/client.h>

#include "backoff_p.h"
#include "localstore_p.h"
#include "reachability_p.h"
#include "sessionkeeper_p.h"
#include "syncengine_p.h"
#include "tokenvault_p.h"
#include "transport_p.h"

#include <QtCore/QHash>
#include <QtCore/QPromise>
#include <QtCore/QQueue>
#include <QtCore/QTimer>

#include <functional>
#include <memory>

namespace Kernia {

class ClientPrivate
{
    Q_DECLARE_PUBLIC(Client)

public:
    using Done = std::function<void(const Error &)>;

    ClientPrivate(Client *q, const ClientOptions &options);
    ~ClientPrivate();

    void init();

    // --- operation queue -------------------------------------------------------
    struct Job
    {
        Client::Operation op = Client::Operation::None;
        bool explicitOp = true;   // started by the app (vs. background maintenance)
        bool autoSync = false;    // the automatic (debounced) sync job
        std::function<void(Done)> run;
        std::shared_ptr<QPromise<Error>> promise;
    };
    QFuture<Error> enqueue(Client::Operation op, std::function<void(Done)> run);
    void enqueueMaintenance();
    void pump();
    void schedulePump();
    void finishJob(const Job &job, const Error &error);

    // --- the work ----------------------------------------------------------------
    void readStoredToken();
    void moveOldKeychainEntry(const QString &service, const QString &key);
    void recordKeychainEntry();
    void onVaultRead(const VaultResult &result);
    void resumeSession(const QByteArray &storedToken, const PendingIdentity &pending);
    void maintain(Done done);
    void registerGuest(Done done);
    void checkSession(bool explicitOp, Done done);
    // Runs `proceed` once the token may be sent anywhere but GET /get-session: a token
    // whose fingerprint was unknown (an older SDK's database, or moved from an older
    // entry) is first checked with get-session in this run, which must name the cached
    // user. Unreachable server: done(SESSION_UNCONFIRMED of get-session's transient kind,
    // e.g. Network); the token has gone nowhere else.
    void withConfirmedToken(bool explicitOp, std::function<void()> proceed, Done done);
    // get-session named the cached user for `checked`: the token is ours. Saves its
    // fingerprint and finishes a move from an older keychain entry.
    void confirmToken(const QByteArray &checked);
    using Sender = std::function<void(const QByteArray &bearer, Transport::Callback)>;
    // Whether the server linked the calling guest into the account it answered with
    // (given the answer's user). Unset: it did, as every password sign-in does.
    using GuestLinked = std::function<bool(const QJsonObject &account, const HttpResult &answer)>;
    void authenticate(Sender send, Done done, GuestLinked guestLinked = {});
    void signOutNow(Done done);
    void deleteGuestNow(Done done);
    // POST /delete-user with `body` ({password} or {token}) as the signed-in account.
    void deleteAccountNow(const QJsonObject &body, Done done);
    // Forgets the session token held in memory (the keychain entry is the caller's).
    void dropToken();
    // The current user is gone from the server: token, identity and local data go here too.
    void forgetDeletedUser(Done done);
    // The session cannot be used any more: a guest is replaced by a new guest (its data
    // offered), an account signs out and its profile gets `accountProfileStatus`.
    void handleSessionGone(const Error &reason, const char *accountProfileStatus = LocalStore::ProfileOffered);

    // --- state -------------------------------------------------------------------
    User makeLocalGuest() const;
    // Sets state, user and hasServerSession, persists them, then emits one notify
    // signal per property that changed.
    void setIdentity(Client::State state, const User &user, bool hasServerSession);
    void persist();
    // Switches to a session: the token goes to the keychain first, and the identity is
    // saved once the keychain confirmed it (a journal in the local store lets a restart
    // in between finish the switch). If the keychain fails, the session is used for this
    // run only and saved as such; `then` gets the keychain's error.
    void commitSession(const QByteArray &newToken, Client::State newState, const User &newUser,
                       std::function<void(const Error &keychainError)> then);
    // done(success), then lastError = the warning (a finished operation clears lastError).
    void succeedWithWarning(const Done &done, const Error &warning);
    // Profiles the current account left on this device earlier: their pending changes
    // join the current profile. Returns whether anything moved.
    bool absorbLeftProfiles();
    void setLastError(const Error &error);
    void setBusy(bool busy);
    void setReady(bool ready);
    void offerOrphans();
    void scheduleRetry(const Error &error);
    QByteArray guestBearer() const;

    // --- data sync -----------------------------------------------------------------
    void resolveClientId();   // ClientOptions::clientId() or the persisted generated one
    void initSync();
    QString owner() const;            // the current profile's localId ("" when signed out)
    void scheduleSync();              // debounced automatic sync after a local write
    // Automatic sync job (deduplicated); `continuation`: the rest of a sync that stopped at
    // its page budget, queued also without autoSync.
    void enqueueSync(bool continuation = false);
    // A sync stopped at its page budget: the next one continues after a pause (never at
    // once), growing while the pages come sparse.
    void scheduleSyncContinuation(bool sparsePages);
    QFuture<Error> enqueueSyncNow();
    void syncCycle(bool explicitOp, Done done);
    Error writeRecord(const QString &collection, const QString &op, const QString &id, const QJsonObject &data);
    void notifyTouched(const QString &owner, const TouchedRecords &touched);
    void resetCollections();
    void updatePendingChanges();
    void updateSyncState();

    Client *q_ptr;
    ClientOptions options;

    std::unique_ptr<LocalStore> store;
    std::unique_ptr<Transport> transport;
    std::unique_ptr<TokenVault> vault;
    std::unique_ptr<Reachability> reachability;
    std::unique_ptr<SessionKeeper> keeper;

    Client::State state = Client::State::SignedOut;
    User user;
    bool hasServerSession = false;
    QDateTime sessionExpiresAt;
    QByteArray token;
    bool tokenUnreadable = false;   // a session exists but the keychain cannot give its token
    // SHA-256 (hex) of the token the keychain holds for this session; empty: it is in
    // memory only; nullopt: unknown (saved by an older SDK).
    std::optional<QByteArray> tokenFingerprint;
    // The token is known to be this session's (its fingerprint matched, the server just
    // issued it, or get-session named the cached user in this run). Until then it is
    // sent to GET /get-session only.
    bool tokenConfirmed = false;
    // An older SDK's keychain entry the unconfirmed token was copied from: removed (if it
    // still holds that token) once the token is confirmed, never otherwise.
    std::optional<std::pair<QString, QString>> unconfirmedOldEntry;
    bool busy = false;
    bool ready = false;
    Error lastError;

    QQueue<Job> jobs;
    std::unique_ptr<Job> running;
    bool maintenanceQueued = false;
    bool pumpScheduled = false;
    bool destroying = false;

    Backoff retryBackoff;
    QTimer retryTimer;

    std::unique_ptr<SyncEngine> sync;
    QHash<QString, Collection *> collections;
    QString clientId;
    QTimer syncDebounce;
    QTimer syncContinuation;
    Backoff continuationBackoff;
    bool syncQueued = false;
    bool syncing = false;
    Error syncError;                  // of the last cycle
    Client::SyncState syncState = Client::SyncState::Offline;
    int pendingChanges = 0;
};

} // namespace Kernia
