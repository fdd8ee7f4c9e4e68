// What the Kernia::Client tests share: bounded waits on QFuture results, an app install
// (its own data directory and keychain service) and a client configured for tests.
#pragma once

#include "testsupport.h"

#include <Kernia/Client>

#include <QtCore/QFuture>
#include <QtSql/QSqlDatabase>
#include <QtSql/QSqlError>
#include <QtSql/QSqlQuery>
#include <QtTest/QTest>

#include <functional>

namespace KerniaTest {

constexpr int Long = 30000;   // generous bound for anything that involves the network

inline const QString Password = QStringLiteral("password123");

// A fresh address per call; `tag` tells the suites' users apart in the server's logs.
inline QString uniqueEmail(QChar tag)
{
    return QStringLiteral("%1%2@example.com").arg(tag).arg(QUuid::createUuid().toString(QUuid::Id128).left(16));
}

inline Kernia::Error await(QFuture<Kernia::Error> future, int ms = Long)
{
    QDeadlineTimer deadline(ms);
    while (!future.isFinished() && !deadline.hasExpired())
        QTest::qWait(10);
    if (!future.isFinished())
        return Kernia::Error(Kernia::Error::Kind::Cancelled, QStringLiteral("TEST_TIMEOUT"),
                             QStringLiteral("the future did not finish in time"));
    return future.result();
}

// One app install: a data dir and a keychain service of its own.
struct Install
{
    QTemporaryDir dir;
    QString service = QStringLiteral("kernia-test:") + QUuid::createUuid().toString(QUuid::Id128);
};

// Writes a throw-away token: NoError when the keychain works here (scripts/test.sh
// provides gnome-keyring), so a suite fails at once, not test by test.
inline QKeychain::Error probeKeychain()
{
    return writeToken(QStringLiteral("kernia-test-probe:") + QUuid::createUuid().toString(QUuid::Id128),
                      QStringLiteral("x"));
}

// Runs one statement on an install's SDK database through a connection of its own (to
// set up states an older SDK or a crash would leave). Logs the statement when it fails.
inline bool execOnSdkDatabase(const Install &install, const QString &sql)
{
    const QString connection = QStringLiteral("kernia-test-beside-the-sdk");
    bool ok = false;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), connection);
        db.setDatabaseName(QDir(install.dir.path()).filePath(QStringLiteral("kernia-client.db")));
        ok = db.open();
        {
            QSqlQuery q(db);
            ok = ok && q.exec(sql);
            if (!ok)
                qWarning() << sql << q.lastError().text();
        }
        db.close();
    }
    QSqlDatabase::removeDatabase(connection);
    return ok;
}

// The first value a query answers on an install's SDK database (a connection of its own).
inline QVariant queryDatabase(const Install &install, const QString &sql)
{
    const QString connection = QStringLiteral("kernia-test-beside-the-sdk");
    QVariant value;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), connection);
        db.setDatabaseName(QDir(install.dir.path()).filePath(QStringLiteral("kernia-client.db")));
        if (db.open()) {
            QSqlQuery q(db);
            if (!q.exec(sql))
                qWarning() << sql << q.lastError().text();
            else if (q.next())
                value = q.value(0);
        }
        db.close();
    }
    QSqlDatabase::removeDatabase(connection);
    return value;
}

// Short timeouts and retries, no system network information; `tweak` adjusts the rest.
inline std::unique_ptr<Kernia::Client> makeClient(const QUrl &url, const Install &install,
                                                  const std::function<void(Kernia::ClientOptions &)> &tweak = {})
{
    Kernia::ClientOptions options(url);
    options.setDataDirectory(install.dir.path());
    options.setKeychainService(install.service);
    options.setRequestTimeout(5000);
    options.setRetryInitialDelay(100);
    options.setRetryMaxDelay(1000);
    options.setUseSystemNetworkInformation(false);
    if (tweak)
        tweak(options);
    return std::make_unique<Kernia::Client>(options);
}

} // namespace KerniaTest
