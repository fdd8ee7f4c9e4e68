// Kernia::Client — one per app: an offline-first guest from the first launch,
// upgraded to an account when the user signs up or in.
//
//   #include <Kernia/Client>
//
//   Kernia::ClientOptions options(QUrl(QStringLiteral("https://auth.example.com")));
//   options.setAppId(QStringLiteral("com.example.cart"));
//   auto *client = new Kernia::Client(options, &app);   // state() is Guest at once, even offline
//
//   QObject::connect(client, &Kernia::Client::stateChanged, &app, [client] {
//       qInfo() << "now" << client->state() << client->user().email();
//   });
//
//   // Later: the guest creates an account; its local data stays with it.
//   client->signUpEmail(email, password, name).then(&app, [](const Kernia::Error &error) {
//       if (error)
//           qWarning() << "sign-up failed:" << error.code() << error.message();
//   });
//
// Every operation returns a QFuture<Kernia::Error> that finishes with a default
// (isError() == false) Error on success, and also emits finished(operation, error).
// The future finishes on the client's thread; continue it with
// future.then(contextObject, ...) — never block the thread with waitForFinished(),
// the client needs its event loop. Operations run one at a time in call order.
//
// The session token is kept in the OS keychain (QtKeychain) under
// ClientOptions::effectiveKeychainService(); the user, state and local data are
// cached in SQLite under ClientOptions::effectiveDataDirectory(), so a restart with
// the server down restores the guest or account immediately.
#pragma once

#include <Kernia/clientoptions.h>
#include <Kernia/collection.h>
#include <Kernia/error.h>
#include <Kernia/kernia_global.h>
#include <Kernia/user.h>

#include <QtCore/QFuture>
#include <QtCore/QObject>
#include <QtCore/QScopedPointer>
#include <QtCore/QStringList>
#include <QtCore/QUrl>

namespace Kernia {

class ClientPrivate;

class KERNIA_SDK_EXPORT Client : public QObject
{
    Q_OBJECT
    Q_PROPERTY(Kernia::Client::State state READ state NOTIFY stateChanged)
    Q_PROPERTY(Kernia::User user READ user NOTIFY userChanged)
    Q_PROPERTY(bool isAnonymous READ isAnonymous NOTIFY userChanged)
    Q_PROPERTY(bool hasServerSession READ hasServerSession NOTIFY hasServerSessionChanged)
    Q_PROPERTY(bool online READ isOnline NOTIFY onlineChanged)
    Q_PROPERTY(bool busy READ isBusy NOTIFY busyChanged)
    Q_PROPERTY(bool ready READ isReady NOTIFY readyChanged)
    Q_PROPERTY(bool keychainAvailable READ isKeychainAvailable NOTIFY keychainAvailableChanged)
    Q_PROPERTY(Kernia::Error lastError READ lastError NOTIFY lastErrorChanged)
    Q_PROPERTY(Kernia::Client::SyncState syncState READ syncState NOTIFY syncStateChanged)
    Q_PROPERTY(int pendingChanges READ pendingChanges NOTIFY pendingChangesChanged)

public:
    enum class State {
        SignedOut,   // nobody: no guest, no account
        Guest,       // an anonymous user (local-only until the server has answered)
        SignedIn     // a real account
    };
    Q_ENUM(State)

    enum class Operation {
        None,
        SignInAsGuest,
        SignUpEmail,
        SignInEmail,
        SignUpUsername,
        SignInUsername,
        RequestMagicLink,
        CompleteMagicLink,
        SignOut,
        DeleteGuest,
        RefreshSession,
        DeleteAccount,
        CompleteAccountDeletion
    };
    Q_ENUM(Operation)

    enum class SyncState {
        Idle,      // nothing running; the last sync (if any) worked
        Syncing,   // a push/pull cycle is running
        Offline,   // the server is not reachable; local writes queue up
        Error      // the last sync failed while the server was reachable (retried with backoff)
    };
    Q_ENUM(SyncState)

    // Restores the cached user synchronously (or creates a local guest on first launch
    // when ClientOptions::automaticGuest()), then reads the keychain and contacts the
    // server in the background.
    explicit Client(const ClientOptions &options, QObject *parent = nullptr);
    ~Client() override;

    ClientOptions options() const;

    State state() const;
    User user() const;
    bool isAnonymous() const;
    bool hasServerSession() const;   // the server knows this user (a token is held)
    bool isOnline() const;           // the last contact with the server succeeded
    bool isBusy() const;             // an operation started by the app is running
    bool isReady() const;            // the keychain has been read; operations run from now on
    bool isKeychainAvailable() const;
    Error lastError() const;

    // Becomes a guest. Automatic on first launch (ClientOptions::automaticGuest()).
    // Succeeds offline with a local guest; once the server answers the guest gets its
    // server-side anonymous session by itself (see guestRegistered()).
    QFuture<Error> signInAsGuest();

    // Sign up / in. When the current user is a guest, the request carries the guest's
    // session, the server links the guest to the account and the client switches to
    // the account (guestUpgraded()). On failure the guest stays as it was.
    QFuture<Error> signUpEmail(const QString &email, const QString &password,
                               const QString &name = QString());
    QFuture<Error> signInEmail(const QString &email, const QString &password);
    QFuture<Error> signUpUsername(const QString &username, const QString &password,
                                  const QString &email, const QString &name = QString());
    QFuture<Error> signInUsername(const QString &username, const QString &password);

    // Magic link: request a mail, then hand the link URL (from a deep link or pasted by
    // the user) to completeMagicLink(): the token is verified by this client, so the new
    // session reaches the app, not a browser.
    // The server links a guest only if that guest asked for the link, so a guest's
    // successful request is noted in the local database (it survives restarts; a
    // local-only guest registers first). completeMagicLink() as the guest that asked for
    // that address upgrades it (guestUpgraded()). As any other guest (the link was asked
    // for elsewhere, signed out, or by a guest of this install that was replaced since)
    // the server signs in without linking: the client signs in like from SignedOut
    // (signedIn()) and offers the guest's local data (localDataOffered()); adopting it
    // pushes all of its records into the account. See docs/sdk.md "Magic link inside the app".
    QFuture<Error> requestMagicLink(const QString &email, const QString &callbackUrl = QString());
    QFuture<Error> completeMagicLink(const QUrl &linkUrl);

    // Ends the session here (always succeeds locally, even offline). A guest's server
    // user is kept by the server; use deleteGuest() to remove it.
    QFuture<Error> signOut();

    // Deletes the current guest on the server (when it has a server session) and its
    // local data; the state becomes SignedOut. Fails, leaving the guest intact, when
    // the server cannot be reached.
    QFuture<Error> deleteGuest();

    // Deletes the signed-in account on the server, then its data on this device; the
    // state becomes SignedOut (accountDeleted(), then signedOut()). The server wants the
    // password or a session signed in less than a day ago (else SESSION_EXPIRED: sign in
    // again). A server that asks the mailbox first (kernia-server with a mailer, for a
    // verified address; docs/mail.md) mails a link instead: the future succeeds,
    // accountDeletionMailed() is emitted, and nothing is deleted until
    // completeAccountDeletion() gets that link. Fails, changing nothing, offline.
    QFuture<Error> deleteAccount(const QString &password = QString());
    // Finishes a deletion confirmed by mail with the mailed link
    // (…/delete-user/callback?token=…, e.g. opened as a deep link into the app) or any URL
    // carrying ?token=: the account must still be the signed-in one here.
    QFuture<Error> completeAccountDeletion(const QUrl &linkUrl);

    // Validates and slides the session now (GET /get-session). Happens periodically by
    // itself while online (ClientOptions::sessionRefreshInterval()).
    QFuture<Error> refreshSession();

    // Local data left behind by a user whose session is definitely gone, or by a guest that
    // a magic link signed in without linking it (completeMagicLink()). Each id can be
    // adopted by the current user (its rows are re-keyed; another server user's live
    // records become pending changes of the current user) or discarded.
    QStringList offeredLocalData() const;
    User offeredLocalDataUser(const QString &localId) const;
    Error adoptLocalData(const QString &localId);
    Error discardLocalData(const QString &localId);

    // --- data sync (docs/sdk.md "Collections and sync") ---------------------------------
    // The collection `name` of the current user; one object per name, owned by the client.
    Q_INVOKABLE Kernia::Collection *collection(const QString &name);
    SyncState syncState() const;
    int pendingChanges() const;   // local mutations not yet acknowledged by the server
    QString clientId() const;     // ClientOptions::clientId() or the generated, persisted one (the install's;
                                  // each local profile pushes under it plus a suffix of its own)
    // Push the pending changes, then pull; needs a server session (a local-only guest
    // registers first). Automatic sync (ClientOptions::autoSync()) runs on reconnect,
    // shortly after local writes and with backoff after failures.
    QFuture<Error> syncNow();

public Q_SLOTS:
    void clearError();
    void checkConnection();   // probe the server now instead of waiting for the backoff

Q_SIGNALS:
    void stateChanged(Kernia::Client::State state);
    void userChanged(const Kernia::User &user);
    void hasServerSessionChanged(bool hasServerSession);
    void onlineChanged(bool online);
    void busyChanged(bool busy);
    void readyChanged(bool ready);
    void keychainAvailableChanged(bool available);
    void lastErrorChanged(const Kernia::Error &error);
    void syncStateChanged(Kernia::Client::SyncState state);
    void pendingChangesChanged(int pendingChanges);
    // A sync cycle (push then pull) completed: the pull reached the server's current
    // version. Not after a cycle that stopped at ClientOptions::maxPullPagesPerSync().
    void synced();
    // The server refused a local change for good (e.g. RECORD_TOO_LARGE: merged with
    // another device's edit the record would pass the size limit). The change is dropped
    // from the outbox, so the changes after it still sync, and the record shows the
    // server's state again. reason.code() is the server's error code.
    void changeRejected(const QString &collection, const QString &id, const Kernia::Error &reason);

    // Every operation started by the app ends with exactly one finished().
    void finished(Kernia::Client::Operation operation, const Kernia::Error &error);

    // A local guest got its server-side anonymous session.
    void guestRegistered(const Kernia::User &user);
    // A guest became an account (sign-up, sign-in, or a magic link this guest asked for).
    void guestUpgraded(const Kernia::User &guest, const Kernia::User &account);
    // Signed in from the signed-out state (no guest to upgrade), or by a magic link that
    // the current guest did not ask for (the guest is not linked; its data is offered).
    void signedIn(const Kernia::User &user);
    void signedOut();
    // deleteAccount() reached a server that mailed a confirmation link to the account's
    // address; see completeAccountDeletion().
    void accountDeletionMailed(const Kernia::User &user);
    // The server deleted the account; its data on this device is gone too.
    void accountDeleted(const Kernia::User &user);
    // The server definitely no longer knows the session (not a network problem). A guest
    // is replaced by a new guest at once; an account becomes SignedOut.
    void sessionLost(const Kernia::User &previousUser, const Kernia::Error &reason);
    // The local data of previousUser stays on this device and is offered to the current
    // user (a lost guest or account session, or a guest a magic link did not link): call
    // adoptLocalData(localId) or discardLocalData(localId).
    void localDataOffered(const QString &localId, const Kernia::User &previousUser);

private:
    Q_DECLARE_PRIVATE(Client)
    Q_DISABLE_COPY(Client)
    QScopedPointer<ClientPrivate> d_ptr;
};

} // namespace Kernia
