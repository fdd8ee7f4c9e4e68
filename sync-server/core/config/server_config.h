// kernia-server's configuration: defaults, then a JSON config file (--config), then the
// environment (KERNIA_SECRET, KERNIA_BASE_URL), then command-line flags. docs/server.md
// lists every option.
#pragma once

#include <QByteArray>
#include <QProcessEnvironment>
#include <QStringList>
#include <QUrl>
#include <optional>

namespace Kernia::Server {

struct AnonymousOptions;

struct AnonymousConfig
{
    QString emailDomainName;
    QString nameTemplate;          // generate_name
    QString emailTemplate;         // generate_random_email
    bool disableDeleteAnonymousUser = false;
    QStringList onLinkSql;         // on_link.sql: statements run inside the link transaction
};

struct ServerConfig
{
    QString host = QStringLiteral("127.0.0.1");
    int port = 3000;               // 0 picks a free port
    QString dataDir = QStringLiteral("data");
    QString database;              // "sqlite:PATH"; default sqlite:<dataDir>/kernia.db
    QByteArray secret;
    QUrl baseUrl;                  // default http://HOST:PORT as bound
    QStringList trustedOrigins;
    QString mailOutbox;
    qint64 maxBodyBytes = 1024 * 1024;
    int workerThreads = 8;
    AnonymousConfig anonymous;

    QStringList warnings;          // printed at start-up (e.g. "generated a secret")
};

struct ConfigResult
{
    std::optional<ServerConfig> config;
    QString error;                 // set when config is empty and no help was asked for
    QString helpText;              // set for --help / --version
};

// `arguments` includes the program name, as QCoreApplication::arguments() does.
ConfigResult loadServerConfig(const QStringList &arguments, const QProcessEnvironment &environment);

// The secret from the data directory, generated and stored there (0600) on first use.
std::optional<QByteArray> persistedSecret(const QString &dataDir, bool *generated, QString *error);

// The anonymous plugin's options built from the config (templates, on_link SQL).
AnonymousOptions anonymousOptionsFrom(const AnonymousConfig &config);

inline constexpr int kMinimumSecretLength = 32;

} // namespace Kernia::Server
