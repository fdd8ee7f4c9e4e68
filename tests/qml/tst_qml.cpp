// Runs qmltests/tst_*.qml (Qt Quick Test) with a real kernia-server started here.
#include "testsupport.h"

#include <QtQml/QQmlContext>
#include <QtQml/QQmlEngine>
#include <QtQuickTest/quicktest.h>

// Counts destroyed objects for the QML tests, which cannot connect to QObject::destroyed.
class DestructionWatch : public QObject
{
    Q_OBJECT

public:
    Q_INVOKABLE void watch(QObject *object)
    {
        if (object)
            connect(object, &QObject::destroyed, this, [this] { ++m_destroyed; });
    }
    Q_INVOKABLE int destroyedCount() const { return m_destroyed; }

private:
    int m_destroyed = 0;
};

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
        ctx->setContextProperty(QStringLiteral("destructionWatch"), &m_watch);
    }

    void cleanupTestCase() { m_server.kill(); }

private:
    KerniaTest::TestServer m_server;
    QTemporaryDir m_dir;
    DestructionWatch m_watch;
};

QUICK_TEST_MAIN_WITH_SETUP(kernia_qml, Setup)

#include "tst_qml.moc"
