// kernia-demo: see docs/demo.md.
#include "demoapp.h"

#include <QtCore/QTimer>
#include <QtGui/QGuiApplication>
#include <QtQml/QQmlApplicationEngine>
#include <QtQml/qqmlextensionplugin.h>
#include <QtQuick/QQuickWindow>

Q_IMPORT_QML_PLUGIN(KerniaDemoPlugin)

int main(int argc, char **argv)
{
    QGuiApplication app(argc, argv);
    app.setOrganizationDomain(QStringLiteral("kernia.dev"));
    app.setApplicationName(QStringLiteral("kernia-demo"));
    app.setApplicationDisplayName(QStringLiteral("Kernia guest cart"));

    const KerniaDemo::Options options = KerniaDemo::parseOptions(app);
    QQmlApplicationEngine engine;
    QQuickWindow *window = KerniaDemo::load(engine, options);
    if (!window)
        return 1;

    if (!options.screenshot.isEmpty()) {
        QTimer::singleShot(3000, window, [window, file = options.screenshot] {
            const bool ok = window->grabWindow().save(file);
            qInfo("kernia-demo: screenshot %s: %s", qPrintable(file), ok ? "saved" : "FAILED");
            QCoreApplication::exit(ok ? 0 : 1);
        });
    }
    return app.exec();
}
