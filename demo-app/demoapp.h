// The demo's loader, shared by main.cpp and tests/demo: options from the command line
// and environment, and loading qrc:/KerniaDemo/Main.qml with them.
#pragma once

#include <QtCore/QString>
#include <QtCore/QUrl>

class QCoreApplication;
class QQmlApplicationEngine;
class QQuickWindow;

namespace KerniaDemo {

struct Options
{
    QUrl serverUrl = QUrl(QStringLiteral("http://127.0.0.1:3000"));
    QString dataDirectory;        // empty: the SDK default (AppLocalDataLocation/kernia)
    QString keychainService;      // empty: the SDK default ("kernia:" + appId)
    bool plaintextTokens = false; // dev only: token in a 0600 file when no keychain works
    QString screenshot;           // save a screenshot there once the window is shown, then quit
};

// Command line: --server URL, --data-dir DIR, --keychain-service NAME, --plaintext-tokens,
// --screenshot FILE. Environment (used when the option is absent): KERNIA_DEMO_SERVER,
// KERNIA_DEMO_DATA_DIR. Exits with a usage message on bad arguments.
Options parseOptions(const QCoreApplication &app);

// Loads the UI into engine; returns its window or nullptr (errors were logged).
QQuickWindow *load(QQmlApplicationEngine &engine, const Options &options);

} // namespace KerniaDemo
