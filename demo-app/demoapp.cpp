#include "demoapp.h"

#include <QtCore/QCommandLineParser>
#include <QtCore/QCoreApplication>
#include <QtCore/QDebug>
#include <QtQml/QQmlApplicationEngine>
#include <QtQuick/QQuickWindow>

namespace KerniaDemo {

Options parseOptions(const QCoreApplication &app)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Kernia demo: a guest cart that syncs once you have an account."));
    parser.addHelpOption();
    const QCommandLineOption server(QStringLiteral("server"),
                                    QStringLiteral("kernia-server URL (env KERNIA_DEMO_SERVER; default http://127.0.0.1:3000)."),
                                    QStringLiteral("url"));
    const QCommandLineOption dataDir(QStringLiteral("data-dir"),
                                     QStringLiteral("Local data directory (env KERNIA_DEMO_DATA_DIR)."),
                                     QStringLiteral("dir"));
    const QCommandLineOption keychain(QStringLiteral("keychain-service"),
                                      QStringLiteral("Keychain service name for the session token."),
                                      QStringLiteral("name"));
    const QCommandLineOption plaintext(QStringLiteral("plaintext-tokens"),
                                       QStringLiteral("Development only: keep the token in a 0600 file if no keychain works."));
    const QCommandLineOption screenshot(QStringLiteral("screenshot"),
                                        QStringLiteral("Save a screenshot of the window to file after 3 s, then quit."),
                                        QStringLiteral("file"));
    parser.addOptions({ server, dataDir, keychain, plaintext, screenshot });
    parser.process(app);

    Options options;
    const QString url = parser.isSet(server) ? parser.value(server) : qEnvironmentVariable("KERNIA_DEMO_SERVER");
    if (!url.isEmpty())
        options.serverUrl = QUrl::fromUserInput(url);
    if (!options.serverUrl.isValid() || options.serverUrl.scheme().isEmpty()) {
        qCritical("kernia-demo: invalid server URL: %s", qPrintable(url));
        ::exit(2);
    }
    options.dataDirectory = parser.isSet(dataDir) ? parser.value(dataDir) : qEnvironmentVariable("KERNIA_DEMO_DATA_DIR");
    options.keychainService = parser.value(keychain);
    options.plaintextTokens = parser.isSet(plaintext);
    options.screenshot = parser.value(screenshot);
    return options;
}

QQuickWindow *load(QQmlApplicationEngine &engine, const Options &options)
{
    // `import Kernia` from this build (the demo is not installed); an installed module in
    // Qt's QML directory is found without this.
    engine.addImportPath(QStringLiteral(KERNIA_QML_BUILD_IMPORT_PATH));
    engine.setInitialProperties({
        { QStringLiteral("serverUrl"), options.serverUrl },
        { QStringLiteral("dataDirectory"), options.dataDirectory },
        { QStringLiteral("keychainService"), options.keychainService },
        { QStringLiteral("plaintextTokens"), options.plaintextTokens },
    });
    engine.load(QUrl(QStringLiteral("qrc:/KerniaDemo/Main.qml")));
    const auto roots = engine.rootObjects();
    auto *window = roots.isEmpty() ? nullptr : qobject_cast<QQuickWindow *>(roots.first());
    if (!window)
        qCritical("kernia-demo: could not load the UI");
    return window;
}

} // namespace KerniaDemo
