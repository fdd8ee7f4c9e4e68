// The consumer: a first launch with no server gives a guest at once.
#include <Kernia/Client>

#include <QtCore/QCoreApplication>
#include <QtCore/QTemporaryDir>
#include <QtCore/QTimer>
#include <QtCore/QUuid>

#include <cstdio>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QTemporaryDir dir;
    Kernia::ClientOptions options(QUrl(QStringLiteral("http://127.0.0.1:9")));   // nothing listens there
    options.setDataDirectory(dir.path());
    options.setKeychainService(QStringLiteral("kernia-consumer:") + QUuid::createUuid().toString(QUuid::Id128));
    options.setUseSystemNetworkInformation(false);
    Kernia::Client client(options);

    std::printf("Kernia SDK %s, state %d, local guest %s\n", KERNIA_SDK_VERSION_STRING, int(client.state()),
                qPrintable(client.user().localId()));
    if (client.state() != Kernia::Client::State::Guest || !client.user().isLocalOnly())
        return 1;

    int rc = 2;
    QObject::connect(&client, &Kernia::Client::readyChanged, &app, [&] {
        rc = 0;
        app.quit();
    });
    QTimer::singleShot(20000, &app, &QCoreApplication::quit);
    app.exec();
    std::printf("ready: %s, last error: %s\n", client.isReady() ? "yes" : "no",
                qPrintable(client.lastError().toString()));
    return rc;
}
