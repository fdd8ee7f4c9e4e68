// kernia-server: the standalone auth + sync server.
#include "auth/auth_server.h"
#include "config/server_config.h"
#include "http_adapter.h"
#include "mail/mailer_group.h"
#include "mail/outbox_mailer.h"
#include "mail/smtp_mailer.h"
#include "plugins/anonymous/anonymous_plugin.h"
#include "plugins/bearer/bearer_plugin.h"
#include "plugins/passkey/passkey_plugin.h"
#include "plugins/magic_link/magic_link_plugin.h"
#include "plugins/username/username_plugin.h"
#include "store/sql_store.h"

#include <QCoreApplication>
#include <QHostAddress>
#include <QLoggingCategory>
#include <cstdio>

using namespace Kernia::Server;

namespace {

int fail(const QString &message)
{
    std::fprintf(stderr, "kernia-server: %s\n", qPrintable(message));
    return 2;
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("kernia-server"));
    QCoreApplication::setApplicationVersion(QStringLiteral(KERNIA_VERSION));
    // Request logs are on by default; KERNIA_LOG_RULES / QT_LOGGING_RULES can change that.
    QLoggingCategory::setFilterRules(qEnvironmentVariable("KERNIA_LOG_RULES", QStringLiteral("kernia.http.info=false")));

    const ConfigResult loaded = loadServerConfig(app.arguments(), QProcessEnvironment::systemEnvironment());
    if (!loaded.helpText.isEmpty()) {
        std::fputs(qPrintable(loaded.helpText), stdout);
        return 0;
    }
    if (!loaded.config)
        return fail(loaded.error + QStringLiteral("\n(see kernia-server --help)"));
    ServerConfig config = *loaded.config;
    for (const QString &warning : config.warnings)
        std::fprintf(stderr, "kernia-server: warning: %s\n", qPrintable(warning));

    QString error;
    std::shared_ptr<Store> store = SqlStore::open(config.database, &error);   // sqlite:PATH or postgres://...
    if (!store)
        return fail(QStringLiteral("cannot open database %1: %2").arg(SqlStore::redactedPostgresUrl(config.database), error));
    try {
        store->migrate();
    } catch (const StoreError &failure) {
        return fail(QStringLiteral("database migration failed: %1").arg(QString::fromUtf8(failure.what())));
    }

    const QHostAddress address(config.host);
    if (address.isNull())
        return fail(QStringLiteral("--host must be an IP address, got \"%1\"").arg(config.host));

    HttpAdapter http(config.workerThreads);
    const quint16 port = http.listen(address, quint16(config.port));
    if (port == 0)
        return fail(QStringLiteral("cannot listen on %1:%2 (in use, or not allowed)").arg(config.host).arg(config.port));
    const QString hostPart = address.protocol() == QAbstractSocket::IPv6Protocol
        ? QStringLiteral("[%1]").arg(config.host) : config.host;
    const QUrl listenUrl(QStringLiteral("http://%1:%2").arg(hostPart).arg(port));

    AuthOptions options;
    options.secret = config.secret;
    options.baseUrl = config.baseUrl.isEmpty() ? listenUrl : config.baseUrl; // known only after binding
    options.trustedOrigins = config.trustedOrigins;
    options.maxBodyBytes = config.maxBodyBytes;
    AuthServer auth(options, store);
    auth.addPlugin(std::make_unique<BearerPlugin>());
    auth.addPlugin(std::make_unique<AnonymousPlugin>(anonymousOptionsFrom(config.anonymous)));
    auth.addPlugin(std::make_unique<UsernamePlugin>());
    PasskeyOptions passkeyOptions;
    passkeyOptions.rpId = config.passkey.rpId;
    passkeyOptions.rpName = config.passkey.rpName;
    passkeyOptions.origins = config.passkey.origins;
    auth.addPlugin(std::make_unique<PasskeyPlugin>(passkeyOptions));
    auth.addPlugin(std::make_unique<MagicLinkPlugin>(magicLinkOptionsFrom(config.magicLink)));
    std::vector<std::shared_ptr<Mailer>> mailers; // --mail-outbox and --smtp-url: both get every mail
    if (!config.mailOutbox.isEmpty())
        mailers.push_back(std::make_shared<OutboxMailer>(config.mailOutbox));
    if (!config.smtp.url.isEmpty())
        mailers.push_back(std::make_shared<SmtpMailer>(smtpOptionsFrom(config.smtp)));
    if (mailers.size() == 1)
        auth.setMailer(mailers.front());
    else if (mailers.size() > 1)
        auth.setMailer(std::make_shared<MailerGroup>(std::move(mailers)));
    http.setEngine(&auth);

    std::printf("listening on %s\n", qPrintable(listenUrl.toString()));
    std::fflush(stdout);
    return app.exec();
}
