// Kernia::ClientOptions — how a Kernia::Client finds its server and stores its data.
//
//   Kernia::ClientOptions options(QUrl(QStringLiteral("https://auth.example.com")));
//   options.setAppId(QStringLiteral("com.example.cart"));   // keychain service + data folder
//   options.setAutomaticGuest(true);                          // default: guest on first launch
//   Kernia::Client client(options);
//
// Defaults: appId = "<organizationDomain>.<applicationName>" (or applicationName),
// keychain service "kernia:<appId>", data directory
// "<QStandardPaths::AppLocalDataLocation>/kernia", request timeout 15 s, session refresh
// every hour while online, retries from 1 s doubling up to 60 s.
//
// Token storage: the session token lives in the OS keychain only. If the keychain is
// unavailable the client reports KEYCHAIN_UNAVAILABLE and keeps the token in memory for
// this run. setAllowInsecurePlaintextTokenStorage(true) — an explicit, loudly logged
// opt-in — makes it write the token to a 0600 file in the data directory instead.
#pragma once

#include <Kernia/kernia_global.h>

#include <QtCore/QSharedDataPointer>
#include <QtCore/QString>
#include <QtCore/QUrl>

namespace Kernia {

class ClientOptionsData;

class KERNIA_SDK_EXPORT ClientOptions
{
public:
    ClientOptions();
    explicit ClientOptions(const QUrl &serverUrl);
    ClientOptions(const ClientOptions &other);
    ClientOptions(ClientOptions &&other) noexcept;
    ClientOptions &operator=(const ClientOptions &other);
    ClientOptions &operator=(ClientOptions &&other) noexcept;
    ~ClientOptions();

    // Server origin, e.g. https://auth.example.com (the auth API is at basePath below it).
    QUrl serverUrl() const;
    void setServerUrl(const QUrl &url);

    QString basePath() const;   // default "/api/auth"
    void setBasePath(const QString &path);

    QString appId() const;
    void setAppId(const QString &appId);

    // Keychain service name; default "kernia:" + appId(), with the token under a key of
    // this data directory's own ("session-token.<hash of the directory>"). A service set
    // here is the app's own: key "session-token", one client per service.
    QString keychainService() const;
    void setKeychainService(const QString &service);

    // Directory for the local SQLite cache (and the opt-in plaintext token file).
    QString dataDirectory() const;
    void setDataDirectory(const QString &path);

    // Become a guest automatically when there is no stored user (first launch).
    bool automaticGuest() const;
    void setAutomaticGuest(bool enabled);

    // Explicit opt-in: store the token in a plaintext file when no keychain works.
    bool allowInsecurePlaintextTokenStorage() const;
    void setAllowInsecurePlaintextTokenStorage(bool allow);

    int requestTimeout() const;   // ms, per request (QNetworkRequest::setTransferTimeout)
    void setRequestTimeout(int ms);

    int sessionRefreshInterval() const;   // ms between GET /get-session while online
    void setSessionRefreshInterval(int ms);

    int retryInitialDelay() const;   // ms, first retry / reachability probe delay
    void setRetryInitialDelay(int ms);
    int retryMaxDelay() const;       // ms, cap of the exponential backoff
    void setRetryMaxDelay(int ms);

    // Use QNetworkInformation as a hint to probe the server early when the system
    // says the network came back. The server's answers stay the source of truth.
    bool useSystemNetworkInformation() const;
    void setUseSystemNetworkInformation(bool use);

    // Sync collections automatically (reconnect, after local writes, backoff on failure).
    // Default true; with false only Client::syncNow() syncs (and a sync that stopped at
    // maxPullPagesPerSync() continues, see there).
    bool autoSync() const;
    void setAutoSync(bool enabled);

    // The sync protocol's clientId ([A-Za-z0-9._:-]{1,128}), unique per install: mids are
    // numbered per local database. Default (empty): a random id persisted in the local DB.
    // Each local profile (guest or account) pushes under this id plus ":" and a suffix of
    // its own (see docs/sdk.md).
    QString clientId() const;
    void setClientId(const QString &clientId);

    // Milliseconds between a local write and the automatic push (writes in between are
    // pushed together). Default 300.
    int syncDelay() const;
    void setSyncDelay(int ms);

    // Pull pages (of up to 500 changes) one sync may fetch; at this budget the sync ends
    // normally with what it pulled kept, the operations queued behind it run, and the
    // next sync continues from there by itself (also without autoSync), after a pause.
    // Bounds a server whose pull never ends. Default 200 (100,000 changes); at least 1.
    int maxPullPagesPerSync() const;
    void setMaxPullPagesPerSync(int pages);

    // The effective values after defaults are applied (used by Client).
    QString effectiveAppId() const;
    QString effectiveKeychainService() const;
    QString effectiveDataDirectory() const;

    void swap(ClientOptions &other) noexcept { d.swap(other.d); }

private:
    QSharedDataPointer<ClientOptionsData> d;
};

} // namespace Kernia

Q_DECLARE_SHARED(Kernia::ClientOptions)
