#include "kerniaclient.h"

#include <QtCore/QFutureWatcher>
#include <QtCore/QMetaEnum>
#include <QtQml/QQmlEngine>

namespace {
QString operationName(Kernia::Client::Operation op)
{
    return QString::fromLatin1(QMetaEnum::fromType<Kernia::Client::Operation>().valueToKey(int(op)));
}

Kernia::Error noClient(bool completed)
{
    return Kernia::Error::fromKind(Kernia::Error::Kind::InvalidState,
                                   completed ? QStringLiteral("KerniaClient has no client (it was destroyed or unset)")
                                             : QStringLiteral("KerniaClient has no client yet (component not complete)"));
}

KerniaReply *failed(const QString &name, const Kernia::Error &error)
{
    auto *reply = new KerniaReply(name);
    QMetaObject::invokeMethod(reply, [reply, error] { reply->complete(error); }, Qt::QueuedConnection);
    return reply;
}
} // namespace

KerniaClient::KerniaClient(QObject *parent) : QObject(parent) { }

KerniaClient::~KerniaClient()
{
    detach(DeleteNow);
}

void KerniaClient::classBegin() { }

void KerniaClient::componentComplete()
{
    m_completed = true;
    if (m_client)
        return;   // an app-provided client was assigned
    Kernia::ClientOptions options(m_serverUrl);
    options.setAppId(m_appId);
    options.setKeychainService(m_keychainService);
    options.setDataDirectory(m_dataDirectory);
    options.setAutomaticGuest(m_automaticGuest);
    options.setAllowInsecurePlaintextTokenStorage(m_allowPlaintext);
    options.setRequestTimeout(m_requestTimeout);
    options.setSessionRefreshInterval(m_refreshInterval);
    options.setRetryInitialDelay(m_retryInitial);
    options.setRetryMaxDelay(m_retryMax);
    options.setUseSystemNetworkInformation(m_useNetworkInformation);
    options.setAutoSync(m_autoSync);
    options.setClientId(m_clientId);
    auto *client = new Kernia::Client(options, this);
    attach(client);
    m_ownsClient = true;
}

void KerniaClient::setClient(Kernia::Client *client)
{
    if (m_client == client)
        return;
    detach(DeleteLater);   // `client` may be set from a handler of one of its signals
    attach(client);
}

void KerniaClient::detach(Deletion deletion)
{
    if (!m_client)
        return;
    disconnect(m_client, nullptr, this, nullptr);
    if (m_ownsClient && deletion == DeleteLater) {
        // No longer our child: deleting it with this object as well would delete it twice
        // (its destructor may spin an event loop that runs the deferred delete).
        m_client->setParent(nullptr);
        m_client->deleteLater();
    } else if (m_ownsClient) {
        delete m_client.data();   // while this object is still whole
    }
    m_client = nullptr;
    m_ownsClient = false;
}

void KerniaClient::attach(Kernia::Client *client)
{
    using C = Kernia::Client;
    m_client = client;
    m_ownsClient = false;
    if (client) {
        // A shared client destroyed by its owner: bindings must not keep showing it.
        connect(client, &QObject::destroyed, this, [this] {
            m_client = nullptr;
            m_ownsClient = false;
            Q_EMIT clientChanged();
            emitAll();
        });
        connect(client, &C::stateChanged, this, &KerniaClient::stateChanged);
        connect(client, &C::userChanged, this, [this] {
            Q_EMIT userChanged();
            Q_EMIT offeredLocalDataChanged();
        });
        connect(client, &C::hasServerSessionChanged, this, &KerniaClient::hasServerSessionChanged);
        connect(client, &C::onlineChanged, this, &KerniaClient::onlineChanged);
        connect(client, &C::busyChanged, this, &KerniaClient::busyChanged);
        connect(client, &C::readyChanged, this, &KerniaClient::readyChanged);
        connect(client, &C::keychainAvailableChanged, this, &KerniaClient::keychainAvailableChanged);
        connect(client, &C::lastErrorChanged, this, &KerniaClient::lastErrorChanged);
        connect(client, &C::syncStateChanged, this, &KerniaClient::syncStateChanged);
        connect(client, &C::pendingChangesChanged, this, &KerniaClient::pendingChangesChanged);
        connect(client, &C::synced, this, &KerniaClient::synced);
        connect(client, &C::changeRejected, this,
                [this](const QString &collection, const QString &id, const Kernia::Error &reason) {
            Q_EMIT changeRejected(collection, id, KerniaReply::errorToMap(reason));
        });
        connect(client, &C::finished, this, [this](C::Operation op, const Kernia::Error &e) {
            Q_EMIT finished(operationName(op), KerniaReply::errorToMap(e));
        });
        connect(client, &C::guestRegistered, this, [this](const Kernia::User &u) { Q_EMIT guestRegistered(userToMap(u)); });
        connect(client, &C::guestUpgraded, this, [this](const Kernia::User &g, const Kernia::User &a) {
            Q_EMIT guestUpgraded(userToMap(g), userToMap(a));
        });
        connect(client, &C::signedIn, this, [this](const Kernia::User &u) { Q_EMIT signedIn(userToMap(u)); });
        connect(client, &C::signedOut, this, &KerniaClient::signedOut);
        connect(client, &C::accountDeletionMailed, this, [this](const Kernia::User &u) { Q_EMIT accountDeletionMailed(userToMap(u)); });
        connect(client, &C::accountDeleted, this, [this](const Kernia::User &u) { Q_EMIT accountDeleted(userToMap(u)); });
        connect(client, &C::sessionLost, this, [this](const Kernia::User &u, const Kernia::Error &e) {
            Q_EMIT sessionLost(userToMap(u), KerniaReply::errorToMap(e));
        });
        connect(client, &C::localDataOffered, this, [this](const QString &id, const Kernia::User &u) {
            Q_EMIT localDataOffered(id, userToMap(u));
            Q_EMIT offeredLocalDataChanged();
        });
    }
    Q_EMIT clientChanged();
    emitAll();
}

void KerniaClient::emitAll()
{
    Q_EMIT stateChanged();
    Q_EMIT userChanged();
    Q_EMIT hasServerSessionChanged();
    Q_EMIT onlineChanged();
    Q_EMIT busyChanged();
    Q_EMIT readyChanged();
    Q_EMIT keychainAvailableChanged();
    Q_EMIT lastErrorChanged();
    Q_EMIT offeredLocalDataChanged();
    Q_EMIT syncStateChanged();
    Q_EMIT pendingChangesChanged();
}

KerniaClient::State KerniaClient::state() const
{
    return m_client ? State(int(m_client->state())) : SignedOut;
}
QVariantMap KerniaClient::user() const { return userToMap(m_client ? m_client->user() : Kernia::User()); }
bool KerniaClient::isAnonymous() const { return m_client && m_client->isAnonymous(); }
bool KerniaClient::hasServerSession() const { return m_client && m_client->hasServerSession(); }
bool KerniaClient::isOnline() const { return m_client && m_client->isOnline(); }
bool KerniaClient::isBusy() const { return m_client && m_client->isBusy(); }
bool KerniaClient::isReady() const { return m_client && m_client->isReady(); }
bool KerniaClient::isKeychainAvailable() const { return m_client && m_client->isKeychainAvailable(); }
QVariantMap KerniaClient::lastError() const
{
    return KerniaReply::errorToMap(m_client ? m_client->lastError() : Kernia::Error());
}
QStringList KerniaClient::offeredLocalData() const
{
    return m_client ? m_client->offeredLocalData() : QStringList();
}

QString KerniaClient::syncState() const
{
    if (!m_client)
        return QStringLiteral("offline");
    switch (m_client->syncState()) {
    case Kernia::Client::SyncState::Idle: return QStringLiteral("idle");
    case Kernia::Client::SyncState::Syncing: return QStringLiteral("syncing");
    case Kernia::Client::SyncState::Offline: return QStringLiteral("offline");
    case Kernia::Client::SyncState::Error: return QStringLiteral("error");
    }
    return QStringLiteral("error");
}

int KerniaClient::pendingChanges() const
{
    return m_client ? m_client->pendingChanges() : 0;
}

Kernia::Collection *KerniaClient::collection(const QString &name)
{
    if (!m_client)
        return nullptr;
    Kernia::Collection *c = m_client->collection(name);
    // Owned by the client: never by the JS garbage collector.
    QQmlEngine::setObjectOwnership(c, QQmlEngine::CppOwnership);
    return c;
}

QJSValue KerniaClient::collectionFunction() const
{
    if (m_collectionFunction.isCallable())
        return m_collectionFunction;
    QJSEngine *engine = qjsEngine(this);
    if (!engine)
        return QJSValue();
    const QJSValue factory = engine->evaluate(QStringLiteral(
            "(function (client) { return function (name) { return client.collectionNamed(name); }; })"));
    m_collectionFunction = factory.call({ engine->toScriptValue(const_cast<KerniaClient *>(this)) });
    return m_collectionFunction;
}

QVariantMap KerniaClient::userToMap(const Kernia::User &user)
{
    if (!user.isValid())
        return QVariantMap{ { QStringLiteral("isValid"), false } };
    QVariantMap map = user.toJson().toVariantMap();
    map.insert(QStringLiteral("isValid"), true);
    map.insert(QStringLiteral("isLocalOnly"), user.isLocalOnly());
    for (auto it = map.begin(); it != map.end(); ++it) {
        if (it.value().isNull())
            it.value() = QString();   // "" rather than null for unset strings
    }
    return map;
}

KerniaReply *KerniaClient::track(const QString &name, QFuture<Kernia::Error> future)
{
    // Not parented: a KerniaClient destroyed first must not take the reply with it. Its
    // Kernia::Client then finishes the future (CANCELLED when it goes too).
    auto *reply = new KerniaReply(name);
    auto *watcher = new QFutureWatcher<Kernia::Error>(reply);
    connect(watcher, &QFutureWatcher<Kernia::Error>::finished, reply, [reply, watcher] {
        const QFuture<Kernia::Error> f = watcher->future();
        reply->complete(f.resultCount() > 0 ? f.result()
                                            : Kernia::Error::fromKind(Kernia::Error::Kind::Cancelled,
                                                                      QStringLiteral("The operation was cancelled")));
        watcher->deleteLater();
    });
    watcher->setFuture(future);
    return reply;
}

#define KERNIA_QML_CALL(NAME, CALL) \
    if (!m_client)                  \
        return failed(QStringLiteral(NAME), noClient(m_completed)); \
    return track(QStringLiteral(NAME), m_client->CALL)

KerniaReply *KerniaClient::signInAsGuest() { KERNIA_QML_CALL("SignInAsGuest", signInAsGuest()); }
KerniaReply *KerniaClient::signUpEmail(const QString &email, const QString &password, const QString &name)
{
    KERNIA_QML_CALL("SignUpEmail", signUpEmail(email, password, name));
}
KerniaReply *KerniaClient::signInEmail(const QString &email, const QString &password)
{
    KERNIA_QML_CALL("SignInEmail", signInEmail(email, password));
}
KerniaReply *KerniaClient::signUpUsername(const QString &username, const QString &password, const QString &email,
                                          const QString &name)
{
    KERNIA_QML_CALL("SignUpUsername", signUpUsername(username, password, email, name));
}
KerniaReply *KerniaClient::signInUsername(const QString &username, const QString &password)
{
    KERNIA_QML_CALL("SignInUsername", signInUsername(username, password));
}
KerniaReply *KerniaClient::requestMagicLink(const QString &email, const QString &callbackUrl)
{
    KERNIA_QML_CALL("RequestMagicLink", requestMagicLink(email, callbackUrl));
}
KerniaReply *KerniaClient::completeMagicLink(const QUrl &linkUrl)
{
    KERNIA_QML_CALL("CompleteMagicLink", completeMagicLink(linkUrl));
}
KerniaReply *KerniaClient::signOut() { KERNIA_QML_CALL("SignOut", signOut()); }
KerniaReply *KerniaClient::deleteGuest() { KERNIA_QML_CALL("DeleteGuest", deleteGuest()); }
KerniaReply *KerniaClient::deleteAccount(const QString &password)
{
    KERNIA_QML_CALL("DeleteAccount", deleteAccount(password));
}
KerniaReply *KerniaClient::completeAccountDeletion(const QUrl &linkUrl)
{
    KERNIA_QML_CALL("CompleteAccountDeletion", completeAccountDeletion(linkUrl));
}
KerniaReply *KerniaClient::refreshSession() { KERNIA_QML_CALL("RefreshSession", refreshSession()); }
KerniaReply *KerniaClient::syncNow() { KERNIA_QML_CALL("SyncNow", syncNow()); }

#undef KERNIA_QML_CALL

QVariantMap KerniaClient::adoptLocalData(const QString &localId)
{
    const Kernia::Error e = m_client ? m_client->adoptLocalData(localId) : noClient(m_completed);
    Q_EMIT offeredLocalDataChanged();
    return KerniaReply::errorToMap(e);
}

QVariantMap KerniaClient::discardLocalData(const QString &localId)
{
    const Kernia::Error e = m_client ? m_client->discardLocalData(localId) : noClient(m_completed);
    Q_EMIT offeredLocalDataChanged();
    return KerniaReply::errorToMap(e);
}

void KerniaClient::clearError()
{
    if (m_client)
        m_client->clearError();
}

void KerniaClient::checkConnection()
{
    if (m_client)
        m_client->checkConnection();
}
