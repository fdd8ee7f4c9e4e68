#include <Kernia/clientoptions.h>

#include <QtCore/QCoreApplication>
#include <QtCore/QDir>
#include <QtCore/QStandardPaths>

namespace Kernia {

class ClientOptionsData : public QSharedData
{
public:
    QUrl serverUrl;
    QString basePath = QStringLiteral("/api/auth");
    QString appId;
    QString keychainService;
    QString dataDirectory;
    bool automaticGuest = true;
    bool allowPlaintext = false;
    int requestTimeout = 15000;
    int refreshInterval = 60 * 60 * 1000;
    int retryInitial = 1000;
    int retryMax = 60000;
    bool useNetworkInformation = true;
    bool autoSync = true;
    QString clientId;
    int syncDelay = 300;
    int maxPullPages = 200;
};

ClientOptions::ClientOptions() : d(new ClientOptionsData) { }
ClientOptions::ClientOptions(const QUrl &serverUrl) : d(new ClientOptionsData)
{
    d->serverUrl = serverUrl;
}
ClientOptions::ClientOptions(const ClientOptions &other) = default;
ClientOptions::ClientOptions(ClientOptions &&other) noexcept = default;
ClientOptions &ClientOptions::operator=(const ClientOptions &other) = default;
ClientOptions &ClientOptions::operator=(ClientOptions &&other) noexcept = default;
ClientOptions::~ClientOptions() = default;

QUrl ClientOptions::serverUrl() const { return d->serverUrl; }
void ClientOptions::setServerUrl(const QUrl &url) { d->serverUrl = url; }
QString ClientOptions::basePath() const { return d->basePath; }
void ClientOptions::setBasePath(const QString &path) { d->basePath = path; }
QString ClientOptions::appId() const { return d->appId; }
void ClientOptions::setAppId(const QString &appId) { d->appId = appId; }
QString ClientOptions::keychainService() const { return d->keychainService; }
void ClientOptions::setKeychainService(const QString &service) { d->keychainService = service; }
QString ClientOptions::dataDirectory() const { return d->dataDirectory; }
void ClientOptions::setDataDirectory(const QString &path) { d->dataDirectory = path; }
bool ClientOptions::automaticGuest() const { return d->automaticGuest; }
void ClientOptions::setAutomaticGuest(bool enabled) { d->automaticGuest = enabled; }
bool ClientOptions::allowInsecurePlaintextTokenStorage() const { return d->allowPlaintext; }
void ClientOptions::setAllowInsecurePlaintextTokenStorage(bool allow) { d->allowPlaintext = allow; }
int ClientOptions::requestTimeout() const { return d->requestTimeout; }
void ClientOptions::setRequestTimeout(int ms) { d->requestTimeout = qMax(1, ms); }
int ClientOptions::sessionRefreshInterval() const { return d->refreshInterval; }
void ClientOptions::setSessionRefreshInterval(int ms) { d->refreshInterval = qMax(1, ms); }
int ClientOptions::retryInitialDelay() const { return d->retryInitial; }
void ClientOptions::setRetryInitialDelay(int ms) { d->retryInitial = qMax(1, ms); }
int ClientOptions::retryMaxDelay() const { return d->retryMax; }
void ClientOptions::setRetryMaxDelay(int ms) { d->retryMax = qMax(1, ms); }
bool ClientOptions::useSystemNetworkInformation() const { return d->useNetworkInformation; }
void ClientOptions::setUseSystemNetworkInformation(bool use) { d->useNetworkInformation = use; }
bool ClientOptions::autoSync() const { return d->autoSync; }
void ClientOptions::setAutoSync(bool enabled) { d->autoSync = enabled; }
QString ClientOptions::clientId() const { return d->clientId; }
void ClientOptions::setClientId(const QString &clientId) { d->clientId = clientId; }
int ClientOptions::syncDelay() const { return d->syncDelay; }
void ClientOptions::setSyncDelay(int ms) { d->syncDelay = qMax(0, ms); }
int ClientOptions::maxPullPagesPerSync() const { return d->maxPullPages; }
void ClientOptions::setMaxPullPagesPerSync(int pages) { d->maxPullPages = qMax(1, pages); }

QString ClientOptions::effectiveAppId() const
{
    if (!d->appId.isEmpty())
        return d->appId;
    const QString domain = QCoreApplication::organizationDomain();
    QString app = QCoreApplication::applicationName();
    if (app.isEmpty())
        app = QStringLiteral("app");
    return domain.isEmpty() ? app : domain + QLatin1Char('.') + app;
}

QString ClientOptions::effectiveKeychainService() const
{
    return d->keychainService.isEmpty() ? QStringLiteral("kernia:") + effectiveAppId() : d->keychainService;
}

QString ClientOptions::effectiveDataDirectory() const
{
    if (!d->dataDirectory.isEmpty())
        return d->dataDirectory;
    QString base = QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation);
    if (base.isEmpty())
        base = QDir::homePath() + QLatin1String("/.kernia/") + effectiveAppId();
    return base + QLatin1String("/kernia");
}

} // namespace Kernia
