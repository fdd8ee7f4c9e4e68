#include <Kernia/client.h>

#include "client_p.h"
#include "logging_p.h"

#include <QtCore/QCoreApplication>
#include <QtCore/QCryptographicHash>
#include <QtCore/QDir>
#include <QtCore/QFileInfo>
#include <QtCore/QPointer>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QUrlQuery>
#include <QtCore/QUuid>

namespace Kernia {

namespace {

constexpr const char *TokenKey = "session-token";
constexpr const char *ClientIdMetaKey = "sync.client_id";
constexpr const char *KeychainEntryMetaKey = "keychain.entry";   // "service\nkey" the token was last read from
constexpr int MaxRecordBytes = 65536;   // the protocol's limit for a record's compact JSON

Error invalidState(const QString &message)
{
    return Error::fromKind(Error::Kind::InvalidState, message);
}

QByteArray fingerprintOf(const QByteArray &token)
{
    return QCryptographicHash::hash(token, QCryptographicHash::Sha256).toHex();
}

// The key of the token in the keychain service. With the default service it is scoped to
// the data directory: two clients of one app with their own data directories must not
// share one entry (each would take the other's token). A service the app chose itself is
// the app's own entry: key "session-token", as before.
QString keychainKey(const ClientOptions &options)
{
    if (!options.keychainService().isEmpty())
        return QString::fromLatin1(TokenKey);
    const QByteArray dir = QDir::cleanPath(QFileInfo(options.effectiveDataDirectory()).absoluteFilePath()).toUtf8();
    return QString::fromLatin1(TokenKey) + QLatin1Char('.')
            + QString::fromLatin1(QCryptographicHash::hash(dir, QCryptographicHash::Sha256).toHex().left(16));
}

Error sessionUserMismatch(const QString &message)
{
    return Error(Error::Kind::SessionGone, QString::fromLatin1(Error::SessionUserMismatchCode), message);
}

// An operation needed the stored token, which awaits its check against the server, and
// the check could not be made: the operation never tried the server itself. The check's
// kind (and so isTransient()) and status stay; its code and message go into the message.
Error awaitingCheck(const Error &checkError)
{
    return Error(checkError.kind(), QString::fromLatin1(Error::SessionUnconfirmedCode),
                 QStringLiteral("The stored session token awaits its check against the server and is not used "
                                "before it; the check failed: %1")
                         .arg(checkError.code() + QLatin1String(": ") + checkError.message()),
                 checkError.httpStatus());
}

// The session works, but only for this run: its token is not in the keychain.
Error tokenNotStored(const Error &keychainError)
{
    if (!keychainError.isError())
        return Error();
    return Error(keychainError.kind(), keychainError.code(),
                 QStringLiteral("The session works for this run only: its token could not be stored (%1)")
                         .arg(keychainError.message()));
}

QString newLocalId()
{
    return QUuid::createUuid().toString(QUuid::WithoutBraces);
}

} // namespace

// ---------------------------------------------------------------------------------
// ClientPrivate
// ---------------------------------------------------------------------------------

ClientPrivate::ClientPrivate(Client *q, const ClientOptions &opts)
    : q_ptr(q),
      options(opts),
      retryBackoff(opts.retryInitialDelay(), opts.retryMaxDelay()),
      continuationBackoff(opts.retryInitialDelay(), opts.retryMaxDelay())
{
    qRegisterMetaType<Kernia::Error>();
    qRegisterMetaType<Kernia::User>();
    qRegisterMetaType<Kernia::Record>();
}

ClientPrivate::~ClientPrivate()
{
    // Every future handed out finishes: CANCELLED for work that can no longer run.
    const Error cancelled = Error::fromKind(Error::Kind::Cancelled, QStringLiteral("The client was destroyed"));
    auto cancel = [&cancelled](const Job &job) {
        if (job.promise) {
            job.promise->addResult(cancelled);
            job.promise->finish();
        }
    };
    if (running)
        cancel(*running);
    for (const Job &job : std::as_const(jobs))
        cancel(job);
    jobs.clear();
    // Reverse order of dependencies; callbacks of in-flight requests are dropped. The
    // vault goes after the transport: it may still flush a token write (bounded).
    destroying = true;
    retryTimer.stop();
    syncDebounce.stop();
    syncContinuation.stop();
    // Collections (and the models watching them) go while the client is still whole.
    const QList<Collection *> owned = collections.values();
    collections.clear();
    qDeleteAll(owned);
    sync.reset();
    keeper.reset();
    reachability.reset();
    transport.reset();
    // The vault may wait for a keychain job in a local event loop. Nothing queued for this
    // client may run in there, least of all a deleteLater() the app posted: the client is
    // half destroyed already.
    QCoreApplication::removePostedEvents(q_ptr);
    vault.reset();
    store.reset();
}

void ClientPrivate::init()
{
    Q_Q(Client);
    const QString dataDir = options.effectiveDataDirectory();

    // 1. Local state, synchronously: the app sees its guest or account at once.
    store = std::make_unique<LocalStore>(dataDir);
    const Error storeError = store->open();
    if (storeError.isError())
        lastError = storeError;
    resolveClientId();   // before any profile is saved: each gets a client id of its own

    const std::optional<StoredIdentity> stored = store->identity();
    if (stored && stored->state != int(Client::State::SignedOut) && !stored->localId.isEmpty()) {
        const User cached = store->profileUser(stored->localId);
        if (cached.isValid()) {
            state = Client::State(stored->state);
            user = cached;
            hasServerSession = stored->hasServerSession;
            sessionExpiresAt = stored->sessionExpiresAt;
            tokenFingerprint = stored->tokenFingerprint;
            qCInfo(lcClient) << "restored" << state << user;
            absorbLeftProfiles();   // a run that ended between its sign-in and this step
        }
    }
    if (!stored && options.automaticGuest()) {
        // First launch: a usable guest before any network.
        state = Client::State::Guest;
        user = makeLocalGuest();
        persist();
        qCInfo(lcClient) << "first launch: local guest" << user.localId();
    }

    // 2. The parts that talk to the outside world.
    transport = std::make_unique<Transport>(options.serverUrl(), options.basePath(), options.requestTimeout());
    vault = std::make_unique<TokenVault>(
            options.effectiveKeychainService(), keychainKey(options),
            options.allowInsecurePlaintextTokenStorage() ? QDir(dataDir).filePath(QStringLiteral("session-token.insecure"))
                                                         : QString());
    reachability = std::make_unique<Reachability>(transport.get(), options.retryInitialDelay(),
                                                  options.retryMaxDelay(), options.useSystemNetworkInformation());
    keeper = std::make_unique<SessionKeeper>(transport.get(), options.sessionRefreshInterval());
    initSync();

    retryTimer.setSingleShot(true);
    QObject::connect(&retryTimer, &QTimer::timeout, q, [this] { enqueueMaintenance(); });

    QObject::connect(vault.get(), &TokenVault::keychainAvailableChanged, q, &Client::keychainAvailableChanged);
    QObject::connect(reachability.get(), &Reachability::onlineChanged, q, [this](bool online) {
        Q_Q(Client);
        keeper->setActive(online && hasServerSession);
        if (online) {
            // Back from offline: validate/slide the session and finish pending work
            // (maintenance ends with a sync).
            keeper->markDue();
            retryBackoff.reset();
            enqueueMaintenance();
        }
        Q_EMIT q->onlineChanged(online);
        updateSyncState();
    });
    QObject::connect(reachability.get(), &Reachability::probeFailed, q,
                     [this](const Error &error) { setLastError(error); });
    QObject::connect(keeper.get(), &SessionKeeper::due, q, [this] { enqueueMaintenance(); });

    // 3. The token, asynchronously; operations wait for it (ready()).
    readStoredToken();
}

// Vault callbacks need no guard: the vault goes with ClientPrivate and calls nothing back
// once it is being destroyed.
void ClientPrivate::readStoredToken()
{
    const QString here = vault->service() + QLatin1Char('\n') + vault->key();
    QString before = store->meta(QString::fromLatin1(KeychainEntryMetaKey));
    if (before.isEmpty() && hasServerSession)   // saved by an older SDK: it used the unscoped key
        before = vault->service() + QLatin1Char('\n') + QString::fromLatin1(TokenKey);
    const qsizetype split = before.indexOf(QLatin1Char('\n'));
    if (!store->isOpen() || !hasServerSession || split < 0 || before == here) {
        recordKeychainEntry();
        return vault->read([this](const VaultResult &r) { onVaultRead(r); });
    }
    moveOldKeychainEntry(before.left(split), before.mid(split + 1));
}

// This install's token may still be where an older version (or another keychain setting)
// kept it: move it to the current entry, once.
void ClientPrivate::moveOldKeychainEntry(const QString &oldService, const QString &oldKey)
{
    vault->read([this, oldService, oldKey](const VaultResult &here) {
        if (here.error.isError())
            return onVaultRead(here);   // cannot tell; the move is tried again at the next start
        if (!here.token.isEmpty()) {
            // Copied already (a move that was interrupted, or one whose token is not
            // confirmed yet, may have left the old copy).
            if (!tokenFingerprint) {
                // Whose token it is only get-session can tell: the old entry may be
                // shared with another data directory, so it stays until then.
                unconfirmedOldEntry = std::make_pair(oldService, oldKey);
                return onVaultRead(here);
            }
            if (fingerprintOf(here.token.toUtf8()) == *tokenFingerprint) {
                vault->readAt(oldService, oldKey, [this, oldService, oldKey, token = here.token](const VaultResult &old) {
                    if (!old.error.isError() && old.token == token)
                        vault->removeAt(oldService, oldKey, nullptr);
                });
            }
            recordKeychainEntry();
            return onVaultRead(here);
        }
        vault->readAt(oldService, oldKey, [this, here, oldService, oldKey](const VaultResult &old) {
            if (old.error.isError())
                return onVaultRead(old);
            // Ours if the fingerprint says so. Unknown (an older SDK saved none): it is
            // copied, and used for nothing but get-session until that names the cached
            // user; the old entry (possibly shared with another data directory) stays
            // until then.
            const bool known = tokenFingerprint.has_value();
            const bool candidate = !old.token.isEmpty()
                    && (!known || fingerprintOf(old.token.toUtf8()) == *tokenFingerprint);
            if (!candidate) {
                recordKeychainEntry();
                return onVaultRead(here);   // no token for this session: signed out, never the old entry touched
            }
            qCInfo(lcClient) << (known ? "moving" : "copying (until the server confirms its user)")
                             << "the session token from keychain entry" << oldService << oldKey << "to" << vault->key();
            vault->write(old.token, [this, old, oldService, oldKey, known](const VaultResult &written) {
                if (written.error.isError()) {
                    qCWarning(lcClient) << "cannot move the session token (tried again at the next start):"
                                        << written.error.toString();
                } else if (known) {
                    vault->removeAt(oldService, oldKey, nullptr);
                    recordKeychainEntry();
                }
                if (!known)
                    unconfirmedOldEntry = std::make_pair(oldService, oldKey);
                onVaultRead(old);
            });
        });
    });
}

void ClientPrivate::recordKeychainEntry()
{
    const QString here = vault->service() + QLatin1Char('\n') + vault->key();
    if (!store->isOpen() || store->meta(QString::fromLatin1(KeychainEntryMetaKey)) == here)
        return;
    const Error e = store->setMeta(QString::fromLatin1(KeychainEntryMetaKey), here);
    if (e.isError())
        setLastError(e);
}

void ClientPrivate::onVaultRead(const VaultResult &r)
{
    const QByteArray stored = r.token.toUtf8();
    // A session switch the last run did not finish: did its token reach the keychain?
    const std::optional<PendingIdentity> pending = r.error.isError() ? std::nullopt : store->pending();
    const bool resume = pending && !stored.isEmpty() && fingerprintOf(stored) == pending->identity.tokenFingerprint;
    // It did not, and it was this guest's upgrade: the server has linked (and deleted) the
    // guest, so the guest's token is dead and its data is the account's now.
    const bool lostUpgrade = pending && !resume && state == Client::State::Guest
            && pending->identity.state == int(Client::State::SignedIn) && pending->user.localId() == user.localId();
    if (pending && !resume && !r.error.isError()) {
        store->clearPending();   // otherwise the saved identity stands
        // A sign-in that was to leave this profile behind (a magic link that did not link
        // the guest) did not happen: it is the current one again.
        if (!lostUpgrade && state != Client::State::SignedOut)
            persist();
    }
    Error unusable;   // the keychain answered, but not with this session's token
    const char *accountProfileStatus = LocalStore::ProfileOffered;
    if (r.error.isError()) {
        qCWarning(lcClient) << "cannot read the session token:" << r.error.toString();
        setLastError(r.error);
        if (hasServerSession)
            tokenUnreadable = true;   // not a definite answer: keep the user, do not replace it
    } else if (resume) {
        // below, once ready
    } else if (lostUpgrade) {
        qCWarning(lcClient) << "the last run upgraded" << user << "to" << pending->user
                            << "but ended before the keychain stored the account's token";
        unusable = Error(Error::Kind::SessionGone, QString(),
                         QStringLiteral("The last sign-in ended before its session token was stored; sign in again"));
        accountProfileStatus = LocalStore::ProfileSignedOut;
        // Saved as the account's (signed out below), so signing in again takes it back.
        user = pending->user;
        state = Client::State::SignedIn;
        tokenFingerprint = QByteArray();
        persist();
    } else if (!hasServerSession) {
        if (!stored.isEmpty()) {
            qCInfo(lcClient) << "removing a stale token from the keychain";
            vault->remove(nullptr);
        }
    } else if (tokenFingerprint && tokenFingerprint->isEmpty()) {
        // The last run could not store the token: whatever the keychain has is not it.
        // Not a lost session: the account signs in again and finds its data.
        qCWarning(lcClient) << "the session token of" << user << "was never stored in the keychain";
        unusable = Error(Error::Kind::SessionGone, QString(),
                         QStringLiteral("The session token of the last run could not be stored in the keychain; "
                                        "sign in again"));
        accountProfileStatus = LocalStore::ProfileSignedOut;
    } else if (stored.isEmpty()) {
        // The keychain answered, and it has no token for a session we know we had.
        // Not the account's data to give away: it signs in again and finds it.
        qCWarning(lcClient) << "no session token in the keychain for" << user;
        unusable = Error(Error::Kind::SessionGone, QString(), QStringLiteral("The session token is missing from the keychain"));
        accountProfileStatus = LocalStore::ProfileSignedOut;
    } else if (tokenFingerprint && fingerprintOf(stored) != *tokenFingerprint) {
        // Written by someone else (e.g. another client sharing the entry): this session's
        // token is gone, and the one there may be another user's, whose data must not
        // mix with this profile's. The account signs in again and finds its data.
        qCWarning(lcClient) << "the keychain holds another session token than the one stored for" << user;
        unusable = Error(Error::Kind::SessionGone, QString(),
                         QStringLiteral("The keychain holds another session token than the one stored for this "
                                        "user; it is not used"));
        accountProfileStatus = LocalStore::ProfileSignedOut;
    } else {
        token = stored;
        // With a fingerprint that matched, it is this session's token; without one (an
        // older SDK's database) get-session must name the cached user first.
        tokenConfirmed = tokenFingerprint.has_value();
        if (!tokenConfirmed)
            keeper->markDue();
    }
    setReady(true);
    if (resume)
        resumeSession(stored, *pending);
    else if (unusable.isError())
        handleSessionGone(unusable, accountProfileStatus);
    keeper->setActive(reachability->isOnline() && hasServerSession);
    reachability->start();
    enqueueMaintenance();
}

void ClientPrivate::resumeSession(const QByteArray &storedToken, const PendingIdentity &pending)
{
    Q_Q(Client);
    qCInfo(lcClient) << "finishing a session switch the last run left after storing its token:" << pending.user;
    const User previous = user;
    const Client::State previousState = state;
    const bool hadSession = hasServerSession;
    token = storedToken;
    tokenConfirmed = true;   // its fingerprint is the journal's
    tokenUnreadable = false;
    tokenFingerprint = pending.identity.tokenFingerprint;
    sessionExpiresAt = pending.identity.sessionExpiresAt;
    keeper->markDue();
    setIdentity(Client::State(pending.identity.state), pending.user, true);
    if (previous.id() == user.id())
        return;   // a refreshed token of the same session
    if (previousState == Client::State::Guest && !hadSession && state == Client::State::Guest) {
        Q_EMIT q->guestRegistered(user);
    } else if (previousState == Client::State::Guest && previous.localId() == user.localId()) {
        Q_EMIT q->guestUpgraded(previous, user);
    } else {
        // (A guest that a magic link did not link stays behind in its own profile, offered.)
        Q_EMIT q->signedIn(user);
        offerOrphans();
    }
}

// --- operation queue -----------------------------------------------------------------

QFuture<Error> ClientPrivate::enqueue(Client::Operation op, std::function<void(Done)> run)
{
    Job job;
    job.op = op;
    job.explicitOp = true;
    job.run = std::move(run);
    job.promise = std::make_shared<QPromise<Error>>();
    job.promise->start();
    QFuture<Error> future = job.promise->future();
    jobs.enqueue(std::move(job));
    setBusy(true);
    schedulePump();
    return future;
}

void ClientPrivate::enqueueMaintenance()
{
    if (maintenanceQueued || destroying)
        return;
    maintenanceQueued = true;
    Job job;
    job.op = Client::Operation::None;
    job.explicitOp = false;
    job.run = [this](Done done) { maintain(std::move(done)); };
    jobs.enqueue(std::move(job));
    schedulePump();
}

void ClientPrivate::schedulePump()
{
    Q_Q(Client);
    if (pumpScheduled)
        return;
    pumpScheduled = true;
    QMetaObject::invokeMethod(q, [this] {
        pumpScheduled = false;
        pump();
    }, Qt::QueuedConnection);
}

void ClientPrivate::pump()
{
    if (!ready || running || jobs.isEmpty() || destroying)
        return;
    running = std::make_unique<Job>(jobs.dequeue());
    if (running->autoSync)
        syncQueued = false;
    else if (!running->explicitOp && !running->promise)
        maintenanceQueued = false;
    auto finished = std::make_shared<bool>(false);
    Job *current = running.get();
    // Keep the function alive while it runs: done() may be called synchronously and
    // destroys the job.
    const std::function<void(Done)> run = std::move(current->run);
    run([this, finished, current](const Error &error) {
        if (*finished || running.get() != current)
            return;
        *finished = true;
        const Job job = *running;
        running.reset();
        finishJob(job, error);
        schedulePump();
    });
}

void ClientPrivate::finishJob(const Job &job, const Error &error)
{
    Q_Q(Client);
    bool moreExplicit = false;
    for (const Job &j : std::as_const(jobs))
        moreExplicit = moreExplicit || j.explicitOp;
    if (job.explicitOp) {
        if (error.isError()) {
            qCInfo(lcClient) << job.op << "failed:" << error.toString();
            setLastError(error);
        } else {
            setLastError(Error());   // the app's last request worked: nothing to show
        }
        setBusy(moreExplicit);
        Q_EMIT q->finished(job.op, error);
        if (job.promise) {
            job.promise->addResult(error);
            job.promise->finish();
        }
    } else {
        // Background work (maintenance, automatic sync, syncNow()): failures retry with
        // backoff (for a 401 the retry validates the session first); syncNow()'s own
        // future reports its result too.
        if (error.isError() && (!job.promise || error.isTransient() || error.httpStatus() == 401))
            scheduleRetry(error);
        else if (!error.isError())
            retryBackoff.reset();
        if (job.promise) {
            job.promise->addResult(error);
            job.promise->finish();
        }
    }
}

void ClientPrivate::scheduleRetry(const Error &error)
{
    setLastError(error);
    if (!reachability->isOnline())
        return;   // the reachability probe brings us back (onlineChanged → maintenance)
    if (!retryTimer.isActive()) {
        const int delay = retryBackoff.next();
        qCInfo(lcClient) << "background work failed (" << error.toString() << "), retrying in" << delay << "ms";
        retryTimer.start(delay);
    }
}

// --- the work ------------------------------------------------------------------------

void ClientPrivate::maintain(Done done)
{
    if (!reachability->isOnline())
        return done(Error());
    // The session first, then (automatic sync) a push/pull cycle.
    Done thenSync = [this, done](const Error &error) {
        if (error.isError() || !options.autoSync() || destroying)
            return done(error);
        syncCycle(false, done);
    };
    if (state == Client::State::Guest && !hasServerSession)
        return registerGuest(std::move(thenSync));
    if (hasServerSession && !token.isEmpty() && (keeper->isDue() || !tokenConfirmed))
        return checkSession(false, std::move(thenSync));
    thenSync(Error());
}

QByteArray ClientPrivate::guestBearer() const
{
    return state == Client::State::Guest && hasServerSession && tokenConfirmed ? token : QByteArray();
}

void ClientPrivate::withConfirmedToken(bool explicitOp, std::function<void()> proceed, Done done)
{
    if (token.isEmpty() || tokenConfirmed)
        return proceed();
    // Offline, get-session fails with its transient error, and the job with it, saying
    // that the token awaits its check (the job itself sent nothing).
    checkSession(explicitOp, [this, proceed, done](const Error &error) {
        if (error.isError())
            return done(error.isTransient() ? awaitingCheck(error) : error);
        if (!tokenConfirmed)
            return done(Error());   // background work: the session was lost (handled)
        proceed();
    });
}

void ClientPrivate::confirmToken(const QByteArray &checked)
{
    const bool wasConfirmed = tokenConfirmed;
    tokenConfirmed = true;
    if (!tokenFingerprint) {
        tokenFingerprint = fingerprintOf(checked);   // saved with the identity (persist)
        persist();
    }
    if (!wasConfirmed)
        qCInfo(lcClient) << "the server confirmed the stored session token of" << user;
    if (const auto old = std::exchange(unconfirmedOldEntry, std::nullopt)) {
        // The older entry may have been shared: remove it only if it still holds this token.
        const QString oldService = old->first, oldKey = old->second;
        vault->readAt(oldService, oldKey, [this, oldService, oldKey, checked](const VaultResult &r) {
            if (!r.error.isError() && r.token.toUtf8() == checked)
                vault->removeAt(oldService, oldKey, nullptr);
        });
        recordKeychainEntry();
    }
}

void ClientPrivate::registerGuest(Done done)
{
    Q_Q(Client);
    transport->post(QStringLiteral("/sign-in/anonymous"), QJsonObject(), QByteArray(),
                    [this, q, done](const HttpResult &r) {
        if (r.error.isError())
            return done(r.error);
        const QJsonObject body = r.body.toObject();
        const QByteArray newToken = !r.setAuthToken.isEmpty() ? r.setAuthToken
                                                              : body.value(QLatin1String("token")).toString().toUtf8();
        const QJsonValue userJson = body.value(QLatin1String("user"));
        if (newToken.isEmpty() || !userJson.isObject())
            return done(Error(Error::Kind::BadResponse, QString(),
                              QStringLiteral("POST /sign-in/anonymous answered without a token and user"), r.status));
        if (state != Client::State::Guest || hasServerSession)
            return done(Error());   // overtaken (cannot happen with the queue; be safe)
        const User registered = User::fromJson(userJson.toObject(), user.localId());
        keeper->markDue();
        commitSession(newToken, Client::State::Guest, registered, [this, q, registered, done](const Error &keychainError) {
            keeper->setActive(reachability->isOnline());
            qCInfo(lcClient) << "guest registered on the server" << registered;
            Q_EMIT q->guestRegistered(registered);
            succeedWithWarning(done, tokenNotStored(keychainError));
        });
    });
}

void ClientPrivate::checkSession(bool explicitOp, Done done)
{
    keeper->check(token, [this, explicitOp, done, checkedToken = token](const SessionKeeper::Outcome &out) {
        if (token != checkedToken)
            return done(Error());   // overtaken (cannot happen with the queue; be safe)
        switch (out.kind) {
        case SessionKeeper::Outcome::Kind::Valid: {
            const User fresh = User::fromJson(out.user, user.localId());
            if (fresh.id().isEmpty())
                return done(Error(Error::Kind::BadResponse, QString(),
                                  QStringLiteral("GET /get-session answered a user without an id")));
            if (fresh.id() != user.id()) {
                // Another server user's token (e.g. written by another client into a shared
                // keychain entry): its user must not take over this profile and its data.
                qCWarning(lcClient) << "get-session names" << fresh.id() << "for the stored token of" << user;
                const Error mismatch = sessionUserMismatch(
                        QStringLiteral("The stored session token belongs to another user; it is not used"));
                handleSessionGone(mismatch, LocalStore::ProfileSignedOut);
                return done(explicitOp ? mismatch : Error());
            }
            confirmToken(checkedToken);
            sessionExpiresAt = out.expiresAt;
            const Client::State freshState = fresh.isAnonymous() ? Client::State::Guest : Client::State::SignedIn;
            if (!out.refreshedToken.isEmpty() && out.refreshedToken != token) {
                return commitSession(out.refreshedToken, freshState, fresh, [this, done](const Error &keychainError) {
                    succeedWithWarning(done, tokenNotStored(keychainError));
                });
            }
            setIdentity(freshState, fresh, true);
            return done(Error());
        }
        case SessionKeeper::Outcome::Kind::Gone:
            // An unconfirmed token may not have been this account's: its data stays its own.
            handleSessionGone(out.error, tokenConfirmed ? LocalStore::ProfileOffered : LocalStore::ProfileSignedOut);
            return done(explicitOp ? out.error : Error());
        case SessionKeeper::Outcome::Kind::Failed:
            return done(out.error);
        }
    });
}

void ClientPrivate::authenticate(Sender send, Done done, GuestLinked guestLinked)
{
    Q_Q(Client);
    if (state == Client::State::SignedIn)
        return done(invalidState(QStringLiteral("Already signed in to an account; sign out first")));
    if (tokenUnreadable)
        return done(Error::fromKind(Error::Kind::KeychainUnavailable,
                                    QStringLiteral("The guest's session token cannot be read from the keychain")));
    // A guest's unconfirmed token links nobody's data before get-session named this guest.
    if (state == Client::State::Guest && hasServerSession && !tokenConfirmed)
        return withConfirmedToken(true, [this, send, done, guestLinked] { authenticate(send, done, guestLinked); }, done);
    send(guestBearer(), [this, q, done, guestLinked](const HttpResult &r) {
        if (r.error.isError())
            return done(r.error);   // the guest stays exactly as it was
        const QJsonObject body = r.body.toObject();
        const QByteArray newToken = !r.setAuthToken.isEmpty() ? r.setAuthToken
                                                              : body.value(QLatin1String("token")).toString().toUtf8();
        const QJsonValue userJson = body.value(QLatin1String("user"));
        if (newToken.isEmpty() || !userJson.isObject())
            return done(Error(Error::Kind::BadResponse, QString(),
                              QStringLiteral("The server answered without a session token and user"), r.status));
        const User previous = user;
        const Client::State previousState = state;
        // Not linked (a magic link this guest did not ask for): the server left the guest
        // and its synced records where they were, so its local data is not the account's.
        const bool linked = previousState == Client::State::Guest && (!guestLinked || guestLinked(userJson.toObject(), r));
        QString localId;
        if (linked) {
            localId = previous.localId();   // the guest's local data goes with it
        } else {
            // An account signing in again on this device gets back the data it left (at
            // sign-out, or when its session was lost).
            // With several (rare: each sign-in takes the others back), none is continued:
            // a fresh profile takes them all back (each change keeps its mid and the
            // client id it was numbered under).
            const QStringList left = store->leftProfiles(userJson.toObject().value(QLatin1String("id")).toString());
            localId = left.size() == 1 ? left.first() : newLocalId();
        }
        const User account = User::fromJson(userJson.toObject(), localId);
        sessionExpiresAt = QDateTime::fromString(body.value(QLatin1String("session")).toObject()
                                                         .value(QLatin1String("expiresAt")).toString(),
                                                 Qt::ISODateWithMs);
        keeper->markDue();
        if (previousState == Client::State::Guest && !linked) {
            // Left behind like a guest whose session was lost: offered to the account, so
            // its full pull (a profile of its own) drops none of it. Before the switch, as
            // at a lost session: a restart in between finds it offered already.
            qCInfo(lcClient) << "the magic link was requested elsewhere, not by" << previous
                             << "- the server signed in" << account << "without linking the guest;"
                             << "its local data is offered";
            store->setProfileStatus(previous.localId(), QString::fromLatin1(LocalStore::ProfileOffered));
        }
        // Same keychain entry: writing the new token replaces (removes) the guest's.
        commitSession(newToken, account.isAnonymous() ? Client::State::Guest : Client::State::SignedIn, account,
                      [this, q, previous, linked, account, done](const Error &keychainError) {
            keeper->setActive(reachability->isOnline());
            if (linked) {
                qCInfo(lcClient) << "guest upgraded" << previous << "->" << account;
                Q_EMIT q->guestUpgraded(previous, account);
            } else {
                qCInfo(lcClient) << "signed in" << account;
                Q_EMIT q->signedIn(account);
                offerOrphans();
            }
            succeedWithWarning(done, tokenNotStored(keychainError));
        });
    });
}

void ClientPrivate::signOutNow(Done done)
{
    Q_Q(Client);
    if (state == Client::State::SignedOut)
        return done(Error());
    const QByteArray oldToken = token;
    const User previous = user;
    if (hasServerSession && !oldToken.isEmpty() && tokenConfirmed) {
        // (An unconfirmed token may be another user's session: not ours to end.)
        // Best effort: the local sign-out does not wait for (or depend on) the server.
        transport->post(QStringLiteral("/sign-out"), QJsonObject(), oldToken, [](const HttpResult &r) {
            if (r.error.isError())
                qCInfo(lcClient) << "server sign-out failed (session expires by itself):" << r.error.toString();
        });
    }
    dropToken();
    if (!previous.localId().isEmpty())
        store->setProfileStatus(previous.localId(), QString::fromLatin1(LocalStore::ProfileSignedOut));
    store->forgetMagicLinkRequests();   // a guest that signs out never comes back
    setIdentity(Client::State::SignedOut, User(), false);
    keeper->setActive(false);
    Q_EMIT q->signedOut();
    vault->remove([done](const VaultResult &) { done(Error()); });
}

void ClientPrivate::deleteGuestNow(Done done)
{
    if (state != Client::State::Guest)
        return done(invalidState(QStringLiteral("Only a guest can be deleted")));
    auto finishLocally = [this, done] { forgetDeletedUser(done); };
    if (!hasServerSession)
        return finishLocally();
    if (token.isEmpty())
        return done(Error::fromKind(Error::Kind::KeychainUnavailable,
                                    QStringLiteral("The guest's session token cannot be read from the keychain")));
    withConfirmedToken(true, [this, done, finishLocally] {
        if (state != Client::State::Guest || token.isEmpty())
            return done(invalidState(QStringLiteral("The guest's session was lost; nothing was deleted")));
        transport->post(QStringLiteral("/delete-anonymous-user"), QJsonObject(), token,
                        [done, finishLocally](const HttpResult &r) {
            // 401: the server no longer knows the session — the guest is gone there already.
            if (r.error.isError() && !(r.error.kind() == Error::Kind::Rejected && r.status == 401))
                return done(r.error);
            finishLocally();
        });
    }, done);
}

void ClientPrivate::dropToken()
{
    token.clear();
    tokenConfirmed = false;
    // An older entry the token was copied from is not this install's: it stays as it is.
    unconfirmedOldEntry.reset();
    tokenUnreadable = false;
    tokenFingerprint.reset();
    sessionExpiresAt = QDateTime();
}

void ClientPrivate::forgetDeletedUser(Done done)
{
    Q_Q(Client);
    const QString localId = user.localId();
    dropToken();
    setIdentity(Client::State::SignedOut, User(), false);
    if (!localId.isEmpty())
        store->discard(localId);
    keeper->setActive(false);
    Q_EMIT q->signedOut();
    vault->remove([done](const VaultResult &) { done(Error()); });
}

void ClientPrivate::deleteAccountNow(const QJsonObject &body, Done done)
{
    Q_Q(Client);
    if (state != Client::State::SignedIn)
        return done(invalidState(state == Client::State::Guest
                                     ? QStringLiteral("A guest is deleted with deleteGuest()")
                                     : QStringLiteral("Nobody is signed in")));
    if (token.isEmpty())
        return done(Error::fromKind(Error::Kind::KeychainUnavailable,
                                    QStringLiteral("The session token cannot be read from the keychain")));
    withConfirmedToken(true, [this, q, body, done] {
        if (state != Client::State::SignedIn || token.isEmpty())
            return done(invalidState(QStringLiteral("The session was lost; nothing was deleted")));
        const User account = user;
        transport->post(QStringLiteral("/delete-user"), body, token, [this, q, account, done](const HttpResult &r) {
            if (r.error.isError())
                return done(r.error);
            if (user.id() != account.id())   // signed out or switched meanwhile
                return done(invalidState(QStringLiteral("The account changed while it was being deleted")));
            const QString message = r.body.toObject().value(QLatin1String("message")).toString();
            if (message == QLatin1String("Verification email sent")) {
                qCInfo(lcClient) << "the server mailed a link to confirm deleting" << account;
                Q_EMIT q->accountDeletionMailed(account);
                return done(Error());
            }
            qCInfo(lcClient) << "account deleted on the server:" << account;
            Q_EMIT q->accountDeleted(account);
            forgetDeletedUser(done);
        });
    }, done);
}

void ClientPrivate::handleSessionGone(const Error &reason, const char *accountProfileStatus)
{
    Q_Q(Client);
    const User previous = user;
    const Client::State previousState = state;
    qCWarning(lcClient) << "the session of" << previous << "cannot be used any more:" << reason.toString();
    dropToken();
    vault->remove(nullptr);   // this install's own entry: what it holds is of no use here
    // A guest cannot sign in again: its data is offered to the next user.
    const char *status = previousState == Client::State::Guest ? LocalStore::ProfileOffered : accountProfileStatus;
    if (!previous.localId().isEmpty())
        store->setProfileStatus(previous.localId(), QString::fromLatin1(status));
    setLastError(reason);
    keeper->setActive(false);
    if (previousState == Client::State::Guest) {
        // A new guest at once; the old guest's local data stays and is offered to it.
        setIdentity(Client::State::Guest, makeLocalGuest(), false);
        Q_EMIT q->sessionLost(previous, reason);
        offerOrphans();
        enqueueMaintenance();   // the new guest registers itself on the server
    } else {
        setIdentity(Client::State::SignedOut, User(), false);
        Q_EMIT q->sessionLost(previous, reason);
    }
}

// --- state -----------------------------------------------------------------------------

User ClientPrivate::makeLocalGuest() const
{
    User guest;
    guest.setLocalId(newLocalId());
    guest.setName(QStringLiteral("Guest"));
    guest.setAnonymous(true);
    guest.setCreatedAt(QDateTime::currentDateTimeUtc());
    guest.setUpdatedAt(guest.createdAt());
    return guest;
}

void ClientPrivate::setIdentity(Client::State newState, const User &newUser, bool newHasServerSession)
{
    Q_Q(Client);
    const bool stateChanged = state != newState;
    const bool userChanged = user != newUser;
    const bool sessionChanged = hasServerSession != newHasServerSession;
    const QString previousOwner = owner();
    const QString previousUserId = user.id();
    state = newState;
    user = newUser;
    hasServerSession = newHasServerSession;
    persist();
    // An account signing in (also by upgrading a guest) takes back what it left here.
    const bool absorbed = user.id() != previousUserId && absorbLeftProfiles();
    if (stateChanged)
        Q_EMIT q->stateChanged(state);
    if (userChanged)
        Q_EMIT q->userChanged(user);
    if (sessionChanged)
        Q_EMIT q->hasServerSessionChanged(hasServerSession);
    if (owner() != previousOwner || absorbed) {
        resetCollections();
        updatePendingChanges();
    }
    // A new server user for this data (guest registered, guest upgraded, signed in):
    // push what is pending and pull that user's state.
    if (hasServerSession && !user.id().isEmpty() && (sessionChanged || user.id() != previousUserId))
        enqueueSync();
}

void ClientPrivate::persist()
{
    if (!store || !store->isOpen())
        return;
    StoredIdentity id;
    id.state = int(state);
    id.localId = state == Client::State::SignedOut ? QString() : user.localId();
    id.hasServerSession = hasServerSession;
    id.sessionExpiresAt = sessionExpiresAt;
    if (hasServerSession)
        id.tokenFingerprint = tokenFingerprint;
    const Error e = store->saveCurrent(id, state == Client::State::SignedOut ? User() : user);
    if (e.isError())
        setLastError(e);
}

void ClientPrivate::commitSession(const QByteArray &newToken, Client::State newState, const User &newUser,
                                  std::function<void(const Error &)> then)
{
    PendingIdentity pending;
    pending.identity.state = int(newState);
    pending.identity.localId = newUser.localId();
    pending.identity.hasServerSession = true;
    pending.identity.sessionExpiresAt = sessionExpiresAt;
    pending.identity.tokenFingerprint = fingerprintOf(newToken);
    pending.user = newUser;
    if (store->isOpen()) {
        if (const Error e = store->savePending(pending); e.isError())
            qCWarning(lcClient) << "cannot journal the session switch:" << e.toString();
        else
            qCDebug(lcClient) << "session switch noted, storing the session token for" << newUser;
    }
    vault->write(QString::fromUtf8(newToken), [this, newToken, newState, newUser, pending, then](const VaultResult &r) {
        if (r.error.isError()) {
            qCWarning(lcClient) << "the session token could not be stored; it is kept in memory for this run:"
                                << r.error.toString();
        } else {
            qCDebug(lcClient) << "session token stored in the keychain for" << newUser;
        }
        token = newToken;
        tokenConfirmed = true;   // the server issued it for newUser
        unconfirmedOldEntry.reset();
        tokenUnreadable = false;
        // Empty: the saved identity says "token not stored", so a restart does not take
        // whatever the keychain holds for it (and does not offer the data away).
        tokenFingerprint = r.error.isError() ? QByteArray() : *pending.identity.tokenFingerprint;
        setIdentity(newState, newUser, true);   // saves the identity and drops the journal
        then(r.error);
    });
}

void ClientPrivate::succeedWithWarning(const Done &done, const Error &warning)
{
    Q_Q(Client);
    QPointer<Client> guard(q);
    done(Error());
    if (guard && warning.isError())
        setLastError(warning);
}

bool ClientPrivate::absorbLeftProfiles()
{
    if (state != Client::State::SignedIn || user.id().isEmpty() || !store->isOpen())
        return false;
    bool absorbed = false;
    // Oldest first (by their last pending change): a newer profile's change of a record is
    // replayed after an older one's.
    QStringList left = store->leftProfiles(user.id(), user.localId());
    std::reverse(left.begin(), left.end());
    for (const QString &localId : std::as_const(left)) {
        // Same server user: only its pending changes move, keeping their mids (see adopt()).
        const Error e = store->adopt(localId, user.localId());
        if (e.isError()) {
            qCWarning(lcClient) << "cannot take back the local data" << localId << "of" << user << ":" << e.toString();
            setLastError(e);
            continue;
        }
        qCInfo(lcClient) << "took back the pending changes" << user << "left in" << localId;
        absorbed = true;
    }
    return absorbed;
}

void ClientPrivate::setLastError(const Error &error)
{
    Q_Q(Client);
    if (lastError == error)
        return;
    lastError = error;
    Q_EMIT q->lastErrorChanged(lastError);
}

void ClientPrivate::setBusy(bool b)
{
    Q_Q(Client);
    if (busy == b)
        return;
    busy = b;
    Q_EMIT q->busyChanged(busy);
}

void ClientPrivate::setReady(bool r)
{
    Q_Q(Client);
    if (ready == r)
        return;
    ready = r;
    Q_EMIT q->readyChanged(ready);
    schedulePump();
}

void ClientPrivate::offerOrphans()
{
    Q_Q(Client);
    if (state == Client::State::SignedOut)
        return;
    const QStringList ids = store->profiles(QString::fromLatin1(LocalStore::ProfileOffered));
    for (const QString &id : ids) {
        if (id != user.localId())
            Q_EMIT q->localDataOffered(id, store->profileUser(id));
    }
}

// --- data sync -------------------------------------------------------------------------

void ClientPrivate::resolveClientId()
{
    clientId = options.clientId();
    if (!clientId.isEmpty() && !SyncEngine::isValidClientId(clientId)) {
        qCWarning(lcClient) << "ClientOptions::clientId" << clientId << "is not [A-Za-z0-9._:-]{1,128}; using the generated id";
        setLastError(Error::fromKind(Error::Kind::InvalidArgument,
                                     QStringLiteral("ClientOptions::clientId must match [A-Za-z0-9._:-]{1,128}")));
        clientId.clear();
    }
    if (clientId.isEmpty()) {
        clientId = store->meta(QString::fromLatin1(ClientIdMetaKey));
        if (clientId.isEmpty()) {
            clientId = QStringLiteral("kernia-") + QUuid::createUuid().toString(QUuid::Id128);
            if (store->isOpen()) {   // otherwise the open error is already in lastError
                const Error e = store->setMeta(QString::fromLatin1(ClientIdMetaKey), clientId);
                if (e.isError())
                    setLastError(e);
            }
        }
    }
    store->setInstallClientId(clientId);
}

void ClientPrivate::initSync()
{
    Q_Q(Client);
    sync = std::make_unique<SyncEngine>(store.get(), transport.get(), SyncEngine::syncBasePathFor(options.basePath()),
                                        clientId);
    QObject::connect(sync.get(), &SyncEngine::recordsTouched, q,
                     [this](const QString &o, const TouchedRecords &touched) { notifyTouched(o, touched); });
    QObject::connect(sync.get(), &SyncEngine::outboxChanged, q, [this] { updatePendingChanges(); });
    QObject::connect(sync.get(), &SyncEngine::changeRejected, q,
                     [this, q](const QString &o, const QString &collection, const QString &id, const Error &reason) {
        if (o == owner())
            Q_EMIT q->changeRejected(collection, id, reason);
    });
    syncDebounce.setSingleShot(true);
    syncDebounce.setInterval(options.syncDelay());
    QObject::connect(&syncDebounce, &QTimer::timeout, q, [this] { enqueueSync(); });
    syncContinuation.setSingleShot(true);
    QObject::connect(&syncContinuation, &QTimer::timeout, q, [this] { enqueueSync(true); });
    sync->setMaxPullPages(options.maxPullPagesPerSync());
    pendingChanges = store->outboxCount(owner());
}

QString ClientPrivate::owner() const
{
    return state == Client::State::SignedOut ? QString() : user.localId();
}

void ClientPrivate::scheduleSync()
{
    if (!options.autoSync() || destroying)
        return;
    if (!syncDebounce.isActive())   // not restarted: a stream of writes still syncs every syncDelay
        syncDebounce.start();
}

void ClientPrivate::enqueueSync(bool continuation)
{
    if ((!options.autoSync() && !continuation) || syncQueued || destroying)
        return;
    syncQueued = true;
    Job job;
    job.op = Client::Operation::None;
    job.explicitOp = false;
    job.autoSync = true;
    job.run = [this](Done done) {
        if (!reachability->isOnline())
            return done(Error());   // the reconnect runs maintenance, which syncs
        syncCycle(false, std::move(done));
    };
    jobs.enqueue(std::move(job));
    schedulePump();
}

QFuture<Error> ClientPrivate::enqueueSyncNow()
{
    Job job;
    job.op = Client::Operation::None;
    job.explicitOp = false;
    job.run = [this](Done done) { syncCycle(true, std::move(done)); };
    job.promise = std::make_shared<QPromise<Error>>();
    job.promise->start();
    QFuture<Error> future = job.promise->future();
    jobs.enqueue(std::move(job));
    schedulePump();
    return future;
}

void ClientPrivate::syncCycle(bool explicitOp, Done done)
{
    if (owner().isEmpty())
        return done(explicitOp ? invalidState(QStringLiteral("Nobody is signed in")) : Error());
    if (!hasServerSession) {
        if (explicitOp && state == Client::State::Guest) {
            // A local-only guest gets its server session first.
            return registerGuest([this, done](const Error &error) {
                if (error.isError() || !hasServerSession)
                    return done(error);
                syncCycle(true, done);
            });
        }
        return done(explicitOp ? invalidState(QStringLiteral("No server session to sync with")) : Error());
    }
    if (token.isEmpty() || user.id().isEmpty())
        return done(explicitOp ? Error::fromKind(Error::Kind::KeychainUnavailable,
                                                 QStringLiteral("The session token cannot be read from the keychain"))
                               : Error());
    if (!tokenConfirmed) {
        // Not sent to the sync endpoints before get-session named the cached user.
        return withConfirmedToken(explicitOp, [this, explicitOp, done] { syncCycle(explicitOp, done); }, done);
    }
    Q_Q(Client);
    syncing = true;
    updateSyncState();
    QPointer<Client> guard(q);
    sync->run(SyncEngine::Context{ owner(), user.id(), token }, [this, guard, done](const Error &error) {
        if (!guard)
            return;
        syncing = false;
        if (error.kind() == Error::Kind::Rejected && error.httpStatus() == 401) {
            // The server does not accept the session: let the next maintenance find out
            // whether it is gone (GET /get-session) rather than guessing here.
            keeper->markDue();
        }
        if (error.isError())
            qCInfo(lcClient) << "sync failed:" << error.toString();
        syncError = error;
        updatePendingChanges();
        updateSyncState();
        if (!error.isError() && sync->stoppedAtBudget()) {
            scheduleSyncContinuation(sync->pulledSparsePages());   // not synced() yet: more to pull
        } else if (!error.isError()) {
            syncContinuation.stop();   // this run reached the end
            continuationBackoff.reset();
            Q_EMIT guard->synced();
        }
        done(error);
    });
}

void ClientPrivate::scheduleSyncContinuation(bool sparsePages)
{
    // Full pages are a large account's: the next part after the base delay. Sparse pages
    // are what a server whose pull never ends sends: each pause twice the last, up to
    // retryMaxDelay, so such a server gets a slice of the client now and then, not all of it.
    if (!sparsePages)
        continuationBackoff.reset();
    if (syncContinuation.isActive())
        return;
    const int delay = continuationBackoff.next();
    qCDebug(lcClient) << "the sync stopped at its page budget; the next one in" << delay << "ms";
    syncContinuation.start(delay);
}

Error ClientPrivate::writeRecord(const QString &collection, const QString &op, const QString &id,
                                 const QJsonObject &data)
{
    Error e;
    if (!SyncEngine::isValidCollection(collection))
        e = Error::fromKind(Error::Kind::InvalidArgument,
                            QStringLiteral("Invalid collection name \"%1\" ([A-Za-z0-9_][A-Za-z0-9_.-]{0,63})").arg(collection));
    else if (!SyncEngine::isValidRecordId(id))
        e = Error::fromKind(Error::Kind::InvalidArgument,
                            QStringLiteral("Invalid record id (1-256 characters, no control characters)"));
    else if (owner().isEmpty())
        e = invalidState(QStringLiteral("Nobody is signed in: become a guest or sign in first"));
    if (!e.isError() && op != QLatin1String("delete")) {
        // The record as it would be after this write must fit the server's limit, or, for
        // a patch of a record already above it (a server's conflict record), not grow: the
        // server applies the same rule.
        const auto compactSize = [](const std::optional<QJsonObject> &record) {
            return QJsonDocument(record.value_or(QJsonObject())).toJson(QJsonDocument::Compact).size();
        };
        std::optional<QJsonObject> base;
        if (op == QLatin1String("patch")) {
            if (const auto current = store->record(owner(), collection, id))
                base = current->data;
        }
        const qsizetype after = compactSize(LocalStore::applyOp(base, op, data));
        if (after > MaxRecordBytes && after > (base ? compactSize(base) : 0))
            e = Error::fromKind(Error::Kind::InvalidArgument,
                                QStringLiteral("The record would be larger than %1 bytes").arg(MaxRecordBytes));
    }
    if (!e.isError())
        e = store->writeLocal(owner(), op, collection, id, data);
    if (e.isError()) {
        setLastError(e);
        return e;
    }
    TouchedRecords touched;
    touched[collection].insert(id);
    notifyTouched(owner(), touched);
    updatePendingChanges();
    scheduleSync();
    return Error();
}

void ClientPrivate::notifyTouched(const QString &touchedOwner, const TouchedRecords &touched)
{
    if (touchedOwner != owner())
        return;
    for (auto it = touched.constBegin(); it != touched.constEnd(); ++it) {
        Collection *c = collections.value(it.key());
        if (!c)
            continue;
        QStringList ids(it.value().cbegin(), it.value().cend());
        ids.sort();
        for (const QString &id : std::as_const(ids))
            Q_EMIT c->recordChanged(id);
        Q_EMIT c->changed();
    }
}

void ClientPrivate::resetCollections()
{
    const QList<Collection *> all = collections.values();
    for (Collection *c : all) {
        Q_EMIT c->reset();
        Q_EMIT c->changed();
    }
}

void ClientPrivate::updatePendingChanges()
{
    Q_Q(Client);
    const int n = store ? store->outboxCount(owner()) : 0;
    if (n == pendingChanges)
        return;
    pendingChanges = n;
    Q_EMIT q->pendingChangesChanged(pendingChanges);
}

void ClientPrivate::updateSyncState()
{
    Q_Q(Client);
    Client::SyncState s = Client::SyncState::Idle;
    if (syncing)
        s = Client::SyncState::Syncing;
    else if (!reachability || !reachability->isOnline())
        s = Client::SyncState::Offline;
    else if (syncError.isError())
        s = Client::SyncState::Error;
    if (s == syncState)
        return;
    syncState = s;
    Q_EMIT q->syncStateChanged(syncState);
}

// ---------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------

Client::Client(const ClientOptions &options, QObject *parent)
    : QObject(parent), d_ptr(new ClientPrivate(this, options))
{
    Q_D(Client);
    d->init();
}

Client::~Client() = default;

ClientOptions Client::options() const
{
    Q_D(const Client);
    return d->options;
}

Client::State Client::state() const { Q_D(const Client); return d->state; }
User Client::user() const { Q_D(const Client); return d->user; }
bool Client::isAnonymous() const { Q_D(const Client); return d->user.isValid() && d->user.isAnonymous(); }
bool Client::hasServerSession() const { Q_D(const Client); return d->hasServerSession; }
bool Client::isOnline() const { Q_D(const Client); return d->reachability && d->reachability->isOnline(); }
bool Client::isBusy() const { Q_D(const Client); return d->busy; }
bool Client::isReady() const { Q_D(const Client); return d->ready; }
bool Client::isKeychainAvailable() const { Q_D(const Client); return d->vault && d->vault->isKeychainAvailable(); }
Error Client::lastError() const { Q_D(const Client); return d->lastError; }

QFuture<Error> Client::signInAsGuest()
{
    Q_D(Client);
    return d->enqueue(Operation::SignInAsGuest, [d](ClientPrivate::Done done) {
        if (d->state == State::SignedIn)
            return done(invalidState(QStringLiteral("Already signed in to an account; sign out first")));
        if (d->state == State::SignedOut) {
            d->setIdentity(State::Guest, d->makeLocalGuest(), false);
            d->offerOrphans();
        }
        if (!d->hasServerSession && d->reachability->isOnline())
            return d->registerGuest(std::move(done));
        // Offline: the local guest is usable now and registers itself when the server answers.
        done(Error());
    });
}

namespace {

// The four password operations differ only in path and body: each queues one POST that
// carries the current (guest) bearer, so the server links the guest, and adopts the
// session it answers with.
QFuture<Error> postCredentials(ClientPrivate *d, Client::Operation operation, const QString &path,
                               const QJsonObject &body)
{
    return d->enqueue(operation, [d, path, body](ClientPrivate::Done done) {
        d->authenticate([d, path, body](const QByteArray &bearer, Transport::Callback cb) {
            d->transport->post(path, body, bearer, std::move(cb));
        }, std::move(done));
    });
}

} // namespace

QFuture<Error> Client::signUpEmail(const QString &email, const QString &password, const QString &name)
{
    Q_D(Client);
    return postCredentials(d, Operation::SignUpEmail, QStringLiteral("/sign-up/email"),
                           { { QLatin1String("email"), email },
                             { QLatin1String("password"), password },
                             { QLatin1String("name"), name } });
}

QFuture<Error> Client::signInEmail(const QString &email, const QString &password)
{
    Q_D(Client);
    return postCredentials(d, Operation::SignInEmail, QStringLiteral("/sign-in/email"),
                           { { QLatin1String("email"), email }, { QLatin1String("password"), password } });
}

QFuture<Error> Client::signUpUsername(const QString &username, const QString &password, const QString &email,
                                      const QString &name)
{
    Q_D(Client);
    // The username plugin extends POST /sign-up/email with username/displayUsername.
    return postCredentials(d, Operation::SignUpUsername, QStringLiteral("/sign-up/email"),
                           { { QLatin1String("email"), email },
                             { QLatin1String("password"), password },
                             { QLatin1String("name"), name.isEmpty() ? username : name },
                             { QLatin1String("username"), username } });
}

QFuture<Error> Client::signInUsername(const QString &username, const QString &password)
{
    Q_D(Client);
    return postCredentials(d, Operation::SignInUsername, QStringLiteral("/sign-in/username"),
                           { { QLatin1String("username"), username }, { QLatin1String("password"), password } });
}

QFuture<Error> Client::requestMagicLink(const QString &email, const QString &callbackUrl)
{
    Q_D(Client);
    QJsonObject body{ { QLatin1String("email"), email } };
    if (!callbackUrl.isEmpty())
        body.insert(QLatin1String("callbackURL"), callbackUrl);
    return d->enqueue(Operation::RequestMagicLink, [d, body, email](ClientPrivate::Done done) {
        auto request = [d, body, email, done] {
            d->withConfirmedToken(true, [d, body, email, done] {
                // The server links a guest at the link only if that guest asked for it
                // (its bearer here); completeMagicLink() must know whether it did.
                const QByteArray bearer = d->guestBearer();
                const QString guestId = bearer.isEmpty() ? QString() : d->user.id();
                d->transport->post(QStringLiteral("/sign-in/magic-link"), body, bearer,
                                   [d, guestId, email, done](const HttpResult &r) {
                    if (!r.error.isError() && !guestId.isEmpty()) {
                        if (const Error e = d->store->noteMagicLinkRequest(guestId, email); e.isError())
                            qCWarning(lcClient) << "cannot note the magic-link request:" << e.toString();
                    }
                    done(r.error);
                });
            }, done);
        };
        // A local-only guest registers first, so that the link can take it in.
        if (d->state == State::Guest && !d->hasServerSession && d->reachability->isOnline())
            return d->registerGuest([request](const Error &) { request(); });
        request();
    });
}

QFuture<Error> Client::completeMagicLink(const QUrl &linkUrl)
{
    Q_D(Client);
    // Accept the mailed URL (…/magic-link/verify?token=…&callbackURL=…) or any deep link
    // carrying ?token=… (or #token=…). Only the token is used: the verification runs
    // against this client's server without callbackURL, so the answer is JSON here.
    QString linkToken = QUrlQuery(linkUrl).queryItemValue(QStringLiteral("token"), QUrl::FullyDecoded);
    if (linkToken.isEmpty())
        linkToken = QUrlQuery(linkUrl.fragment()).queryItemValue(QStringLiteral("token"), QUrl::FullyDecoded);
    return d->enqueue(Operation::CompleteMagicLink, [d, linkToken](ClientPrivate::Done done) {
        if (linkToken.isEmpty())
            return done(Error::fromKind(Error::Kind::InvalidArgument,
                                        QStringLiteral("The magic link carries no token")));
        d->authenticate([d, linkToken](const QByteArray &bearer, Transport::Callback cb) {
            QUrlQuery query;
            query.addQueryItem(QStringLiteral("token"), QString::fromLatin1(QUrl::toPercentEncoding(linkToken)));
            d->transport->get(QStringLiteral("/magic-link/verify"), query, bearer, std::move(cb));
        }, [d, done](const Error &error) {
            if (!error.isError())
                d->store->forgetMagicLinkRequests();   // whoever asked is no longer the current user
            done(error);
        }, [d](const QJsonObject &account, const HttpResult &answer) {
            // The server links only the guest that asked for the link (docs/methods/magic-link.md).
            // kernia-server says which guest it linked, if any (kernia-linked-guest): that
            // settles it, also when this guest and someone else asked for links to one address.
            if (!answer.linkedGuest.isEmpty())
                return answer.linkedGuest == d->user.id().toUtf8();
            // A plain Better Auth server does not say: linked if this guest asked for a link
            // to the account's address (wrong when someone else asked for one too).
            return d->store->magicLinkRequested(d->user.id(), account.value(QLatin1String("email")).toString());
        });
    });
}

QFuture<Error> Client::signOut()
{
    Q_D(Client);
    return d->enqueue(Operation::SignOut, [d](ClientPrivate::Done done) { d->signOutNow(std::move(done)); });
}

QFuture<Error> Client::deleteGuest()
{
    Q_D(Client);
    return d->enqueue(Operation::DeleteGuest, [d](ClientPrivate::Done done) { d->deleteGuestNow(std::move(done)); });
}

QFuture<Error> Client::deleteAccount(const QString &password)
{
    Q_D(Client);
    QJsonObject body;
    if (!password.isEmpty())
        body.insert(QStringLiteral("password"), password);
    return d->enqueue(Operation::DeleteAccount, [d, body](ClientPrivate::Done done) {
        d->deleteAccountNow(body, std::move(done));
    });
}

QFuture<Error> Client::completeAccountDeletion(const QUrl &linkUrl)
{
    Q_D(Client);
    const QString linkToken = QUrlQuery(linkUrl).queryItemValue(QStringLiteral("token"), QUrl::FullyDecoded);
    return d->enqueue(Operation::CompleteAccountDeletion, [d, linkToken](ClientPrivate::Done done) {
        if (linkToken.isEmpty())
            return done(Error::fromKind(Error::Kind::InvalidArgument, QStringLiteral("The link carries no token")));
        d->deleteAccountNow(QJsonObject{{QStringLiteral("token"), linkToken}}, std::move(done));
    });
}

QFuture<Error> Client::refreshSession()
{
    Q_D(Client);
    return d->enqueue(Operation::RefreshSession, [d](ClientPrivate::Done done) {
        if (d->state == State::SignedOut)
            return done(invalidState(QStringLiteral("Nobody is signed in")));
        if (d->state == State::Guest && !d->hasServerSession)
            return d->registerGuest(std::move(done));
        if (d->token.isEmpty())
            return done(Error::fromKind(Error::Kind::KeychainUnavailable,
                                        QStringLiteral("The session token cannot be read from the keychain")));
        d->keeper->markDue();
        d->checkSession(true, std::move(done));
    });
}

QStringList Client::offeredLocalData() const
{
    Q_D(const Client);
    QStringList ids = d->store->profiles(QString::fromLatin1(LocalStore::ProfileOffered));
    ids.removeAll(d->user.localId());
    return ids;
}

User Client::offeredLocalDataUser(const QString &localId) const
{
    Q_D(const Client);
    return d->store->profileUser(localId);
}

Error Client::adoptLocalData(const QString &localId)
{
    Q_D(Client);
    Error e;
    if (d->state == State::SignedOut || d->user.localId().isEmpty())
        e = invalidState(QStringLiteral("Nobody to adopt the data: sign in or become a guest first"));
    else if (!offeredLocalData().contains(localId))
        e = Error::fromKind(Error::Kind::InvalidArgument, QStringLiteral("No offered local data %1").arg(localId));
    else
        e = d->store->adopt(localId, d->user.localId());
    if (e.isError()) {
        d->setLastError(e);
    } else {
        d->resetCollections();
        d->updatePendingChanges();
        d->scheduleSync();
    }
    return e;
}

Error Client::discardLocalData(const QString &localId)
{
    Q_D(Client);
    Error e;
    if (!offeredLocalData().contains(localId))
        e = Error::fromKind(Error::Kind::InvalidArgument, QStringLiteral("No offered local data %1").arg(localId));
    else
        e = d->store->discard(localId);
    if (e.isError())
        d->setLastError(e);
    return e;
}

Collection *Client::collection(const QString &name)
{
    Q_D(Client);
    Collection *&c = d->collections[name];
    if (!c)
        c = new Collection(d, name, this);
    return c;
}

Client::SyncState Client::syncState() const { Q_D(const Client); return d->syncState; }
int Client::pendingChanges() const { Q_D(const Client); return d->pendingChanges; }
QString Client::clientId() const { Q_D(const Client); return d->clientId; }

QFuture<Error> Client::syncNow()
{
    Q_D(Client);
    return d->enqueueSyncNow();
}

void Client::clearError()
{
    Q_D(Client);
    d->setLastError(Error());
}

void Client::checkConnection()
{
    Q_D(Client);
    if (d->ready)
        d->reachability->probeNow();
}

} // namespace Kernia
