#include "localstore_p.h"

#include "logging_p.h"

#include <QtCore/QDir>
#include <QtCore/QJsonDocument>
#include <QtCore/QUuid>
#include <QtSql/QSqlDatabase>
#include <QtSql/QSqlError>
#include <QtSql/QSqlQuery>

namespace Kernia {

namespace {

struct Migration
{
    int version;
    const char *description;
    QStringList statements;
};

// Append-only. Issue 6 (sync) adds collections/outbox tables here as version 2+, each
// with an owner_local_id column so they follow adopt/discard automatically.
const QList<Migration> &migrations()
{
    static const QList<Migration> list = {
        { 1, "identity, profiles, meta",
          {
              QStringLiteral("CREATE TABLE kernia_meta (key TEXT PRIMARY KEY, value TEXT)"),
              QStringLiteral("CREATE TABLE profiles ("
                             " local_id TEXT PRIMARY KEY,"
                             " user_id TEXT,"
                             " user_json TEXT NOT NULL,"
                             " status TEXT NOT NULL,"
                             " created_at TEXT NOT NULL,"
                             " updated_at TEXT NOT NULL)"),
              QStringLiteral("CREATE INDEX profiles_status ON profiles(status)"),
              QStringLiteral("CREATE TABLE identity ("
                             " slot INTEGER PRIMARY KEY CHECK (slot = 1),"
                             " state INTEGER NOT NULL,"
                             " local_id TEXT REFERENCES profiles(local_id),"
                             " has_server_session INTEGER NOT NULL DEFAULT 0,"
                             " session_expires_at TEXT,"
                             " updated_at TEXT NOT NULL)"),
          } },
    };
    return list;
}

QString nowIso()
{
    return QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs);
}

} // namespace

LocalStore::LocalStore(const QString &directory)
    : m_directory(directory),
      m_connection(QStringLiteral("kernia-sdk-") + QUuid::createUuid().toString(QUuid::WithoutBraces))
{
}

LocalStore::~LocalStore()
{
    if (QSqlDatabase::contains(m_connection)) {
        {
            QSqlDatabase db = QSqlDatabase::database(m_connection, false);
            db.close();
        }
        QSqlDatabase::removeDatabase(m_connection);
    }
}

QString LocalStore::databasePath() const
{
    return QDir(m_directory).filePath(QStringLiteral("kernia-client.db"));
}

Error LocalStore::sqlError(const QString &what, const QString &detail) const
{
    qCWarning(lcStore) << what << detail;
    return Error(Error::Kind::LocalStore, QString(), what + QLatin1String(": ") + detail);
}

Error LocalStore::open()
{
    if (!QDir().mkpath(m_directory))
        return sqlError(QStringLiteral("Cannot create the data directory"), m_directory);
    QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_connection);
    db.setDatabaseName(databasePath());
    db.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=5000"));
    if (!db.open())
        return sqlError(QStringLiteral("Cannot open the local database"), db.lastError().text());
    QSqlQuery q(db);
    // WAL is sticky in the file; the others are per connection (qt-notes §5).
    if (!q.exec(QStringLiteral("PRAGMA journal_mode=WAL")))
        return sqlError(QStringLiteral("PRAGMA journal_mode"), q.lastError().text());
    q.finish();
    q.exec(QStringLiteral("PRAGMA synchronous=NORMAL"));
    q.exec(QStringLiteral("PRAGMA foreign_keys=ON"));
    q.finish();
    m_open = true;
    const Error e = migrate();
    if (e.isError())
        m_open = false;
    return e;
}

int LocalStore::latestSchemaVersion()
{
    return migrations().constLast().version;
}

int LocalStore::schemaVersion() const
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    if (!q.exec(QStringLiteral("PRAGMA user_version")) || !q.next())
        return -1;
    return q.value(0).toInt();
}

Error LocalStore::migrate()
{
    QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    const int current = schemaVersion();
    if (current < 0)
        return sqlError(QStringLiteral("Cannot read the schema version"), db.lastError().text());
    if (current > latestSchemaVersion())
        return sqlError(QStringLiteral("The local database is newer than this SDK"),
                        QStringLiteral("schema %1 > %2").arg(current).arg(latestSchemaVersion()));
    for (const Migration &m : migrations()) {
        if (m.version <= current)
            continue;
        qCInfo(lcStore) << "migrating local database to schema" << m.version << m.description;
        if (!db.transaction())
            return sqlError(QStringLiteral("Cannot begin a migration"), db.lastError().text());
        QSqlQuery q(db);
        for (const QString &sql : m.statements) {
            if (!q.exec(sql)) {
                const QString detail = q.lastError().text();
                q.finish();
                db.rollback();
                return sqlError(QStringLiteral("Migration %1 failed").arg(m.version), detail);
            }
        }
        // PRAGMA user_version is transactional in SQLite: the version and the schema commit together.
        if (!q.exec(QStringLiteral("PRAGMA user_version = %1").arg(m.version))) {
            db.rollback();
            return sqlError(QStringLiteral("Cannot record schema %1").arg(m.version), q.lastError().text());
        }
        q.finish();
        if (!db.commit())
            return sqlError(QStringLiteral("Cannot commit migration %1").arg(m.version), db.lastError().text());
    }
    return Error();
}

std::optional<StoredIdentity> LocalStore::identity() const
{
    if (!m_open)
        return std::nullopt;
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    if (!q.exec(QStringLiteral("SELECT state, local_id, has_server_session, session_expires_at FROM identity WHERE slot = 1"))
        || !q.next())
        return std::nullopt;
    StoredIdentity id;
    id.state = q.value(0).toInt();
    id.localId = q.value(1).toString();
    id.hasServerSession = q.value(2).toInt() != 0;
    id.sessionExpiresAt = QDateTime::fromString(q.value(3).toString(), Qt::ISODateWithMs);
    q.finish();
    return id;
}

Error LocalStore::saveCurrent(const StoredIdentity &identity, const User &user)
{
    if (!m_open)
        return Error(Error::Kind::LocalStore, QString(), QStringLiteral("The local database is not open"));
    QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    if (!db.transaction())
        return sqlError(QStringLiteral("Cannot begin a transaction"), db.lastError().text());
    QSqlQuery q(db);
    const QString now = nowIso();
    if (user.isValid() && !user.localId().isEmpty()) {
        q.prepare(QStringLiteral(
                "INSERT INTO profiles (local_id, user_id, user_json, status, created_at, updated_at)"
                " VALUES (:lid, :uid, :json, :status, :now, :now)"
                " ON CONFLICT(local_id) DO UPDATE SET user_id = excluded.user_id, user_json = excluded.user_json,"
                " status = excluded.status, updated_at = excluded.updated_at"));
        q.bindValue(QStringLiteral(":lid"), user.localId());
        q.bindValue(QStringLiteral(":uid"), user.id());
        q.bindValue(QStringLiteral(":json"),
                    QString::fromUtf8(QJsonDocument(user.toJson()).toJson(QJsonDocument::Compact)));
        q.bindValue(QStringLiteral(":status"), QString::fromLatin1(ProfileCurrent));
        q.bindValue(QStringLiteral(":now"), now);
        if (!q.exec()) {
            const QString detail = q.lastError().text();
            db.rollback();
            return sqlError(QStringLiteral("Cannot save the profile"), detail);
        }
    }
    q.prepare(QStringLiteral(
            "INSERT INTO identity (slot, state, local_id, has_server_session, session_expires_at, updated_at)"
            " VALUES (1, :state, :lid, :hss, :exp, :now)"
            " ON CONFLICT(slot) DO UPDATE SET state = excluded.state, local_id = excluded.local_id,"
            " has_server_session = excluded.has_server_session, session_expires_at = excluded.session_expires_at,"
            " updated_at = excluded.updated_at"));
    q.bindValue(QStringLiteral(":state"), identity.state);
    q.bindValue(QStringLiteral(":lid"), identity.localId.isEmpty() ? QVariant() : QVariant(identity.localId));
    q.bindValue(QStringLiteral(":hss"), identity.hasServerSession ? 1 : 0);
    q.bindValue(QStringLiteral(":exp"), identity.sessionExpiresAt.isValid()
                        ? QVariant(identity.sessionExpiresAt.toUTC().toString(Qt::ISODateWithMs))
                        : QVariant());
    q.bindValue(QStringLiteral(":now"), now);
    if (!q.exec()) {
        const QString detail = q.lastError().text();
        db.rollback();
        return sqlError(QStringLiteral("Cannot save the identity"), detail);
    }
    q.finish();
    if (!db.commit())
        return sqlError(QStringLiteral("Cannot commit"), db.lastError().text());
    return Error();
}

User LocalStore::profileUser(const QString &localId) const
{
    if (!m_open)
        return User();
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("SELECT user_json FROM profiles WHERE local_id = :lid"));
    q.bindValue(QStringLiteral(":lid"), localId);
    if (!q.exec() || !q.next())
        return User();
    const QJsonObject json = QJsonDocument::fromJson(q.value(0).toString().toUtf8()).object();
    q.finish();
    return User::fromJson(json, localId);
}

Error LocalStore::setProfileStatus(const QString &localId, const QString &status)
{
    if (!m_open)
        return Error(Error::Kind::LocalStore, QString(), QStringLiteral("The local database is not open"));
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("UPDATE profiles SET status = :status, updated_at = :now WHERE local_id = :lid"));
    q.bindValue(QStringLiteral(":status"), status);
    q.bindValue(QStringLiteral(":now"), nowIso());
    q.bindValue(QStringLiteral(":lid"), localId);
    if (!q.exec())
        return sqlError(QStringLiteral("Cannot update the profile"), q.lastError().text());
    return Error();
}

QStringList LocalStore::profiles(const QString &status) const
{
    QStringList out;
    if (!m_open)
        return out;
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("SELECT local_id FROM profiles WHERE status = :status ORDER BY updated_at, local_id"));
    q.bindValue(QStringLiteral(":status"), status);
    if (q.exec()) {
        while (q.next())
            out << q.value(0).toString();
    }
    return out;
}

QString LocalStore::profileForUser(const QString &userId, const QString &status) const
{
    if (!m_open || userId.isEmpty())
        return QString();
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("SELECT local_id FROM profiles WHERE user_id = :uid AND status = :status"
                             " ORDER BY updated_at DESC LIMIT 1"));
    q.bindValue(QStringLiteral(":uid"), userId);
    q.bindValue(QStringLiteral(":status"), status);
    if (!q.exec() || !q.next())
        return QString();
    const QString id = q.value(0).toString();
    q.finish();
    return id;
}

QStringList LocalStore::ownedTables() const
{
    QStringList tables;
    QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    const QStringList all = db.tables(QSql::Tables);
    for (const QString &table : all) {
        QSqlQuery q(db);
        if (!q.exec(QStringLiteral("PRAGMA table_info(\"%1\")").arg(table)))
            continue;
        while (q.next()) {
            if (q.value(1).toString() == QLatin1String("owner_local_id")) {
                tables << table;
                break;
            }
        }
        q.finish();
    }
    return tables;
}

Error LocalStore::adopt(const QString &from, const QString &to)
{
    if (!m_open)
        return Error(Error::Kind::LocalStore, QString(), QStringLiteral("The local database is not open"));
    QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    const QStringList tables = ownedTables();
    if (!db.transaction())
        return sqlError(QStringLiteral("Cannot begin a transaction"), db.lastError().text());
    QSqlQuery q(db);
    for (const QString &table : tables) {
        q.prepare(QStringLiteral("UPDATE \"%1\" SET owner_local_id = :to WHERE owner_local_id = :from").arg(table));
        q.bindValue(QStringLiteral(":to"), to);
        q.bindValue(QStringLiteral(":from"), from);
        if (!q.exec()) {
            const QString detail = q.lastError().text();
            db.rollback();
            return sqlError(QStringLiteral("Cannot adopt rows of %1").arg(table), detail);
        }
    }
    q.prepare(QStringLiteral("DELETE FROM profiles WHERE local_id = :from"));
    q.bindValue(QStringLiteral(":from"), from);
    if (!q.exec()) {
        const QString detail = q.lastError().text();
        db.rollback();
        return sqlError(QStringLiteral("Cannot drop the adopted profile"), detail);
    }
    if (!db.commit())
        return sqlError(QStringLiteral("Cannot commit"), db.lastError().text());
    return Error();
}

Error LocalStore::discard(const QString &localId)
{
    if (!m_open)
        return Error(Error::Kind::LocalStore, QString(), QStringLiteral("The local database is not open"));
    QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    const QStringList tables = ownedTables();
    if (!db.transaction())
        return sqlError(QStringLiteral("Cannot begin a transaction"), db.lastError().text());
    QSqlQuery q(db);
    for (const QString &table : tables) {
        q.prepare(QStringLiteral("DELETE FROM \"%1\" WHERE owner_local_id = :lid").arg(table));
        q.bindValue(QStringLiteral(":lid"), localId);
        if (!q.exec()) {
            const QString detail = q.lastError().text();
            db.rollback();
            return sqlError(QStringLiteral("Cannot discard rows of %1").arg(table), detail);
        }
    }
    q.prepare(QStringLiteral("UPDATE identity SET local_id = NULL WHERE local_id = :lid"));
    q.bindValue(QStringLiteral(":lid"), localId);
    q.exec();
    q.prepare(QStringLiteral("DELETE FROM profiles WHERE local_id = :lid"));
    q.bindValue(QStringLiteral(":lid"), localId);
    if (!q.exec()) {
        const QString detail = q.lastError().text();
        db.rollback();
        return sqlError(QStringLiteral("Cannot discard the profile"), detail);
    }
    if (!db.commit())
        return sqlError(QStringLiteral("Cannot commit"), db.lastError().text());
    return Error();
}

QString LocalStore::meta(const QString &key) const
{
    if (!m_open)
        return QString();
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("SELECT value FROM kernia_meta WHERE key = :key"));
    q.bindValue(QStringLiteral(":key"), key);
    if (!q.exec() || !q.next())
        return QString();
    const QString v = q.value(0).toString();
    q.finish();
    return v;
}

Error LocalStore::setMeta(const QString &key, const QString &value)
{
    if (!m_open)
        return Error(Error::Kind::LocalStore, QString(), QStringLiteral("The local database is not open"));
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("INSERT INTO kernia_meta (key, value) VALUES (:key, :value)"
                             " ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
    q.bindValue(QStringLiteral(":key"), key);
    q.bindValue(QStringLiteral(":value"), value);
    if (!q.exec())
        return sqlError(QStringLiteral("Cannot save a setting"), q.lastError().text());
    return Error();
}

} // namespace Kernia
