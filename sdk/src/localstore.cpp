#include "localstore_p.h"

#include "logging_p.h"

#include <QtCore/QDir>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonValue>
#include <QtCore/QRandomGenerator>
#include <QtCore/QSet>
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

// Append-only. Tables with an owner_local_id column follow adopt/discard (the sync
// tables of version 2 are adopted by adoptSyncData(), see there).
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
        { 2, "data sync: records, outbox, cursor",
          {
              // The local view of every record: the server's state with the pending local
              // changes applied. data is compact JSON, NULL for a tombstone.
              QStringLiteral("CREATE TABLE sync_records ("
                             " owner_local_id TEXT NOT NULL,"
                             " collection TEXT NOT NULL,"
                             " id TEXT NOT NULL,"
                             " data TEXT,"
                             " updated_at TEXT,"
                             " pending INTEGER NOT NULL DEFAULT 0,"
                             " deleted INTEGER NOT NULL DEFAULT 0,"
                             " PRIMARY KEY (owner_local_id, collection, id))"),
              // Mutations not yet acknowledged by the server. AUTOINCREMENT: mids strictly
              // increase and are never reused, also after the outbox was emptied.
              QStringLiteral("CREATE TABLE sync_outbox ("
                             " mid INTEGER PRIMARY KEY AUTOINCREMENT,"
                             " owner_local_id TEXT NOT NULL,"
                             " op TEXT NOT NULL CHECK (op IN ('put', 'patch', 'delete')),"
                             " collection TEXT NOT NULL,"
                             " id TEXT NOT NULL,"
                             " data TEXT)"),
              QStringLiteral("CREATE INDEX sync_outbox_owner ON sync_outbox(owner_local_id, mid)"),
              QStringLiteral("CREATE INDEX sync_outbox_record ON sync_outbox(owner_local_id, collection, id)"),
              QStringLiteral("CREATE TABLE sync_state ("
                             " owner_local_id TEXT PRIMARY KEY,"
                             " user_id TEXT,"
                             " cursor INTEGER NOT NULL DEFAULT 0)"),
          } },
        { 3, "identity: fingerprint of the stored session token",
          {
              // NULL: unknown (written by an older SDK); '': the token is not in the keychain.
              QStringLiteral("ALTER TABLE identity ADD COLUMN token_sha256 TEXT"),
          } },
        { 4, "magic links this install's guest asked for",
          {
              // The server links a guest at a magic link's verification only if that guest
              // asked for the link; the client must know the same (see Client::completeMagicLink).
              // No owner_local_id: keyed by the server's guest id, never adopted.
              QStringLiteral("CREATE TABLE magic_link_requests ("
                             " user_id TEXT NOT NULL,"
                             " email TEXT NOT NULL,"
                             " requested_at TEXT NOT NULL,"
                             " PRIMARY KEY (user_id, email))"),
          } },
        { 5, "a sync client id per profile",
          {
              // The protocol's clientId this profile's changes are numbered under: the
              // install's id plus a suffix of the profile's own, so that marks a linked
              // guest's pushes leave on the account never cover another profile's mids.
              // NULL: a profile from before, which pushes under the install's id.
              QStringLiteral("ALTER TABLE profiles ADD COLUMN client_id TEXT"),
              // Set on a change taken back from another profile: the client id its mid was
              // numbered under. NULL: the owning profile's.
              QStringLiteral("ALTER TABLE sync_outbox ADD COLUMN client_id TEXT"),
          } },
        { 6, "the local writes a record holds",
          {
              // Which local writes the record's state holds, kept after the server has them:
              // {"replaced": mid of the last put or delete, "fields": {name: mid of the last
              // patch of that field}}. Taking back an older change of the record compares
              // with it (takeBackPendingChanges). NULL: none known (pulled, or older).
              QStringLiteral("ALTER TABLE sync_records ADD COLUMN local_writes TEXT"),
          } },
    };
    return list;
}

QString nowIso()
{
    return QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs);
}

const QStringList &syncTables()
{
    static const QStringList tables = { QStringLiteral("sync_records"), QStringLiteral("sync_outbox"),
                                        QStringLiteral("sync_state") };
    return tables;
}

QString toJsonText(const QJsonObject &o)
{
    return QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact));
}

QJsonObject fromJsonText(const QVariant &v)
{
    return QJsonDocument::fromJson(v.toString().toUtf8()).object();
}

QDateTime fromIso(const QVariant &v)
{
    return QDateTime::fromString(v.toString(), Qt::ISODateWithMs);
}

QString recordKey(const QString &collection, const QString &id)
{
    return collection + QLatin1Char('\n') + id;
}

constexpr const char *PendingMetaKey = "identity.pending";

// NULL: unknown; '' (not NULL): not stored; else the hex digest.
QVariant fingerprintValue(const std::optional<QByteArray> &fingerprint)
{
    if (!fingerprint)
        return QVariant();
    return fingerprint->isEmpty() ? QVariant(QStringLiteral("")) : QVariant(QString::fromLatin1(*fingerprint));
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

Error LocalStore::failed(const QSqlQuery &q, const QString &what) const
{
    return sqlError(what, q.lastError().text());
}

Error LocalStore::notOpen() const
{
    return Error(Error::Kind::LocalStore, QString(), QStringLiteral("The local database is not open"));
}

Error LocalStore::run(QSqlQuery &q, const QString &sql, Binds binds, const QString &what) const
{
    if (!q.prepare(sql))
        return failed(q, what);
    for (const auto &[placeholder, value] : binds)
        q.bindValue(QLatin1String(placeholder), value);
    if (!q.exec())
        return failed(q, what);
    return Error();
}

std::optional<QSqlQuery> LocalStore::read(const QString &sql, Binds binds, const QString &what) const
{
    if (!m_open)
        return std::nullopt;
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.setForwardOnly(true);
    if (run(q, sql, binds, what).isError())
        return std::nullopt;
    return q;
}

Error LocalStore::write(const QString &sql, Binds binds, const QString &what)
{
    if (!m_open)
        return notOpen();
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    return run(q, sql, binds, what);
}

Error LocalStore::inTransaction(const std::function<Error(QSqlQuery &)> &steps, const QString &beginWhat)
{
    if (!m_open)
        return notOpen();
    QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    if (!db.transaction())
        return sqlError(beginWhat, db.lastError().text());
    QSqlQuery q(db);
    const Error error = steps(q);
    q.finish();   // an active SELECT would keep SQLite from committing
    if (error.isError()) {
        db.rollback();
        return error;
    }
    if (!db.commit())
        return sqlError(QStringLiteral("Cannot commit"), db.lastError().text());
    return Error();
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
    const int current = schemaVersion();
    if (current < 0) {
        return sqlError(QStringLiteral("Cannot read the schema version"),
                        QSqlDatabase::database(m_connection, false).lastError().text());
    }
    if (current > latestSchemaVersion())
        return sqlError(QStringLiteral("The local database is newer than this SDK"),
                        QStringLiteral("schema %1 > %2").arg(current).arg(latestSchemaVersion()));
    for (const Migration &m : migrations()) {
        if (m.version <= current)
            continue;
        qCInfo(lcStore) << "migrating local database to schema" << m.version << m.description;
        const Error error = inTransaction([&](QSqlQuery &q) {
            for (const QString &sql : m.statements) {
                if (!q.exec(sql))
                    return failed(q, QStringLiteral("Migration %1 failed").arg(m.version));
            }
            // PRAGMA user_version is transactional in SQLite: the version and the schema commit together.
            if (!q.exec(QStringLiteral("PRAGMA user_version = %1").arg(m.version)))
                return failed(q, QStringLiteral("Cannot record schema %1").arg(m.version));
            return Error();
        }, QStringLiteral("Cannot begin a migration"));
        if (error.isError())
            return error;
    }
    return Error();
}

std::optional<StoredIdentity> LocalStore::identity() const
{
    std::optional<QSqlQuery> q = read(QStringLiteral("SELECT state, local_id, has_server_session, session_expires_at,"
                                                     " token_sha256 FROM identity WHERE slot = 1"),
                                      {}, QStringLiteral("Cannot read the identity"));
    if (!q || !q->next())
        return std::nullopt;
    StoredIdentity id;
    id.state = q->value(0).toInt();
    id.localId = q->value(1).toString();
    id.hasServerSession = q->value(2).toInt() != 0;
    id.sessionExpiresAt = QDateTime::fromString(q->value(3).toString(), Qt::ISODateWithMs);
    if (!q->isNull(4))
        id.tokenFingerprint = q->value(4).toString().toLatin1();
    return id;
}

Error LocalStore::saveCurrent(const StoredIdentity &identity, const User &user)
{
    return inTransaction([&](QSqlQuery &q) {
        const QString now = nowIso();
        if (user.isValid() && !user.localId().isEmpty()) {
            const Error error = run(q, QStringLiteral(
                    "INSERT INTO profiles (local_id, user_id, user_json, status, created_at, updated_at, client_id)"
                    " VALUES (:lid, :uid, :json, :status, :now, :now, :cid)"
                    " ON CONFLICT(local_id) DO UPDATE SET user_id = excluded.user_id, user_json = excluded.user_json,"
                    " status = excluded.status, updated_at = excluded.updated_at"),   // a profile keeps its client id
                {{":lid", user.localId()}, {":uid", user.id()}, {":json", toJsonText(user.toJson())},
                 {":status", QString::fromLatin1(ProfileCurrent)}, {":now", now}, {":cid", newProfileClientId()}},
                QStringLiteral("Cannot save the profile"));
            if (error.isError())
                return error;
        }
        const Error error = run(q, QStringLiteral(
                "INSERT INTO identity (slot, state, local_id, has_server_session, session_expires_at, token_sha256, updated_at)"
                " VALUES (1, :state, :lid, :hss, :exp, :fp, :now)"
                " ON CONFLICT(slot) DO UPDATE SET state = excluded.state, local_id = excluded.local_id,"
                " has_server_session = excluded.has_server_session, session_expires_at = excluded.session_expires_at,"
                " token_sha256 = excluded.token_sha256, updated_at = excluded.updated_at"),
            {{":state", identity.state},
             {":lid", identity.localId.isEmpty() ? QVariant() : QVariant(identity.localId)},
             {":hss", identity.hasServerSession ? 1 : 0},
             {":exp", identity.sessionExpiresAt.isValid()
                          ? QVariant(identity.sessionExpiresAt.toUTC().toString(Qt::ISODateWithMs)) : QVariant()},
             {":fp", fingerprintValue(identity.tokenFingerprint)},
             {":now", now}},
            QStringLiteral("Cannot save the identity"));
        if (error.isError())
            return error;
        return run(q, QStringLiteral("DELETE FROM kernia_meta WHERE key = :key"),
                   {{":key", QString::fromLatin1(PendingMetaKey)}}, QStringLiteral("Cannot drop the pending identity"));
    });
}

Error LocalStore::savePending(const PendingIdentity &pending)
{
    const StoredIdentity &id = pending.identity;
    const QJsonObject json{
        { QLatin1String("state"), id.state },
        { QLatin1String("localId"), id.localId },
        { QLatin1String("hasServerSession"), id.hasServerSession },
        { QLatin1String("sessionExpiresAt"), id.sessionExpiresAt.isValid()
                  ? QJsonValue(id.sessionExpiresAt.toUTC().toString(Qt::ISODateWithMs)) : QJsonValue() },
        { QLatin1String("tokenSha256"), id.tokenFingerprint ? QJsonValue(QString::fromLatin1(*id.tokenFingerprint))
                                                            : QJsonValue() },
        { QLatin1String("user"), pending.user.toJson() },
    };
    return setMeta(QString::fromLatin1(PendingMetaKey), toJsonText(json));
}

std::optional<PendingIdentity> LocalStore::pending() const
{
    const QString text = meta(QString::fromLatin1(PendingMetaKey));
    if (text.isEmpty())
        return std::nullopt;
    const QJsonObject json = QJsonDocument::fromJson(text.toUtf8()).object();
    PendingIdentity p;
    p.identity.state = json.value(QLatin1String("state")).toInt();
    p.identity.localId = json.value(QLatin1String("localId")).toString();
    p.identity.hasServerSession = json.value(QLatin1String("hasServerSession")).toBool();
    p.identity.sessionExpiresAt = QDateTime::fromString(json.value(QLatin1String("sessionExpiresAt")).toString(),
                                                        Qt::ISODateWithMs);
    const QJsonValue fp = json.value(QLatin1String("tokenSha256"));
    if (fp.isString())
        p.identity.tokenFingerprint = fp.toString().toLatin1();
    p.user = User::fromJson(json.value(QLatin1String("user")).toObject(), p.identity.localId);
    if (!p.user.isValid() || !p.identity.tokenFingerprint || p.identity.tokenFingerprint->isEmpty())
        return std::nullopt;
    return p;
}

Error LocalStore::clearPending()
{
    return write(QStringLiteral("DELETE FROM kernia_meta WHERE key = :key"), {{":key", QString::fromLatin1(PendingMetaKey)}},
                 QStringLiteral("Cannot drop the pending identity"));
}

User LocalStore::profileUser(const QString &localId) const
{
    std::optional<QSqlQuery> q = read(QStringLiteral("SELECT user_json FROM profiles WHERE local_id = :lid"),
                                      {{":lid", localId}}, QStringLiteral("Cannot read a profile"));
    if (!q || !q->next())
        return User();
    return User::fromJson(fromJsonText(q->value(0)), localId);
}

Error LocalStore::setProfileStatus(const QString &localId, const QString &status)
{
    return write(QStringLiteral("UPDATE profiles SET status = :status, updated_at = :now WHERE local_id = :lid"),
                 {{":status", status}, {":now", nowIso()}, {":lid", localId}}, QStringLiteral("Cannot update the profile"));
}

QStringList LocalStore::profiles(const QString &status) const
{
    QStringList out;
    std::optional<QSqlQuery> q = read(QStringLiteral("SELECT local_id FROM profiles WHERE status = :status"
                                                     " ORDER BY updated_at, local_id"),
                                      {{":status", status}}, QStringLiteral("Cannot list profiles"));
    while (q && q->next())
        out << q->value(0).toString();
    return out;
}

QStringList LocalStore::leftProfiles(const QString &userId, const QString &except) const
{
    QStringList out;
    if (userId.isEmpty())
        return out;
    // Latest pending change first (mids grow with every local write: no wall clock), then
    // the profiles without pending changes.
    std::optional<QSqlQuery> q = read(QStringLiteral("SELECT p.local_id FROM profiles p"
                                                     " LEFT JOIN (SELECT owner_local_id, MAX(mid) AS last_mid FROM sync_outbox"
                                                     "            GROUP BY owner_local_id) o ON o.owner_local_id = p.local_id"
                                                     " WHERE p.user_id = :uid"
                                                     " AND p.status IN (:signedOut, :offered) AND p.local_id <> :except"
                                                     " ORDER BY COALESCE(o.last_mid, 0) DESC, p.updated_at DESC, p.local_id"),
                                      {{":uid", userId}, {":signedOut", QString::fromLatin1(ProfileSignedOut)},
                                       {":offered", QString::fromLatin1(ProfileOffered)},
                                       {":except", except.isEmpty() ? QStringLiteral("") : except}},   // never NULL
                                      QStringLiteral("Cannot find the profiles of a user"));
    while (q && q->next())
        out << q->value(0).toString();
    return out;
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
    const QStringList tables = ownedTables();
    return inTransaction([&](QSqlQuery &q) {
        if (const Error error = run(q, QStringLiteral("SELECT local_id, user_id FROM profiles WHERE local_id IN (:from, :to)"),
                                    {{":from", from}, {":to", to}}, QStringLiteral("Cannot read the profiles"));
            error.isError())
            return error;
        QHash<QString, QString> userIds;
        while (q.next())
            userIds.insert(q.value(0).toString(), q.value(1).toString());
        q.finish();
        const bool sameUser = !userIds.value(from).isEmpty() && userIds.value(from) == userIds.value(to);
        if (const Error error = adoptSyncData(q, from, to, sameUser); error.isError())
            return error;
        for (const QString &table : tables) {
            if (syncTables().contains(table))
                continue;
            const Error error = run(q, QStringLiteral("UPDATE \"%1\" SET owner_local_id = :to WHERE owner_local_id = :from").arg(table),
                                    {{":to", to}, {":from", from}}, QStringLiteral("Cannot adopt rows of %1").arg(table));
            if (error.isError())
                return error;
        }
        return dropProfile(q, from);
    });
}

Error LocalStore::discard(const QString &localId)
{
    const QStringList tables = ownedTables();
    return inTransaction([&](QSqlQuery &q) {
        for (const QString &table : tables) {
            const Error error = run(q, QStringLiteral("DELETE FROM \"%1\" WHERE owner_local_id = :lid").arg(table),
                                    {{":lid", localId}}, QStringLiteral("Cannot discard rows of %1").arg(table));
            if (error.isError())
                return error;
        }
        const Error error = run(q, QStringLiteral("UPDATE identity SET local_id = NULL WHERE local_id = :lid"),
                                {{":lid", localId}}, QStringLiteral("Cannot detach the identity from the profile"));
        return error.isError() ? error : dropProfile(q, localId);
    });
}

Error LocalStore::dropProfile(QSqlQuery &q, const QString &localId) const
{
    return run(q, QStringLiteral("DELETE FROM profiles WHERE local_id = :lid"), {{":lid", localId}},
               QStringLiteral("Cannot drop the profile"));
}

QString LocalStore::meta(const QString &key) const
{
    std::optional<QSqlQuery> q = read(QStringLiteral("SELECT value FROM kernia_meta WHERE key = :key"), {{":key", key}},
                                      QStringLiteral("Cannot read a setting"));
    return q && q->next() ? q->value(0).toString() : QString();
}

Error LocalStore::setMeta(const QString &key, const QString &value)
{
    return write(QStringLiteral("INSERT INTO kernia_meta (key, value) VALUES (:key, :value)"
                                " ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
                 {{":key", key}, {":value", value}}, QStringLiteral("Cannot save a setting"));
}

Error LocalStore::noteMagicLinkRequest(const QString &guestUserId, const QString &email)
{
    return inTransaction([&](QSqlQuery &q) {
        // A link another guest asked for can never link the current one: forget those.
        if (const Error error = run(q, QStringLiteral("DELETE FROM magic_link_requests WHERE user_id <> :uid"),
                                    {{":uid", guestUserId}}, QStringLiteral("Cannot forget earlier magic-link requests"));
            error.isError())
            return error;
        return run(q, QStringLiteral("INSERT INTO magic_link_requests (user_id, email, requested_at) VALUES (:uid, :email, :now)"
                                     " ON CONFLICT(user_id, email) DO UPDATE SET requested_at = excluded.requested_at"),
                   {{":uid", guestUserId}, {":email", email.toLower()}, {":now", nowIso()}},
                   QStringLiteral("Cannot note the magic-link request"));
    });
}

bool LocalStore::magicLinkRequested(const QString &guestUserId, const QString &email) const
{
    if (guestUserId.isEmpty() || email.isEmpty())
        return false;
    std::optional<QSqlQuery> q = read(QStringLiteral("SELECT 1 FROM magic_link_requests WHERE user_id = :uid AND email = :email"),
                                      {{":uid", guestUserId}, {":email", email.toLower()}},
                                      QStringLiteral("Cannot read the magic-link requests"));
    return q && q->next();
}

Error LocalStore::forgetMagicLinkRequests()
{
    return write(QStringLiteral("DELETE FROM magic_link_requests"), {}, QStringLiteral("Cannot forget the magic-link requests"));
}

// --- data sync ---------------------------------------------------------------------------

std::optional<QJsonObject> LocalStore::applyOp(const std::optional<QJsonObject> &base, const QString &op,
                                               const QJsonObject &data)
{
    if (op == QLatin1String("delete"))
        return std::nullopt;
    if (op == QLatin1String("put"))
        return data;
    // patch: top-level merge, null removes a field, a missing record starts from {}.
    QJsonObject result = base.value_or(QJsonObject());
    for (auto it = data.constBegin(); it != data.constEnd(); ++it) {
        if (it.value().isNull())
            result.remove(it.key());
        else
            result.insert(it.key(), it.value());
    }
    return result;
}

// Adopting another profile's data:
// - Another server user's data: every live record becomes a pending put of the current
//   user, with fresh mids (that user's records are not on the current user's server side;
//   its outbox was meant for it).
// - The same server user's (an account's own profile left at sign-out or at a lost
//   session): only its pending changes move (takeBackPendingChanges). Its settled records
//   are the server's state at the time; pushing them as puts would overwrite what other
//   devices wrote since, and the next pull brings the current state anyway.
Error LocalStore::adoptSyncData(QSqlQuery &q, const QString &from, const QString &to, bool sameUser)
{
    const QString now = nowIso();
    if (sameUser) {
        if (const Error error = takeBackPendingChanges(q, from, to, now); error.isError())
            return error;
    } else {
        if (const Error error = run(q, QStringLiteral("SELECT collection, id, data FROM sync_records"
                                                      " WHERE owner_local_id = :from AND deleted = 0 ORDER BY collection, id"),
                                    {{":from", from}}, QStringLiteral("Cannot read adopted records"));
            error.isError())
            return error;
        QList<QPair<QString, QString>> keys;
        QList<QJsonObject> data;
        while (q.next()) {
            keys.append({ q.value(0).toString(), q.value(1).toString() });
            data.append(fromJsonText(q.value(2)));
        }
        q.finish();
        for (qsizetype i = 0; i < keys.size(); ++i) {
            const Error error = writeLocalIn(q, to, QStringLiteral("put"), keys.at(i).first, keys.at(i).second, data.at(i), now);
            if (error.isError())
                return error;
        }
    }
    for (const QString &table : syncTables()) {
        const Error error = run(q, QStringLiteral("DELETE FROM %1 WHERE owner_local_id = :from").arg(table),
                                {{":from", from}}, QStringLiteral("Cannot drop adopted rows of %1").arg(table));
        if (error.isError())
            return error;
    }
    return Error();
}

namespace {

// A taken-back change of a record that the current profile has only patched since. Those
// patches are newer, so they are folded into it; the server may get the two in either
// order (the current profile's may have landed first, e.g. pushed by the guest whose
// records and marks moved into the account at link), and both orders end as written.
std::pair<QString, QJsonObject> withNewerPatches(const QString &op, const QJsonObject &data,
                                                 const QList<QJsonObject> &patches)
{
    if (op == QLatin1String("patch")) {
        QJsonObject merged = data;   // null values stay: they remove the field on apply
        for (const QJsonObject &patch : patches) {
            for (auto it = patch.constBegin(); it != patch.constEnd(); ++it)
                merged.insert(it.key(), it.value());
        }
        return { op, merged };
    }
    // A put or delete replaces the record: it becomes the put of what the patches make of it.
    std::optional<QJsonObject> state;
    if (op == QLatin1String("put"))
        state = data;
    for (const QJsonObject &patch : patches)
        state = LocalStore::applyOp(state, QStringLiteral("patch"), patch);
    return { QStringLiteral("put"), state.value_or(QJsonObject()) };
}

// sync_records.local_writes after a local write of `op` numbered `mid` (a change taken
// back may be older than what the record holds: later entries stay).
QJsonObject withLocalWrite(const QJsonObject &writes, const QString &op, const QJsonObject &data, qint64 mid)
{
    const qint64 replaced = qint64(writes.value(QLatin1String("replaced")).toDouble());
    QJsonObject fields = writes.value(QLatin1String("fields")).toObject();
    if (op == QLatin1String("patch")) {
        for (auto it = data.constBegin(); it != data.constEnd(); ++it) {
            if (qint64(fields.value(it.key()).toDouble()) < mid)
                fields.insert(it.key(), double(mid));
        }
    } else {   // a put or delete replaces every field written before it
        for (const QString &name : fields.keys()) {
            if (qint64(fields.value(name).toDouble()) < mid)
                fields.remove(name);
        }
    }
    return QJsonObject{ { QLatin1String("replaced"), double(op == QLatin1String("patch") ? replaced : qMax(replaced, mid)) },
                        { QLatin1String("fields"), fields } };
}

} // namespace

// The pending changes of `from`, a profile the same server user left, move to `to` with
// the mid and the client id they were numbered under, so the server skips one whose push
// landed but whose answer was lost (the mark per client id says so) and applies the
// others, in the order they were written (mids grow with every write of the install).
// A pending change of `to` with a higher mid than a taken-back one is newer: a put or
// delete supersedes the taken-back changes of that record (they are dropped); patches are
// folded into them (withNewerPatches). Changes numbered under the install's id by an
// older SDK get fresh mids instead, since a linked guest's marks on that id may cover
// them (their place in the write order is lost with it).
Error LocalStore::takeBackPendingChanges(QSqlQuery &q, const QString &from, const QString &to, const QString &now)
{
    using Key = QPair<QString, QString>;
    struct Change { qint64 mid; QString op; QJsonObject data; };
    QHash<Key, QList<Change>> current;   // `to`'s pending changes per record, by mid
    if (const Error error = run(q, QStringLiteral("SELECT mid, op, collection, id, data FROM sync_outbox"
                                                  " WHERE owner_local_id = :to ORDER BY mid"),
                                {{":to", to}}, QStringLiteral("Cannot read the outbox"));
        error.isError())
        return error;
    while (q.next()) {
        current[{ q.value(2).toString(), q.value(3).toString() }].append(
                { q.value(0).toLongLong(), q.value(1).toString(), fromJsonText(q.value(4)) });
    }
    q.finish();

    if (const Error error = run(q, QStringLiteral("SELECT o.mid, o.op, o.collection, o.id, o.data, COALESCE(o.client_id, p.client_id)"
                                                  " FROM sync_outbox o LEFT JOIN profiles p ON p.local_id = o.owner_local_id"
                                                  " WHERE o.owner_local_id = :from ORDER BY o.mid"),
                                {{":from", from}}, QStringLiteral("Cannot read the adopted outbox"));
        error.isError())
        return error;
    struct Entry { qint64 mid; QString op, collection, id; QJsonObject data; QString clientId; };
    QList<Entry> entries;
    while (q.next()) {
        entries.append({ q.value(0).toLongLong(), q.value(1).toString(), q.value(2).toString(), q.value(3).toString(),
                         fromJsonText(q.value(4)), q.value(5).toString() });
    }
    q.finish();

    for (const Entry &e : std::as_const(entries)) {
        // Only what `to` wrote after it counts as newer: `to` may hold changes taken back
        // from an older left profile a moment ago, or be a profile resumed from before.
        // Its pending changes are read from the outbox, its synced ones from the record's
        // local writes below; the local writes hold the pending ones too, except those
        // written before schema 6 (which had none), so both are needed.
        bool superseded = false;
        QList<QJsonObject> newerPatches;
        for (const Change &c : current.value({ e.collection, e.id })) {
            if (c.mid < e.mid)
                continue;
            if (c.op == QLatin1String("patch"))
                newerPatches.append(c.data);
            else
                superseded = true;
        }
        // ... and what it wrote after it and has synced since (no longer in the outbox):
        // the record's local writes say which; the fields' values are those it holds.
        QJsonObject synced;
        if (const Error error = laterLocalWrites(q, to, e.collection, e.id, e.mid, &synced, &superseded); error.isError())
            return error;
        if (superseded)
            continue;   // dropped with the rest of `from`
        if (!synced.isEmpty())
            newerPatches.append(synced);
        const auto [op, data] = withNewerPatches(e.op, e.data, newerPatches);
        // The record's local writes note the change at its place in the order of writing
        // (e.mid), also when it is queued again under a fresh mid below.
        Error error = applyToRecord(q, to, op, e.collection, e.id, data, e.mid, now);
        if (error.isError())
            return error;
        error = e.clientId.isEmpty()
            ? queueChange(q, to, op, e.collection, e.id, data)
            : run(q, QStringLiteral("UPDATE sync_outbox SET owner_local_id = :to, client_id = :cid, op = :op, data = :data"
                                    " WHERE mid = :mid"),
                  {{":to", to}, {":cid", e.clientId}, {":op", op},
                   {":data", op == QLatin1String("delete") ? QVariant() : QVariant(toJsonText(data))}, {":mid", e.mid}},
                  QStringLiteral("Cannot take back a change"));
        if (error.isError())
            return error;
    }
    return Error();
}

Error LocalStore::laterLocalWrites(QSqlQuery &q, const QString &owner, const QString &collection, const QString &id,
                                    qint64 mid, QJsonObject *newer, bool *superseded) const
{
    if (const Error error = run(q, QStringLiteral("SELECT data, deleted, local_writes FROM sync_records"
                                                  " WHERE owner_local_id = :o AND collection = :c AND id = :id"),
                                {{":o", owner}, {":c", collection}, {":id", id}}, QStringLiteral("Cannot read the record"));
        error.isError())
        return error;
    if (q.next()) {
        const QJsonObject state = q.value(1).toInt() == 0 ? fromJsonText(q.value(0)) : QJsonObject();
        const QJsonObject writes = fromJsonText(q.value(2));
        if (qint64(writes.value(QLatin1String("replaced")).toDouble()) > mid)
            *superseded = true;
        const QJsonObject fields = writes.value(QLatin1String("fields")).toObject();
        for (auto it = fields.constBegin(); it != fields.constEnd(); ++it) {
            if (qint64(it.value().toDouble()) > mid)
                newer->insert(it.key(), state.contains(it.key()) ? state.value(it.key()) : QJsonValue(QJsonValue::Null));
        }
    }
    q.finish();
    return Error();
}

Error LocalStore::writeLocalIn(QSqlQuery &q, const QString &owner, const QString &op, const QString &collection,
                               const QString &id, const QJsonObject &data, const QString &now,
                               std::optional<QJsonObject> *state)
{
    qint64 mid = 0;
    if (const Error error = queueChange(q, owner, op, collection, id, data, &mid); error.isError())
        return error;
    return applyToRecord(q, owner, op, collection, id, data, mid, now, state);
}

Error LocalStore::applyToRecord(QSqlQuery &q, const QString &owner, const QString &op, const QString &collection,
                                const QString &id, const QJsonObject &data, qint64 mid, const QString &now,
                                std::optional<QJsonObject> *state)
{
    if (const Error error = run(q, QStringLiteral("SELECT data, deleted, local_writes FROM sync_records"
                                                  " WHERE owner_local_id = :o AND collection = :c AND id = :id"),
                                {{":o", owner}, {":c", collection}, {":id", id}}, QStringLiteral("Cannot read the record"));
        error.isError())
        return error;
    std::optional<QJsonObject> base;
    QJsonObject writes;
    if (q.next()) {
        if (q.value(1).toInt() == 0)
            base = fromJsonText(q.value(0));
        writes = fromJsonText(q.value(2));
    }
    q.finish();
    const std::optional<QJsonObject> after = applyOp(base, op, data);
    if (state)
        *state = after;
    return run(q, QStringLiteral("INSERT INTO sync_records (owner_local_id, collection, id, data, updated_at, pending, deleted, local_writes)"
                                 " VALUES (:o, :c, :id, :data, :now, 1, :deleted, :writes)"
                                 " ON CONFLICT(owner_local_id, collection, id) DO UPDATE SET data = excluded.data,"
                                 " updated_at = excluded.updated_at, pending = 1, deleted = excluded.deleted,"
                                 " local_writes = excluded.local_writes"),
               {{":o", owner}, {":c", collection}, {":id", id},
                {":data", after ? QVariant(toJsonText(*after)) : QVariant()}, {":now", now},
                {":deleted", after ? 0 : 1}, {":writes", toJsonText(withLocalWrite(writes, op, data, mid))}},
               QStringLiteral("Cannot write the record"));
}

Error LocalStore::queueChange(QSqlQuery &q, const QString &owner, const QString &op, const QString &collection,
                              const QString &id, const QJsonObject &data, qint64 *mid)
{
    const Error error = run(q, QStringLiteral("INSERT INTO sync_outbox (owner_local_id, op, collection, id, data)"
                                              " VALUES (:o, :op, :c, :id, :data)"),
                            {{":o", owner}, {":op", op}, {":c", collection}, {":id", id},
                             {":data", op == QLatin1String("delete") ? QVariant() : QVariant(toJsonText(data))}},
                            QStringLiteral("Cannot queue the change"));
    if (!error.isError() && mid)
        *mid = q.lastInsertId().toLongLong();
    return error;
}

QVariant LocalStore::newProfileClientId() const
{
    if (m_installClientId.isEmpty())
        return QVariant();   // pushes under the install's id, as a profile from before
    // [A-Za-z0-9._:-]{1,128}: room for ':' and ten hex digits.
    const quint64 suffix = QRandomGenerator::global()->generate64() & 0xFF'FFFF'FFFFull;
    return m_installClientId.left(128 - 11) + QLatin1Char(':')
        + QString::number(suffix, 16).rightJustified(10, QLatin1Char('0'));
}

Error LocalStore::writeLocal(const QString &owner, const QString &op, const QString &collection, const QString &id,
                             const QJsonObject &data, LocalRecord *result)
{
    const QString now = nowIso();
    std::optional<QJsonObject> state;
    const Error written = inTransaction([&](QSqlQuery &q) {
        return writeLocalIn(q, owner, op, collection, id, data, now, &state);
    });
    if (written.isError())
        return written;
    if (result) {
        result->collection = collection;
        result->id = id;
        result->data = state.value_or(QJsonObject());
        result->deleted = !state;
        result->pending = true;
        result->updatedAt = fromIso(now);
    }
    return Error();
}

std::optional<LocalRecord> LocalStore::record(const QString &owner, const QString &collection,
                                              const QString &id) const
{
    std::optional<QSqlQuery> q = read(QStringLiteral("SELECT data, updated_at, pending FROM sync_records"
                                                     " WHERE owner_local_id = :o AND collection = :c AND id = :id AND deleted = 0"),
                                      {{":o", owner}, {":c", collection}, {":id", id}}, QStringLiteral("Cannot read a record"));
    if (!q || !q->next())
        return std::nullopt;
    LocalRecord r;
    r.collection = collection;
    r.id = id;
    r.data = fromJsonText(q->value(0));
    r.updatedAt = fromIso(q->value(1));
    r.pending = q->value(2).toInt() != 0;
    return r;
}

QList<LocalRecord> LocalStore::records(const QString &owner, const QString &collection) const
{
    QList<LocalRecord> out;
    std::optional<QSqlQuery> q = read(QStringLiteral("SELECT id, data, updated_at, pending FROM sync_records"
                                                     " WHERE owner_local_id = :o AND collection = :c AND deleted = 0 ORDER BY id"),
                                      {{":o", owner}, {":c", collection}}, QStringLiteral("Cannot read records"));
    while (q && q->next()) {
        LocalRecord r;
        r.collection = collection;
        r.id = q->value(0).toString();
        r.data = fromJsonText(q->value(1));
        r.updatedAt = fromIso(q->value(2));
        r.pending = q->value(3).toInt() != 0;
        out.append(r);
    }
    return out;
}

int LocalStore::recordCount(const QString &owner, const QString &collection) const
{
    std::optional<QSqlQuery> q = read(QStringLiteral("SELECT COUNT(*) FROM sync_records"
                                                     " WHERE owner_local_id = :o AND collection = :c AND deleted = 0"),
                                      {{":o", owner}, {":c", collection}}, QStringLiteral("Cannot count records"));
    return q && q->next() ? q->value(0).toInt() : 0;
}

int LocalStore::outboxCount(const QString &owner) const
{
    std::optional<QSqlQuery> q = read(QStringLiteral("SELECT COUNT(*) FROM sync_outbox WHERE owner_local_id = :o"),
                                      {{":o", owner}}, QStringLiteral("Cannot count the outbox"));
    return q && q->next() ? q->value(0).toInt() : 0;
}

QList<OutboxEntry> LocalStore::outbox(const QString &owner, int limit) const
{
    QList<OutboxEntry> out;
    std::optional<QSqlQuery> q = read(QStringLiteral("SELECT o.mid, o.op, o.collection, o.id, o.data, length(CAST(o.data AS BLOB)),"
                                                     " COALESCE(o.client_id, p.client_id)"
                                                     " FROM sync_outbox o LEFT JOIN profiles p ON p.local_id = o.owner_local_id"
                                                     " WHERE o.owner_local_id = :o ORDER BY o.mid LIMIT :limit"),
                                      {{":o", owner}, {":limit", limit}}, QStringLiteral("Cannot read the outbox"));
    while (q && q->next()) {
        OutboxEntry e;
        e.mid = q->value(0).toLongLong();
        e.op = q->value(1).toString();
        e.collection = q->value(2).toString();
        e.id = q->value(3).toString();
        e.data = fromJsonText(q->value(4));
        e.dataBytes = q->value(5).toLongLong();   // NULL (delete): 0
        e.clientId = q->value(6).toString();
        out.append(e);
    }
    return out;
}

Error LocalStore::acknowledge(const QString &owner, const QList<qint64> &mids, TouchedRecords *touched)
{
    if (mids.isEmpty())
        return Error();
    // Integers of our own outbox, written into the statement: no placeholder per mid, no
    // JSON1 (json_each) needed from the platform's SQLite.
    QStringList midList;
    for (qint64 mid : mids)
        midList << QString::number(mid);
    const QString inMids = QStringLiteral("mid IN (%1)").arg(midList.join(QLatin1Char(',')));
    return inTransaction([&](QSqlQuery &q) {
        if (const Error error = run(q, QStringLiteral("SELECT DISTINCT collection, id FROM sync_outbox"
                                                      " WHERE owner_local_id = :o AND ") + inMids,
                                    {{":o", owner}}, QStringLiteral("Cannot read the outbox"));
            error.isError())
            return error;
        QList<QPair<QString, QString>> keys;
        while (q.next())
            keys.append({ q.value(0).toString(), q.value(1).toString() });
        q.finish();
        if (const Error error = run(q, QStringLiteral("DELETE FROM sync_outbox WHERE owner_local_id = :o AND ") + inMids,
                                    {{":o", owner}}, QStringLiteral("Cannot acknowledge outbox entries"));
            error.isError())
            return error;
        for (const auto &key : std::as_const(keys)) {
            const Binds record = {{":o", owner}, {":c", key.first}, {":id", key.second}};
            // Settled when nothing else is queued for it; a settled tombstone is just absence.
            Error error = run(q, QStringLiteral("UPDATE sync_records SET pending = 0"
                                                " WHERE owner_local_id = :o AND collection = :c AND id = :id AND NOT EXISTS"
                                                " (SELECT 1 FROM sync_outbox WHERE owner_local_id = :o AND collection = :c AND id = :id)"),
                              record, QStringLiteral("Cannot settle a record"));
            if (!error.isError()) {
                // (One this profile deleted keeps its row: its local writes, see applyRemote.)
                error = run(q, QStringLiteral("DELETE FROM sync_records WHERE owner_local_id = :o AND collection = :c AND id = :id"
                                              " AND pending = 0 AND deleted = 1 AND local_writes IS NULL"),
                            record, QStringLiteral("Cannot drop a settled tombstone"));
            }
            if (error.isError())
                return error;
            if (touched)
                (*touched)[key.first].insert(key.second);
        }
        return Error();
    });
}

SyncCursor LocalStore::cursor(const QString &owner) const
{
    SyncCursor c;
    std::optional<QSqlQuery> q = read(QStringLiteral("SELECT user_id, cursor FROM sync_state WHERE owner_local_id = :o"),
                                      {{":o", owner}}, QStringLiteral("Cannot read the sync cursor"));
    if (q && q->next()) {
        c.userId = q->value(0).toString();
        c.version = q->value(1).toLongLong();
    }
    return c;
}

namespace {
const QString &saveCursorSql()
{
    static const QString sql = QStringLiteral(
        "INSERT INTO sync_state (owner_local_id, user_id, cursor) VALUES (:o, :u, :v)"
        " ON CONFLICT(owner_local_id) DO UPDATE SET user_id = excluded.user_id, cursor = excluded.cursor");
    return sql;
}
} // namespace

Error LocalStore::setCursor(const QString &owner, const SyncCursor &cursor)
{
    return write(saveCursorSql(), {{":o", owner}, {":u", cursor.userId}, {":v", cursor.version}},
                 QStringLiteral("Cannot save the sync cursor"));
}

Error LocalStore::applyRemote(const QString &owner, const QList<RemoteChange> &changes, const SyncCursor &cursor,
                              TouchedRecords *touched)
{
    return inTransaction([&](QSqlQuery &q) {
        for (const RemoteChange &change : changes) {
            std::optional<QJsonObject> state;
            if (!change.deleted)
                state = change.data;
            // Pending local changes stay on top of the server's state: replay the outbox.
            if (const Error error = run(q, QStringLiteral("SELECT op, data FROM sync_outbox"
                                                          " WHERE owner_local_id = :o AND collection = :c AND id = :id ORDER BY mid"),
                                        {{":o", owner}, {":c", change.collection}, {":id", change.id}},
                                        QStringLiteral("Cannot read the outbox"));
                error.isError())
                return error;
            bool pending = false;
            while (q.next()) {
                pending = true;
                state = applyOp(state, q.value(0).toString(), fromJsonText(q.value(1)));
            }
            q.finish();
            const QString at = change.updatedAt.isValid() ? change.updatedAt.toUTC().toString(Qt::ISODateWithMs) : nowIso();
            const Binds record = {{":o", owner}, {":c", change.collection}, {":id", change.id}};
            Error error;
            if (!state && !pending) {
                // Gone on the server, gone here. A record this profile wrote keeps a
                // tombstone row for its local writes: a change taken back later that is
                // older than them must not bring it back (takeBackPendingChanges).
                error = run(q, QStringLiteral("DELETE FROM sync_records WHERE owner_local_id = :o AND collection = :c AND id = :id"
                                              " AND local_writes IS NULL"),
                            record, QStringLiteral("Cannot apply a pulled change"));
                if (!error.isError()) {
                    error = run(q, QStringLiteral("UPDATE sync_records SET data = NULL, deleted = 1, pending = 0, updated_at = :at"
                                                  " WHERE owner_local_id = :o AND collection = :c AND id = :id"),
                                {{":o", owner}, {":c", change.collection}, {":id", change.id}, {":at", at}},
                                QStringLiteral("Cannot apply a pulled change"));
                }
            } else {
                error = run(q, QStringLiteral("INSERT INTO sync_records (owner_local_id, collection, id, data, updated_at, pending, deleted)"
                                              " VALUES (:o, :c, :id, :data, :at, :pending, :deleted)"
                                              " ON CONFLICT(owner_local_id, collection, id) DO UPDATE SET data = excluded.data,"
                                              " updated_at = excluded.updated_at, pending = excluded.pending, deleted = excluded.deleted"),
                            {{":o", owner}, {":c", change.collection}, {":id", change.id},
                             {":data", state ? QVariant(toJsonText(*state)) : QVariant()}, {":at", at},
                             {":pending", pending ? 1 : 0}, {":deleted", state ? 0 : 1}},
                            QStringLiteral("Cannot apply a pulled change"));
            }
            if (error.isError())
                return error;
            if (touched)
                (*touched)[change.collection].insert(change.id);
        }
        return run(q, saveCursorSql(), {{":o", owner}, {":u", cursor.userId}, {":v", cursor.version}},
                   QStringLiteral("Cannot save the sync cursor"));
    });
}

Error LocalStore::pruneSettled(const QString &owner, const QSet<QString> &keep, TouchedRecords *touched)
{
    if (!m_open)
        return notOpen();
    QList<QPair<QString, QString>> stale;
    {
        QSqlQuery q(QSqlDatabase::database(m_connection, false));
        q.setForwardOnly(true);
        if (const Error error = run(q, QStringLiteral("SELECT collection, id FROM sync_records WHERE owner_local_id = :o AND pending = 0"),
                                    {{":o", owner}}, QStringLiteral("Cannot read records"));
            error.isError())
            return error;
        while (q.next()) {
            const QString c = q.value(0).toString();
            const QString id = q.value(1).toString();
            if (!keep.contains(recordKey(c, id)))
                stale.append({ c, id });
        }
    }
    if (stale.isEmpty())
        return Error();
    return inTransaction([&](QSqlQuery &q) {
        for (const auto &key : std::as_const(stale)) {
            const Error error = run(q, QStringLiteral("DELETE FROM sync_records WHERE owner_local_id = :o AND collection = :c"
                                                      " AND id = :id AND pending = 0"),
                                    {{":o", owner}, {":c", key.first}, {":id", key.second}},
                                    QStringLiteral("Cannot drop a stale record"));
            if (error.isError())
                return error;
            if (touched)
                (*touched)[key.first].insert(key.second);
        }
        return Error();
    });
}

} // namespace Kernia
