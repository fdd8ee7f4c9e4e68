// PostgreSQL helpers for the unit tests: fresh, uniquely named databases on the server
// named by KERNIA_TEST_POSTGRES_URL (scripts/test.sh starts a throwaway one with
// scripts/pg-test-server.sh and exports it), and plain QPSQL connections next to the
// store's, for looking at the data as another process would.
//
//   if (!Kernia::Server::Testing::postgresTestUrl())
//       QSKIP("...");
//   PgTestDatabase db;                        // CREATE DATABASE kernia_t_<pid>_<n>
//   auto store = SqlStore::openPostgres(db.url(), &error);
//   ...                                       // ~PgTestDatabase drops it (WITH (FORCE))
#pragma once

#include <QAtomicInteger>
#include <QCoreApplication>
#include <QDateTime>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QString>
#include <QUrl>
#include <QUrlQuery>
#include <QUuid>
#include <QVariant>
#include <optional>

namespace Kernia::Server::Testing {

inline constexpr auto kPostgresUrlVariable = "KERNIA_TEST_POSTGRES_URL";

// The base URL (an existing database, usually .../postgres) or nullopt when unset.
inline std::optional<QString> postgresTestUrl()
{
    const QString url = qEnvironmentVariable(kPostgresUrlVariable).trimmed();
    if (url.isEmpty())
        return std::nullopt;
    return url;
}

// `url` with another database name.
inline QString withDatabase(const QString &url, const QString &database)
{
    QUrl u(url);
    u.setPath(QLatin1Char('/') + database);
    return u.toString();
}

// Opens a QPSQL connection named `name` to `url` (host, port, user, password, path as the
// database, ?host= for a socket dir). Returns false with the driver's message on failure.
inline bool openPostgresConnection(const QString &name, const QString &url, QString *error = nullptr)
{
    const QUrl u(url);
    QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), name);
    db.setHostName(u.host());
    const QUrlQuery query(u);
    if (query.hasQueryItem(QStringLiteral("host")))
        db.setHostName(query.queryItemValue(QStringLiteral("host"), QUrl::FullyDecoded));
    if (u.port() > 0)
        db.setPort(u.port());
    db.setUserName(u.userName(QUrl::FullyDecoded));
    db.setPassword(u.password(QUrl::FullyDecoded));
    db.setDatabaseName(u.path(QUrl::FullyDecoded).mid(1));
    if (db.open()) {
        QSqlQuery q(db);
        q.exec(QStringLiteral("SET client_min_messages = warning"));
        return true;
    }
    if (error)
        *error = db.lastError().text();
    return false;
}

// Runs one statement on the base database (CREATE/DROP DATABASE cannot run in a
// transaction, so this uses its own autocommit connection).
inline bool postgresAdminExec(const QString &sql, QString *error = nullptr)
{
    const std::optional<QString> base = postgresTestUrl();
    if (!base) {
        if (error)
            *error = QStringLiteral("%1 is not set").arg(QLatin1String(kPostgresUrlVariable));
        return false;
    }
    const QString name = QStringLiteral("kernia-test-admin-") + QUuid::createUuid().toString(QUuid::Id128);
    bool ok = false;
    {
        if (openPostgresConnection(name, *base, error)) {
            QSqlQuery q(QSqlDatabase::database(name, false));
            ok = q.exec(sql);
            if (!ok && error)
                *error = q.lastError().text();
        }
        QSqlDatabase::database(name, false).close();
    }
    QSqlDatabase::removeDatabase(name);
    return ok;
}

// A fresh database, dropped (with any connections still on it) when this goes away.
class PgTestDatabase
{
public:
    PgTestDatabase()
    {
        static QAtomicInteger<int> counter{0};
        m_name = QStringLiteral("kernia_t_%1_%2_%3")
                     .arg(QCoreApplication::applicationPid())
                     .arg(QDateTime::currentMSecsSinceEpoch() % 100000000)
                     .arg(++counter);
        QString error;
        if (!postgresAdminExec(QStringLiteral("CREATE DATABASE %1").arg(m_name), &error))
            qFatal("cannot create test database %s: %s", qPrintable(m_name), qPrintable(error));
        m_url = withDatabase(*postgresTestUrl(), m_name);
    }
    ~PgTestDatabase()
    {
        QString error;
        if (!postgresAdminExec(QStringLiteral("DROP DATABASE IF EXISTS %1 WITH (FORCE)").arg(m_name), &error))
            qWarning("cannot drop test database %s: %s", qPrintable(m_name), qPrintable(error));
    }
    PgTestDatabase(const PgTestDatabase &) = delete;
    PgTestDatabase &operator=(const PgTestDatabase &) = delete;

    const QString &name() const { return m_name; }
    const QString &url() const { return m_url; }

private:
    QString m_name;
    QString m_url;
};

} // namespace Kernia::Server::Testing
