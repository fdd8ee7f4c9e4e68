// KerniaClient — Kernia::Client for QML (`import Kernia`).
//
//   import Kernia
//
//   KerniaClient {
//       id: auth
//       serverUrl: "https://auth.example.com"
//       appId: "com.example.cart"
//       onGuestUpgraded: (guest, account) => console.log("welcome", account.email)
//   }
//   Label { text: auth.state === KerniaClient.Guest ? qsTr("Guest") : auth.user.email }
//   ListView {
//       model: CollectionModel { collection: auth.collection("cart"); fields: ["name", "qty"] }
//       delegate: Label { text: name + " × " + qty + (pending ? " …" : "") }
//   }
//   Button { text: qsTr("Add"); onClicked: auth.collection("cart").put("apple", { name: "Apple", qty: 1 }) }
//   Label { text: auth.syncState + " / " + auth.pendingChanges + " pending" }
//   Button {
//       text: qsTr("Create account")
//       enabled: !auth.busy
//       onClicked: {
//           const reply = auth.signUpEmail(email.text, password.text, name.text)
//           reply.completed.connect(() => { if (!reply.ok) error.text = reply.error.message })
//       }
//   }
//
// Options (serverUrl, appId, …) are read once, when the component is complete; the
// client then starts (a guest at once on first launch). Alternatively assign an
// existing C++ Kernia::Client to `client` (e.g. from a context property) and the
// options are ignored; if the app destroys it, `client` becomes null and every property
// notifies. user, lastError and signal arguments are plain JS objects with
// the fields of Kernia::User / Kernia::Error (user.email, lastError.code, …).
#pragma once

#include "kerniareply.h"

#include <Kernia/Client>

#include <QtCore/QObject>
#include <QtCore/QPointer>
#include <QtCore/QVariantMap>
#include <QtQml/QJSValue>
#include <QtQml/QQmlParserStatus>
#include <QtQml/qqmlregistration.h>

class KerniaClient : public QObject, public QQmlParserStatus
{
    Q_OBJECT
    QML_NAMED_ELEMENT(KerniaClient)
    Q_INTERFACES(QQmlParserStatus)

    // Options (before completion).
    Q_PROPERTY(QUrl serverUrl MEMBER m_serverUrl NOTIFY optionsChanged)
    Q_PROPERTY(QString appId MEMBER m_appId NOTIFY optionsChanged)
    Q_PROPERTY(QString keychainService MEMBER m_keychainService NOTIFY optionsChanged)
    Q_PROPERTY(QString dataDirectory MEMBER m_dataDirectory NOTIFY optionsChanged)
    Q_PROPERTY(bool automaticGuest MEMBER m_automaticGuest NOTIFY optionsChanged)
    Q_PROPERTY(bool allowInsecurePlaintextTokenStorage MEMBER m_allowPlaintext NOTIFY optionsChanged)
    Q_PROPERTY(int requestTimeout MEMBER m_requestTimeout NOTIFY optionsChanged)
    Q_PROPERTY(int sessionRefreshInterval MEMBER m_refreshInterval NOTIFY optionsChanged)
    Q_PROPERTY(int retryInitialDelay MEMBER m_retryInitial NOTIFY optionsChanged)
    Q_PROPERTY(int retryMaxDelay MEMBER m_retryMax NOTIFY optionsChanged)
    Q_PROPERTY(bool useSystemNetworkInformation MEMBER m_useNetworkInformation NOTIFY optionsChanged)
    Q_PROPERTY(bool autoSync MEMBER m_autoSync NOTIFY optionsChanged)
    Q_PROPERTY(QString clientId MEMBER m_clientId NOTIFY optionsChanged)
    Q_PROPERTY(Kernia::Client *client READ client WRITE setClient NOTIFY clientChanged)

    // State.
    Q_PROPERTY(State state READ state NOTIFY stateChanged)
    Q_PROPERTY(QVariantMap user READ user NOTIFY userChanged)
    Q_PROPERTY(bool isAnonymous READ isAnonymous NOTIFY userChanged)
    Q_PROPERTY(bool hasServerSession READ hasServerSession NOTIFY hasServerSessionChanged)
    Q_PROPERTY(bool online READ isOnline NOTIFY onlineChanged)
    Q_PROPERTY(bool busy READ isBusy NOTIFY busyChanged)
    Q_PROPERTY(bool ready READ isReady NOTIFY readyChanged)
    Q_PROPERTY(bool keychainAvailable READ isKeychainAvailable NOTIFY keychainAvailableChanged)
    Q_PROPERTY(QVariantMap lastError READ lastError NOTIFY lastErrorChanged)
    Q_PROPERTY(QStringList offeredLocalData READ offeredLocalData NOTIFY offeredLocalDataChanged)
    // "idle", "syncing", "offline" or "error" (Kernia::Client::SyncState).
    Q_PROPERTY(QString syncState READ syncState NOTIFY syncStateChanged)
    Q_PROPERTY(int pendingChanges READ pendingChanges NOTIFY pendingChangesChanged)
    // collection(name): a function property rather than a method, so that a binding such as
    // `collection: auth.collection("cart")` depends on it and is evaluated again once the
    // client exists (bindings may run before componentComplete()) or is replaced.
    Q_PROPERTY(QJSValue collection READ collectionFunction NOTIFY clientChanged)

public:
    enum State {
        SignedOut = int(Kernia::Client::State::SignedOut),
        Guest = int(Kernia::Client::State::Guest),
        SignedIn = int(Kernia::Client::State::SignedIn)
    };
    Q_ENUM(State)

    explicit KerniaClient(QObject *parent = nullptr);
    ~KerniaClient() override;

    void classBegin() override;
    void componentComplete() override;

    Kernia::Client *client() const { return m_client; }
    // Wraps an app-owned client (ownership stays with the caller).
    void setClient(Kernia::Client *client);

    State state() const;
    QVariantMap user() const;
    bool isAnonymous() const;
    bool hasServerSession() const;
    bool isOnline() const;
    bool isBusy() const;
    bool isReady() const;
    bool isKeychainAvailable() const;
    QVariantMap lastError() const;
    QStringList offeredLocalData() const;
    QString syncState() const;
    int pendingChanges() const;

    static QVariantMap userToMap(const Kernia::User &user);

    Q_INVOKABLE KerniaReply *signInAsGuest();
    Q_INVOKABLE KerniaReply *signUpEmail(const QString &email, const QString &password, const QString &name = QString());
    Q_INVOKABLE KerniaReply *signInEmail(const QString &email, const QString &password);
    Q_INVOKABLE KerniaReply *signUpUsername(const QString &username, const QString &password, const QString &email,
                                            const QString &name = QString());
    Q_INVOKABLE KerniaReply *signInUsername(const QString &username, const QString &password);
    Q_INVOKABLE KerniaReply *requestMagicLink(const QString &email, const QString &callbackUrl = QString());
    Q_INVOKABLE KerniaReply *completeMagicLink(const QUrl &linkUrl);
    Q_INVOKABLE KerniaReply *signOut();
    Q_INVOKABLE KerniaReply *deleteGuest();
    Q_INVOKABLE KerniaReply *deleteAccount(const QString &password = QString());
    Q_INVOKABLE KerniaReply *completeAccountDeletion(const QUrl &linkUrl);
    Q_INVOKABLE KerniaReply *refreshSession();
    Q_INVOKABLE QVariantMap adoptLocalData(const QString &localId);
    Q_INVOKABLE QVariantMap discardLocalData(const QString &localId);
    // The collection `name` of the current user (owned by the client; null without one).
    Kernia::Collection *collection(const QString &name);
    Q_INVOKABLE Kernia::Collection *collectionNamed(const QString &name) { return collection(name); }
    QJSValue collectionFunction() const;
    Q_INVOKABLE KerniaReply *syncNow();
    Q_INVOKABLE void clearError();
    Q_INVOKABLE void checkConnection();

Q_SIGNALS:
    void optionsChanged();
    void clientChanged();
    void stateChanged();
    void userChanged();
    void hasServerSessionChanged();
    void onlineChanged();
    void busyChanged();
    void readyChanged();
    void keychainAvailableChanged();
    void lastErrorChanged();
    void offeredLocalDataChanged();
    void syncStateChanged();
    void pendingChangesChanged();
    void synced();
    // Client::changeRejected: the server refused a local change for good.
    void changeRejected(const QString &collection, const QString &id, const QVariantMap &reason);

    void finished(const QString &operation, const QVariantMap &error);
    void guestRegistered(const QVariantMap &user);
    void guestUpgraded(const QVariantMap &guest, const QVariantMap &account);
    void signedIn(const QVariantMap &user);
    void signedOut();
    void accountDeletionMailed(const QVariantMap &user);
    void accountDeleted(const QVariantMap &user);
    void sessionLost(const QVariantMap &previousUser, const QVariantMap &reason);
    void localDataOffered(const QString &localId, const QVariantMap &previousUser);

private:
    KerniaReply *track(const QString &name, QFuture<Kernia::Error> future);
    void attach(Kernia::Client *client);
    enum Deletion { DeleteNow, DeleteLater };   // of a client this object created
    void detach(Deletion deletion);
    void emitAll();

    QUrl m_serverUrl;
    QString m_appId;
    QString m_keychainService;
    QString m_dataDirectory;
    bool m_automaticGuest = true;
    bool m_allowPlaintext = false;
    int m_requestTimeout = 15000;
    int m_refreshInterval = 60 * 60 * 1000;
    int m_retryInitial = 1000;
    int m_retryMax = 60000;
    bool m_useNetworkInformation = true;
    bool m_autoSync = true;
    QString m_clientId;
    mutable QJSValue m_collectionFunction;

    QPointer<Kernia::Client> m_client;
    bool m_ownsClient = false;
    bool m_completed = false;
};
