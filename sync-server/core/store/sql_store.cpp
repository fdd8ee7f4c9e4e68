#include "sql_store.h"

#include "migrations.h"

#include <QAtomicInteger>
#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QMutex>
#include <QMutexLocker>
#include <QSet>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QThreadStorage>
#include <QtGlobal>

#include <unordered_map>

namespace Kernia::Server {

// ---------------------------------------------------------------------------------------
// Connection bookkeeping
//
// Each thread keeps, per store (keyed by a never-reused serial), the name of its own
// QSqlDatabase connection and its transaction depth. The store's Shared block lists the
// connection names that are still registered with QSqlDatabase; whoever takes a name out
// of that set (the thread at exit, or the store's destructor) removes the connection.

struct SqlStore::Config
{
    SqlDialect dialect = SqlDialect::sqlite();
    QString databaseName;   // SQLite: file path; PostgreSQL: database name
    QString hostName;
    int port = -1;
    QString userName;
    QString password;
    QString connectOptions;
    int busyTimeoutMs = SqlStore::kDefaultBusyTimeoutMs;
};

struct SqlStore::Shared
{
    quint64 serial = 0;
    QMutex mutex;
    QSet<QString> liveConnections;
};

struct SqlStore::ThreadState
{
    std::weak_ptr<Shared> shared;
    QString connectionName;
    int depth = 0;          // transaction nesting on this thread
};

class SqlStore::ThreadRegistry
{
public:
    ThreadRegistry() = default;
    ThreadRegistry(const ThreadRegistry &) = delete;
    ThreadRegistry &operator=(const ThreadRegistry &) = delete;
    ~ThreadRegistry()
    {
        // The thread is ending: close the connections it opened for stores still alive.
        for (auto &entry : states)
            release(entry.second);
    }

    static void release(ThreadState &state)
    {
        const std::shared_ptr<Shared> shared = state.shared.lock();
        if (!shared || state.connectionName.isEmpty())
            return;
        bool mine = false;
        {
            QMutexLocker locker(&shared->mutex);
            mine = shared->liveConnections.remove(state.connectionName);
        }
        if (mine)
            QSqlDatabase::removeDatabase(state.connectionName);
        state.connectionName.clear();
    }

    // QThreadStorage (rather than thread_local) deletes the registry inside
    // QThreadPrivate::finish, before QThread::wait() returns, so a finished QThread has
    // closed its connections by the time anyone can observe it.
    static QThreadStorage<ThreadRegistry *> &storage()
    {
        static QThreadStorage<ThreadRegistry *> perThread;
        return perThread;
    }
    static ThreadRegistry &local()
    {
        if (!storage().hasLocalData())
            storage().setLocalData(new ThreadRegistry);
        return *storage().localData();
    }

    std::unordered_map<quint64, ThreadState> states;
};

namespace {

QAtomicInteger<quint64> g_storeSerial{0};
QAtomicInteger<quint64> g_connectionSerial{0};

// ---------------------------------------------------------------------------------------
// Value conversions

QVariant nullOf(QMetaType type) { return QVariant(type); }

QVariant timestampValue(const QDateTime &dt)
{
    return dt.isValid() ? QVariant(qint64(dt.toMSecsSinceEpoch()))
                        : nullOf(QMetaType::fromType<qint64>());
}

QDateTime toTimestamp(const QVariant &v)
{
    if (v.isNull())
        return QDateTime();
    return QDateTime::fromMSecsSinceEpoch(v.toLongLong(), Qt::UTC);
}

// Non-optional text columns: a null QString is stored as '' (the model has no "absent").
QVariant textValue(const QString &s)
{
    return s.isNull() ? QVariant(QString(QLatin1String(""))) : QVariant(s);
}

QVariant optionalTextValue(const std::optional<QString> &s)
{
    return s ? textValue(*s) : nullOf(QMetaType::fromType<QString>());
}

std::optional<QString> toOptionalText(const QVariant &v)
{
    if (v.isNull())
        return std::nullopt;
    return v.toString();
}

// ---------------------------------------------------------------------------------------
// A QSqlQuery that throws StoreError on failure and is always finish()ed, so no read
// transaction stays open on the connection (qt-notes §5).

class Query
{
public:
    Query(const QSqlDatabase &db, const SqlDialect &dialect, QString context)
        : m_q(db), m_dialect(dialect), m_context(std::move(context))
    {
        m_q.setForwardOnly(true);
    }
    Query(const Query &) = delete;
    Query &operator=(const Query &) = delete;
    ~Query() { m_q.finish(); }

    Query &prepare(const QString &sql)
    {
        if (!m_q.prepare(sql))
            fail();
        return *this;
    }
    Query &bind(const QString &placeholder, const QVariant &value)
    {
        m_q.bindValue(placeholder, value);
        return *this;
    }
    Query &exec()
    {
        if (!m_q.exec())
            fail();
        return *this;
    }
    Query &exec(const QString &sql)
    {
        if (!m_q.exec(sql))
            fail();
        return *this;
    }
    bool next()
    {
        if (m_q.next())
            return true;
        if (m_q.lastError().isValid())
            fail();
        return false;
    }
    QVariant value(int index) const { return m_q.value(index); }
    void finish() { m_q.finish(); }

private:
    [[noreturn]] void fail()
    {
        const QSqlError error = m_q.lastError();
        m_q.finish();
        throw StoreError(QStringLiteral("%1: %2").arg(m_context, error.text()),
                         m_dialect.isUniqueViolation(error));
    }

    QSqlQuery m_q;
    const SqlDialect &m_dialect;
    QString m_context;
};

// Runs a statement for cleanup (ROLLBACK ...) without throwing.
void execQuietly(const QSqlDatabase &db, const QString &sql)
{
    QSqlQuery q(db);
    if (!q.exec(sql))
        qWarning("SqlStore: %s failed: %s", qPrintable(sql), qPrintable(q.lastError().text()));
    q.finish();
}

// ---------------------------------------------------------------------------------------
// SQL text (identifiers quoted: "user" is reserved in PostgreSQL, columns are camelCase)

const QString kUserColumns = QStringLiteral(
    "\"id\", \"name\", \"email\", \"emailVerified\", \"image\", \"createdAt\", \"updatedAt\", "
    "\"isAnonymous\", \"username\", \"displayUsername\"");
const QString kSessionColumns = QStringLiteral(
    "\"id\", \"token\", \"userId\", \"expiresAt\", \"createdAt\", \"updatedAt\", "
    "\"ipAddress\", \"userAgent\"");
const QString kAccountColumns = QStringLiteral(
    "\"id\", \"accountId\", \"providerId\", \"userId\", \"password\", \"scope\", "
    "\"createdAt\", \"updatedAt\"");
const QString kVerificationColumns = QStringLiteral(
    "\"id\", \"identifier\", \"value\", \"expiresAt\", \"createdAt\", \"updatedAt\"");

User readUser(const Query &q)
{
    User u;
    u.id = q.value(0).toString();
    u.name = q.value(1).toString();
    u.email = q.value(2).toString();
    u.emailVerified = q.value(3).toBool();
    u.image = toOptionalText(q.value(4));
    u.createdAt = toTimestamp(q.value(5));
    u.updatedAt = toTimestamp(q.value(6));
    u.isAnonymous = q.value(7).toBool();   // NULL -> false
    u.username = toOptionalText(q.value(8));
    u.displayUsername = toOptionalText(q.value(9));
    return u;
}

Session readSession(const Query &q)
{
    Session s;
    s.id = q.value(0).toString();
    s.token = q.value(1).toString();
    s.userId = q.value(2).toString();
    s.expiresAt = toTimestamp(q.value(3));
    s.createdAt = toTimestamp(q.value(4));
    s.updatedAt = toTimestamp(q.value(5));
    s.ipAddress = q.value(6).toString();
    s.userAgent = q.value(7).toString();
    return s;
}

Account readAccount(const Query &q)
{
    Account a;
    a.id = q.value(0).toString();
    a.accountId = q.value(1).toString();
    a.providerId = q.value(2).toString();
    a.userId = q.value(3).toString();
    a.password = toOptionalText(q.value(4));
    a.scope = toOptionalText(q.value(5));
    a.createdAt = toTimestamp(q.value(6));
    a.updatedAt = toTimestamp(q.value(7));
    return a;
}

Verification readVerification(const Query &q)
{
    Verification v;
    v.id = q.value(0).toString();
    v.identifier = q.value(1).toString();
    v.value = q.value(2).toString();
    v.expiresAt = toTimestamp(q.value(3));
    v.createdAt = toTimestamp(q.value(4));
    v.updatedAt = toTimestamp(q.value(5));
    return v;
}

bool isPlaceholderChar(QChar c)
{
    const char16_t u = c.unicode();
    return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '_';
}

} // namespace

// ---------------------------------------------------------------------------------------
// Construction

SqlStore::SqlStore(std::unique_ptr<Config> config)
    : m_config(std::move(config)), m_shared(std::make_shared<Shared>())
{
    m_shared->serial = ++g_storeSerial;
}

SqlStore::~SqlStore()
{
    QSet<QString> names;
    {
        QMutexLocker locker(&m_shared->mutex);
        names.swap(m_shared->liveConnections);
    }
    // Connections of other threads are closed from here too; the caller guarantees that
    // no thread is inside a method of this store any more.
    for (const QString &name : std::as_const(names))
        QSqlDatabase::removeDatabase(name);
    if (ThreadRegistry::storage().hasLocalData())
        ThreadRegistry::storage().localData()->states.erase(m_shared->serial);
}

std::unique_ptr<SqlStore> SqlStore::openSqlite(const QString &filePath, QString *errorMessage,
                                               int busyTimeoutMs)
{
    auto failWith = [&](const QString &reason) -> std::unique_ptr<SqlStore> {
        if (errorMessage)
            *errorMessage = QStringLiteral("Cannot open SQLite database \"%1\": %2").arg(filePath, reason);
        return nullptr;
    };

    if (filePath.trimmed().isEmpty())
        return failWith(QStringLiteral("no file path given"));
    if (filePath == QLatin1String(":memory:") || filePath.startsWith(QLatin1String("file:")))
        return failWith(QStringLiteral("only plain file paths are supported (each thread opens its own connection)"));
    if (!QSqlDatabase::isDriverAvailable(QStringLiteral("QSQLITE")))
        return failWith(QStringLiteral("the Qt SQLite driver (QSQLITE) is not available"));

    const QFileInfo info(filePath);
    if (info.exists() && info.isDir())
        return failWith(QStringLiteral("the path is a directory"));
    const QString dirPath = info.absolutePath();
    const QFileInfo dirInfo(dirPath);
    if (dirInfo.exists() && !dirInfo.isDir())
        return failWith(QStringLiteral("\"%1\" exists and is not a directory").arg(dirPath));
    if (!dirInfo.exists() && !QDir().mkpath(dirPath))
        return failWith(QStringLiteral("cannot create directory \"%1\"").arg(dirPath));

    auto config = std::make_unique<Config>();
    config->dialect = SqlDialect::sqlite();
    config->databaseName = info.absoluteFilePath();
    config->connectOptions = config->dialect.connectOptions(busyTimeoutMs);
    config->busyTimeoutMs = busyTimeoutMs;

    std::unique_ptr<SqlStore> store(new SqlStore(std::move(config)));
    try {
        store->threadState();   // opens this thread's connection and applies the pragmas
        // Touch the schema so "file is not a database" shows up now, not on first use.
        Query q(store->connection(), store->dialect(), QStringLiteral("schema check"));
        q.prepare(store->dialect().tableExistsQuery())
            .bind(QStringLiteral(":name"), QString::fromLatin1(kMigrationsTable))
            .exec();
        q.next();
    } catch (const StoreError &e) {
        return failWith(QString::fromStdString(e.what()));
    }
    return store;
}

const SqlDialect &SqlStore::dialect() const
{
    return m_config->dialect;
}

SqlStore::ThreadState &SqlStore::threadState()
{
    ThreadRegistry &registry = ThreadRegistry::local();
    const quint64 serial = m_shared->serial;
    auto it = registry.states.find(serial);
    if (it != registry.states.end() && !it->second.connectionName.isEmpty())
        return it->second;

    // Forget entries of stores destroyed meanwhile (their connections are already gone).
    for (auto i = registry.states.begin(); i != registry.states.end();) {
        if (i->first != serial && i->second.shared.expired())
            i = registry.states.erase(i);
        else
            ++i;
    }

    const Config &c = *m_config;
    const QString name = QStringLiteral("kernia-sql-%1-%2").arg(serial).arg(++g_connectionSerial);
    QString error;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(c.dialect.driverName(), name);
        db.setDatabaseName(c.databaseName);
        if (!c.hostName.isEmpty())
            db.setHostName(c.hostName);
        if (c.port > 0)
            db.setPort(c.port);
        if (!c.userName.isEmpty())
            db.setUserName(c.userName);
        if (!c.password.isEmpty())
            db.setPassword(c.password);
        db.setConnectOptions(c.connectOptions);
        if (!db.open()) {
            error = db.lastError().text();
        } else {
            try {
                c.dialect.initialiseConnection(db, c.busyTimeoutMs);
            } catch (const StoreError &e) {
                error = QString::fromStdString(e.what());
            }
        }
        if (!error.isEmpty())
            db.close();
    }
    if (!error.isEmpty()) {
        QSqlDatabase::removeDatabase(name);
        throw StoreError(error.trimmed());
    }

    {
        QMutexLocker locker(&m_shared->mutex);
        m_shared->liveConnections.insert(name);
    }
    ThreadState &state = registry.states[serial];
    state.shared = m_shared;
    state.connectionName = name;
    state.depth = 0;
    return state;
}

QSqlDatabase SqlStore::connection()
{
    return QSqlDatabase::database(threadState().connectionName, false);
}

// ---------------------------------------------------------------------------------------
// Transactions and migrations

void SqlStore::transaction(const std::function<void()> &work)
{
    ThreadState &state = threadState();
    const QSqlDatabase db = QSqlDatabase::database(state.connectionName, false);
    const SqlDialect &d = dialect();

    if (state.depth == 0) {
        Query(db, d, QStringLiteral("transaction begin")).exec(d.beginWriteTransaction());
        state.depth = 1;
        try {
            work();
        } catch (...) {
            state.depth = 0;
            execQuietly(db, QStringLiteral("ROLLBACK"));
            throw;
        }
        state.depth = 0;
        try {
            Query(db, d, QStringLiteral("transaction commit")).exec(QStringLiteral("COMMIT"));
        } catch (...) {
            execQuietly(db, QStringLiteral("ROLLBACK"));
            throw;
        }
        return;
    }

    // Nested: join the outer transaction; a savepoint lets an escaping exception undo just
    // this part (the outer level then decides).
    const QString savepoint = QStringLiteral("kernia_sp_%1").arg(state.depth);
    Query(db, d, QStringLiteral("transaction savepoint"))
        .exec(QStringLiteral("SAVEPOINT ") + savepoint);
    ++state.depth;
    try {
        work();
    } catch (...) {
        --state.depth;
        execQuietly(db, QStringLiteral("ROLLBACK TO SAVEPOINT ") + savepoint);
        execQuietly(db, QStringLiteral("RELEASE SAVEPOINT ") + savepoint);
        throw;
    }
    --state.depth;
    Query(db, d, QStringLiteral("transaction release"))
        .exec(QStringLiteral("RELEASE SAVEPOINT ") + savepoint);
}

void SqlStore::migrate()
{
    const SqlDialect &d = dialect();
    for (const Migration &m : schemaMigrations(d)) {
        transaction([&] {
            const QSqlDatabase db = connection();
            const QString context = QStringLiteral("migration %1 (%2)").arg(m.id, m.plugin);
            if (const QString lock = d.migrationLockStatement(); !lock.isEmpty())
                Query(db, d, context).exec(lock);
            Query(db, d, context).exec(migrationsTableDdl(d));
            {
                Query q(db, d, context);
                q.prepare(QStringLiteral("SELECT 1 FROM \"kernia_migrations\" WHERE \"id\" = :id"))
                    .bind(QStringLiteral(":id"), m.id)
                    .exec();
                if (q.next())
                    return;   // applied before (maybe by another process a moment ago)
            }
            for (const QString &statement : m.statements)
                Query(db, d, context).exec(statement);
            Query(db, d, context)
                .prepare(QStringLiteral("INSERT INTO \"kernia_migrations\" (\"id\", \"applied_at\") "
                                        "VALUES (:id, :at)"))
                .bind(QStringLiteral(":id"), m.id)
                .bind(QStringLiteral(":at"), qint64(QDateTime::currentMSecsSinceEpoch()))
                .exec();
        });
    }
}

QStringList SqlStore::appliedMigrations()
{
    const QSqlDatabase db = connection();
    const SqlDialect &d = dialect();
    QStringList ids;
    {
        Query exists(db, d, QStringLiteral("appliedMigrations"));
        // A fresh database has no bookkeeping table yet.
        exists.prepare(d.tableExistsQuery())
            .bind(QStringLiteral(":name"), QString::fromLatin1(kMigrationsTable))
            .exec();
        if (!exists.next())
            return ids;
    }
    Query q(db, d, QStringLiteral("appliedMigrations"));
    q.exec(QStringLiteral("SELECT \"id\" FROM \"kernia_migrations\" ORDER BY \"id\""));
    while (q.next())
        ids.append(q.value(0).toString());
    return ids;
}

// ---------------------------------------------------------------------------------------
// Users

void SqlStore::createUser(const User &u)
{
    Query(connection(), dialect(), QStringLiteral("createUser"))
        .prepare(QStringLiteral("INSERT INTO \"user\" (%1) VALUES (:id, :name, :email, :emailVerified, "
                                ":image, :createdAt, :updatedAt, :isAnonymous, :username, "
                                ":displayUsername)").arg(kUserColumns))
        .bind(QStringLiteral(":id"), textValue(u.id))
        .bind(QStringLiteral(":name"), textValue(u.name))
        .bind(QStringLiteral(":email"), textValue(u.email))
        .bind(QStringLiteral(":emailVerified"), dialect().boolValue(u.emailVerified))
        .bind(QStringLiteral(":image"), optionalTextValue(u.image))
        .bind(QStringLiteral(":createdAt"), timestampValue(u.createdAt))
        .bind(QStringLiteral(":updatedAt"), timestampValue(u.updatedAt))
        .bind(QStringLiteral(":isAnonymous"), dialect().boolValue(u.isAnonymous))
        .bind(QStringLiteral(":username"), optionalTextValue(u.username))
        .bind(QStringLiteral(":displayUsername"), optionalTextValue(u.displayUsername))
        .exec();
}

namespace {
std::optional<User> userWhere(const QSqlDatabase &db, const SqlDialect &d, const char *column,
                              const QString &value, const QString &context)
{
    Query q(db, d, context);
    q.prepare(QStringLiteral("SELECT %1 FROM \"user\" WHERE \"%2\" = :v")
                  .arg(kUserColumns, QLatin1String(column)))
        .bind(QStringLiteral(":v"), value)
        .exec();
    if (!q.next())
        return std::nullopt;
    return readUser(q);
}
} // namespace

std::optional<User> SqlStore::userById(const QString &id)
{
    return userWhere(connection(), dialect(), "id", id, QStringLiteral("userById"));
}

std::optional<User> SqlStore::userByEmail(const QString &lowerCaseEmail)
{
    return userWhere(connection(), dialect(), "email", lowerCaseEmail, QStringLiteral("userByEmail"));
}

std::optional<User> SqlStore::userByUsername(const QString &normalisedUsername)
{
    return userWhere(connection(), dialect(), "username", normalisedUsername,
                     QStringLiteral("userByUsername"));
}

void SqlStore::updateUser(const User &u)
{
    Query(connection(), dialect(), QStringLiteral("updateUser"))
        .prepare(QStringLiteral(
            "UPDATE \"user\" SET \"name\" = :name, \"email\" = :email, "
            "\"emailVerified\" = :emailVerified, \"image\" = :image, \"createdAt\" = :createdAt, "
            "\"updatedAt\" = :updatedAt, \"isAnonymous\" = :isAnonymous, \"username\" = :username, "
            "\"displayUsername\" = :displayUsername WHERE \"id\" = :id"))
        .bind(QStringLiteral(":id"), textValue(u.id))
        .bind(QStringLiteral(":name"), textValue(u.name))
        .bind(QStringLiteral(":email"), textValue(u.email))
        .bind(QStringLiteral(":emailVerified"), dialect().boolValue(u.emailVerified))
        .bind(QStringLiteral(":image"), optionalTextValue(u.image))
        .bind(QStringLiteral(":createdAt"), timestampValue(u.createdAt))
        .bind(QStringLiteral(":updatedAt"), timestampValue(u.updatedAt))
        .bind(QStringLiteral(":isAnonymous"), dialect().boolValue(u.isAnonymous))
        .bind(QStringLiteral(":username"), optionalTextValue(u.username))
        .bind(QStringLiteral(":displayUsername"), optionalTextValue(u.displayUsername))
        .exec();
}

void SqlStore::deleteUser(const QString &id)
{
    transaction([&] {
        const QSqlDatabase db = connection();
        // Better Auth's order: sessions, accounts, (passkeys), then the user row.
        for (const char *table : {"session", "account", "passkey"}) {
            Query(db, dialect(), QStringLiteral("deleteUser"))
                .prepare(QStringLiteral("DELETE FROM \"%1\" WHERE \"userId\" = :id")
                             .arg(QLatin1String(table)))
                .bind(QStringLiteral(":id"), id)
                .exec();
        }
        Query(db, dialect(), QStringLiteral("deleteUser"))
            .prepare(QStringLiteral("DELETE FROM \"user\" WHERE \"id\" = :id"))
            .bind(QStringLiteral(":id"), id)
            .exec();
    });
}

// ---------------------------------------------------------------------------------------
// Accounts

void SqlStore::createAccount(const Account &a)
{
    Query(connection(), dialect(), QStringLiteral("createAccount"))
        .prepare(QStringLiteral("INSERT INTO \"account\" (%1) VALUES (:id, :accountId, :providerId, "
                                ":userId, :password, :scope, :createdAt, :updatedAt)")
                     .arg(kAccountColumns))
        .bind(QStringLiteral(":id"), textValue(a.id))
        .bind(QStringLiteral(":accountId"), textValue(a.accountId))
        .bind(QStringLiteral(":providerId"), textValue(a.providerId))
        .bind(QStringLiteral(":userId"), textValue(a.userId))
        .bind(QStringLiteral(":password"), optionalTextValue(a.password))
        .bind(QStringLiteral(":scope"), optionalTextValue(a.scope))
        .bind(QStringLiteral(":createdAt"), timestampValue(a.createdAt))
        .bind(QStringLiteral(":updatedAt"), timestampValue(a.updatedAt))
        .exec();
}

QList<Account> SqlStore::accountsByUser(const QString &userId)
{
    Query q(connection(), dialect(), QStringLiteral("accountsByUser"));
    q.prepare(QStringLiteral("SELECT %1 FROM \"account\" WHERE \"userId\" = :userId "
                             "ORDER BY \"createdAt\", %2")
                  .arg(kAccountColumns, dialect().insertionOrderColumn()))
        .bind(QStringLiteral(":userId"), userId)
        .exec();
    QList<Account> result;
    while (q.next())
        result.append(readAccount(q));
    return result;
}

void SqlStore::updateAccount(const Account &a)
{
    Query(connection(), dialect(), QStringLiteral("updateAccount"))
        .prepare(QStringLiteral(
            "UPDATE \"account\" SET \"accountId\" = :accountId, \"providerId\" = :providerId, "
            "\"userId\" = :userId, \"password\" = :password, \"scope\" = :scope, "
            "\"createdAt\" = :createdAt, \"updatedAt\" = :updatedAt WHERE \"id\" = :id"))
        .bind(QStringLiteral(":id"), textValue(a.id))
        .bind(QStringLiteral(":accountId"), textValue(a.accountId))
        .bind(QStringLiteral(":providerId"), textValue(a.providerId))
        .bind(QStringLiteral(":userId"), textValue(a.userId))
        .bind(QStringLiteral(":password"), optionalTextValue(a.password))
        .bind(QStringLiteral(":scope"), optionalTextValue(a.scope))
        .bind(QStringLiteral(":createdAt"), timestampValue(a.createdAt))
        .bind(QStringLiteral(":updatedAt"), timestampValue(a.updatedAt))
        .exec();
}

// ---------------------------------------------------------------------------------------
// Sessions

void SqlStore::createSession(const Session &s)
{
    Query(connection(), dialect(), QStringLiteral("createSession"))
        .prepare(QStringLiteral("INSERT INTO \"session\" (%1) VALUES (:id, :token, :userId, "
                                ":expiresAt, :createdAt, :updatedAt, :ipAddress, :userAgent)")
                     .arg(kSessionColumns))
        .bind(QStringLiteral(":id"), textValue(s.id))
        .bind(QStringLiteral(":token"), textValue(s.token))
        .bind(QStringLiteral(":userId"), textValue(s.userId))
        .bind(QStringLiteral(":expiresAt"), timestampValue(s.expiresAt))
        .bind(QStringLiteral(":createdAt"), timestampValue(s.createdAt))
        .bind(QStringLiteral(":updatedAt"), timestampValue(s.updatedAt))
        .bind(QStringLiteral(":ipAddress"), textValue(s.ipAddress))
        .bind(QStringLiteral(":userAgent"), textValue(s.userAgent))
        .exec();
}

std::optional<Session> SqlStore::sessionByToken(const QString &token)
{
    Query q(connection(), dialect(), QStringLiteral("sessionByToken"));
    q.prepare(QStringLiteral("SELECT %1 FROM \"session\" WHERE \"token\" = :token").arg(kSessionColumns))
        .bind(QStringLiteral(":token"), token)
        .exec();
    if (!q.next())
        return std::nullopt;
    return readSession(q);
}

QList<Session> SqlStore::sessionsByUser(const QString &userId)
{
    Query q(connection(), dialect(), QStringLiteral("sessionsByUser"));
    q.prepare(QStringLiteral("SELECT %1 FROM \"session\" WHERE \"userId\" = :userId "
                             "ORDER BY \"createdAt\", %2")
                  .arg(kSessionColumns, dialect().insertionOrderColumn()))
        .bind(QStringLiteral(":userId"), userId)
        .exec();
    QList<Session> result;
    while (q.next())
        result.append(readSession(q));
    return result;
}

void SqlStore::updateSession(const Session &s)
{
    Query(connection(), dialect(), QStringLiteral("updateSession"))
        .prepare(QStringLiteral(
            "UPDATE \"session\" SET \"token\" = :token, \"userId\" = :userId, "
            "\"expiresAt\" = :expiresAt, \"createdAt\" = :createdAt, \"updatedAt\" = :updatedAt, "
            "\"ipAddress\" = :ipAddress, \"userAgent\" = :userAgent WHERE \"id\" = :id"))
        .bind(QStringLiteral(":id"), textValue(s.id))
        .bind(QStringLiteral(":token"), textValue(s.token))
        .bind(QStringLiteral(":userId"), textValue(s.userId))
        .bind(QStringLiteral(":expiresAt"), timestampValue(s.expiresAt))
        .bind(QStringLiteral(":createdAt"), timestampValue(s.createdAt))
        .bind(QStringLiteral(":updatedAt"), timestampValue(s.updatedAt))
        .bind(QStringLiteral(":ipAddress"), textValue(s.ipAddress))
        .bind(QStringLiteral(":userAgent"), textValue(s.userAgent))
        .exec();
}

void SqlStore::deleteSessionByToken(const QString &token)
{
    Query(connection(), dialect(), QStringLiteral("deleteSessionByToken"))
        .prepare(QStringLiteral("DELETE FROM \"session\" WHERE \"token\" = :token"))
        .bind(QStringLiteral(":token"), token)
        .exec();
}

void SqlStore::deleteSessionsByUser(const QString &userId)
{
    Query(connection(), dialect(), QStringLiteral("deleteSessionsByUser"))
        .prepare(QStringLiteral("DELETE FROM \"session\" WHERE \"userId\" = :userId"))
        .bind(QStringLiteral(":userId"), userId)
        .exec();
}

void SqlStore::deleteSessionsByUserExcept(const QString &userId, const QString &keepToken)
{
    Query(connection(), dialect(), QStringLiteral("deleteSessionsByUserExcept"))
        .prepare(QStringLiteral("DELETE FROM \"session\" WHERE \"userId\" = :userId "
                                "AND \"token\" <> :keepToken"))
        .bind(QStringLiteral(":userId"), userId)
        .bind(QStringLiteral(":keepToken"), keepToken)
        .exec();
}

// ---------------------------------------------------------------------------------------
// Verifications

void SqlStore::createVerification(const Verification &v)
{
    Query(connection(), dialect(), QStringLiteral("createVerification"))
        .prepare(QStringLiteral("INSERT INTO \"verification\" (%1) VALUES (:id, :identifier, :value, "
                                ":expiresAt, :createdAt, :updatedAt)")
                     .arg(kVerificationColumns))
        .bind(QStringLiteral(":id"), textValue(v.id))
        .bind(QStringLiteral(":identifier"), textValue(v.identifier))
        .bind(QStringLiteral(":value"), textValue(v.value))
        .bind(QStringLiteral(":expiresAt"), timestampValue(v.expiresAt))
        .bind(QStringLiteral(":createdAt"), timestampValue(v.createdAt))
        .bind(QStringLiteral(":updatedAt"), timestampValue(v.updatedAt))
        .exec();
}

std::optional<Verification> SqlStore::verificationByIdentifier(const QString &identifier)
{
    Query q(connection(), dialect(), QStringLiteral("verificationByIdentifier"));
    q.prepare(QStringLiteral("SELECT %1 FROM \"verification\" WHERE \"identifier\" = :identifier "
                             "ORDER BY \"createdAt\" DESC, %2 DESC LIMIT 1")
                  .arg(kVerificationColumns, dialect().insertionOrderColumn()))
        .bind(QStringLiteral(":identifier"), identifier)
        .exec();
    if (!q.next())
        return std::nullopt;
    return readVerification(q);
}

std::optional<Verification> SqlStore::consumeVerification(const QString &identifier)
{
    std::optional<Verification> result;
    // One statement deletes and returns the row; the write transaction (BEGIN IMMEDIATE on
    // SQLite) additionally serialises concurrent consumers. Of several racing callers
    // exactly one gets the row, the others find nothing to delete.
    transaction([&] {
        Query q(connection(), dialect(), QStringLiteral("consumeVerification"));
        q.prepare(QStringLiteral(
                      "DELETE FROM \"verification\" WHERE \"id\" = ("
                      "SELECT \"id\" FROM \"verification\" WHERE \"identifier\" = :identifier "
                      "ORDER BY \"createdAt\" DESC, %1 DESC LIMIT 1) RETURNING %2")
                      .arg(dialect().insertionOrderColumn(), kVerificationColumns))
            .bind(QStringLiteral(":identifier"), identifier)
            .exec();
        if (q.next())
            result = readVerification(q);
        while (q.next()) {}
        q.finish();
    });
    return result;
}

// ---------------------------------------------------------------------------------------
// Operator templates

QStringList SqlStore::templatePlaceholders(const QString &sql)
{
    // Mirrors Qt's own named-placeholder scan (QSqlResultPrivate::namedToPositionalBinding):
    // ':' + [A-Za-z0-9_]+, not after another ':' (PostgreSQL "::type" casts), skipping text
    // inside '...', "...", `...` and [...].
    QStringList names;
    QChar closingQuote;
    const qsizetype n = sql.size();
    qsizetype i = 0;
    while (i < n) {
        const QChar ch = sql.at(i);
        if (!closingQuote.isNull()) {
            if (ch == closingQuote)
                closingQuote = QChar();
            ++i;
            continue;
        }
        if (ch == QLatin1Char(':') && (i == 0 || sql.at(i - 1) != QLatin1Char(':'))
            && i + 1 < n && isPlaceholderChar(sql.at(i + 1))) {
            qsizetype end = i + 2;
            while (end < n && isPlaceholderChar(sql.at(end)))
                ++end;
            const QString name = sql.mid(i + 1, end - i - 1);
            if (!names.contains(name))
                names.append(name);
            i = end;
            continue;
        }
        if (ch == QLatin1Char('\'') || ch == QLatin1Char('"') || ch == QLatin1Char('`'))
            closingQuote = ch;
        else if (ch == QLatin1Char('['))
            closingQuote = QLatin1Char(']');
        ++i;
    }
    return names;
}

void SqlStore::execTemplate(const QString &sql, const QVariantMap &namedBinds)
{
    const QStringList names = templatePlaceholders(sql);
    QList<QVariant> values;
    values.reserve(names.size());
    for (const QString &name : names) {
        auto it = namedBinds.constFind(name);
        if (it == namedBinds.constEnd())
            it = namedBinds.constFind(QLatin1Char(':') + name);
        if (it == namedBinds.constEnd())
            throw StoreError(QStringLiteral("execTemplate: no value for placeholder :%1").arg(name));
        QVariant value = *it;
        if (value.typeId() == QMetaType::QDateTime)
            value = timestampValue(value.toDateTime());
        else if (value.typeId() == QMetaType::Bool)
            value = dialect().boolValue(value.toBool());
        values.append(value);
    }

    Query q(connection(), dialect(), QStringLiteral("execTemplate"));
    q.prepare(sql);
    for (qsizetype i = 0; i < names.size(); ++i)
        q.bind(QLatin1Char(':') + names.at(i), values.at(i));
    q.exec();
    q.finish();
}

} // namespace Kernia::Server
