// Runs qmltests/tst_*.qml (Qt Quick Test) with a real kernia-server started here.
#include "testsupport.h"

#include <QtQml/QQmlContext>
#include <QtQml/QQmlEngine>
#include <QtQuickTest/quicktest.h>


class Setup : public QObject
{
    Q_OBJECT

public Q_SLOTS:
    void applicationAvailable()
    {
        if (!m_server.start())
            qFatal("kernia-server did not start (KERNIA_SERVER=%s): %s", qPrintable(KerniaTest::serverBinary()),
                   qPrintable(m_server.output()));
    }

    void qmlEngineAvailable(QQmlEngine *engine)
    {
        engine->addImportPath(QStringLiteral(KERNIA_QML_BUILD_IMPORT_PATH));   // `import Kernia` of this build
        QQmlContext *ctx = engine->rootContext();
        ctx->setContextProperty(QStringLiteral("testServerUrl"), m_server.url().toString());
        ctx->setContextProperty(QStringLiteral("testDownUrl"),
                                QStringLiteral("http://127.0.0.1:%1").arg(KerniaTest::freePort()));
        ctx->setContextProperty(QStringLiteral("testDataRoot"), m_dir.path());
        ctx->setContextProperty(QStringLiteral("testKeychainPrefix"),
                                QStringLiteral("kernia-qml-test:") + QUuid::createUuid().toString(QUuid::Id128) + QLatin1Char(':'));
    }

    void cleanupTestCase() { m_server.kill(); }

private:
    KerniaTest::TestServer m_server;
    QTemporaryDir m_dir;
};

QUICK_TEST_MAIN_WITH_SETUP(kernia_qml, Setup)

#include "tst_qml.moc"
