// A real AuthServer over a real SQLite file in a temporary directory, driven with plain
// Request values — the unit tests' stand-in for a client, without sockets.
//
// KERNIA_TEST_BACKEND=postgres runs it on a fresh PostgreSQL database instead (created on
// the server named by KERNIA_TEST_POSTGRES_URL, dropped afterwards); without that URL the
// test executable exits with code 77, which the ctest entries report as skipped.
#pragma once

#include "pg_test_support.h"

#include "auth/auth_server.h"
#include "plugins/anonymous/anonymous_plugin.h"
#include "plugins/bearer/bearer_plugin.h"
#include "store/sql_store.h"

#include <QJsonDocument>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QUuid>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include <cstdio>
#include <cstdlib>

namespace Kernia::Server::Testing {

inline const QByteArray kSecret = "unit-test-secret-0123456789ABCDEFGHIJ";
inline const QByteArray kOrigin = "http://127.0.0.1:3100";

struct TestServer
{
    explicit TestServer(AnonymousOptions anonymous = {}, AuthOptions options = defaultOptions())
    {
        QString error;
        if (usePostgres()) {
            if (!postgresTestUrl()) {
                std::fprintf(stderr, "SKIP: KERNIA_TEST_BACKEND=postgres but %s is not set "
                                     "(scripts/test.sh starts a throwaway PostgreSQL and sets it)\n",
                             kPostgresUrlVariable);
                std::exit(77);
            }
            pgDatabase = std::make_unique<PgTestDatabase>();
            store = SqlStore::openPostgres(pgDatabase->url(), &error);
        } else {
            store = SqlStore::openSqlite(dir.filePath(QStringLiteral("kernia.db")), &error);
        }
        if (!store)
            qFatal("cannot open test store: %s", qPrintable(error));
        store->migrate();
        auth = std::make_unique<AuthServer>(options, store);
        auth->addPlugin(std::make_unique<BearerPlugin>());
        auth->addPlugin(std::make_unique<AnonymousPlugin>(std::move(anonymous)));
    }

    // KERNIA_TEST_BACKEND=postgres (default: sqlite)
    static bool usePostgres()
    {
        return qEnvironmentVariable("KERNIA_TEST_BACKEND").compare(QLatin1String("postgres"), Qt::CaseInsensitive) == 0;
    }

    static AuthOptions defaultOptions()
    {
        AuthOptions options;
        options.secret = kSecret;
        options.baseUrl = QUrl(QString::fromLatin1(kOrigin));
        options.scrypt.n = 1024; // Better Auth's format, cheaper cost: unit tests hash a lot
        options.scrypt.r = 8;
        return options;
    }

    // `path` under /api/auth.
    static Request request(const QByteArray &method, const QString &path, const QByteArray &body = {},
                           const QList<QPair<QByteArray, QByteArray>> &headers = {})
    {
        return requestAt(method, QStringLiteral("/api/auth") + path, body, headers);
    }

    // Any path (with its query) on the server.
    static Request requestAt(const QByteArray &method, const QString &absolutePath, const QByteArray &body = {},
                             const QList<QPair<QByteArray, QByteArray>> &headers = {})
    {
        Request r;
        r.method = method;
        const QUrl url(QStringLiteral("http://localhost") + absolutePath);
        r.path = url.path();
        r.query = QUrlQuery(url);
        r.body = body;
        if (!body.isEmpty())
            r.setHeader("content-type", "application/json");
        for (const auto &[name, value] : headers)
            r.setHeader(name.toLower(), value);
        return r;
    }

    Response post(const QString &path, const QJsonObject &body, const QByteArray &cookie = {})
    {
        QList<QPair<QByteArray, QByteArray>> headers{{"origin", kOrigin}};
        if (!cookie.isEmpty())
            headers.append(qMakePair(QByteArray("cookie"), cookie));
        return heldAsSent(auth->handle(request("POST", path, QJsonDocument(body).toJson(QJsonDocument::Compact), headers)));
    }

    Response get(const QString &path, const QByteArray &cookie = {})
    {
        QList<QPair<QByteArray, QByteArray>> headers;
        if (!cookie.isEmpty())
            headers.append(qMakePair(QByteArray("cookie"), cookie));
        return heldAsSent(auth->handle(request("GET", path, {}, headers)));
    }

    // Returns when the HTTP layer would send `response`: after its hold (Response::heldUntil).
    static Response heldAsSent(Response response)
    {
        while (response.isHeld())
            QThread::msleep(quint32(response.heldUntil().remainingTime()));
        return response;
    }

    // "name=value" of the session cookie a response set, for the next request.
    QByteArray sessionCookie(const Response &response) const
    {
        const auto cookie = response.cookie(auth->sessions().sessionTokenCookie());
        return cookie ? cookie->name + '=' + cookie->value : QByteArray();
    }

    static QJsonObject json(const Response &response)
    {
        return QJsonDocument::fromJson(response.body()).object();
    }

    // A number read with a separate connection, as another process would see the file.
    int scalar(const QString &sql, const QVariantMap &binds = {})
    {
        const QString name = QUuid::createUuid().toString();
        int value = -1;
        {
            QSqlDatabase db;
            if (pgDatabase) {
                QString error;
                if (!openPostgresConnection(name, pgDatabase->url(), &error))
                    qFatal("cannot open the test database: %s", qPrintable(error));
                db = QSqlDatabase::database(name, false);
            } else {
                db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name);
                db.setDatabaseName(dir.filePath(QStringLiteral("kernia.db")));
                if (!db.open())
                    qFatal("cannot open the test database");
            }
            QSqlQuery query(db);
            query.prepare(sql);
            for (auto it = binds.cbegin(); it != binds.cend(); ++it)
                query.bindValue(QLatin1Char(':') + it.key(), it.value());
            if (query.exec() && query.next())
                value = query.value(0).toInt();
        }
        QSqlDatabase::removeDatabase(name);
        return value;
    }

    QTemporaryDir dir;
    std::unique_ptr<PgTestDatabase> pgDatabase;   // KERNIA_TEST_BACKEND=postgres only
    std::shared_ptr<SqlStore> store;
    std::unique_ptr<AuthServer> auth;
};

// A stored passkey whose key is never used (tests that only count or delete passkeys).
inline Passkey storedPasskey(const QString &id, const QString &userId, const QString &credentialId)
{
    Passkey passkey;
    passkey.id = id;
    passkey.publicKey = QStringLiteral("AQID");
    passkey.userId = userId;
    passkey.credentialID = credentialId;
    passkey.deviceType = QStringLiteral("singleDevice");
    passkey.createdAt = QDateTime::currentDateTimeUtc();
    return passkey;
}

} // namespace Kernia::Server::Testing
