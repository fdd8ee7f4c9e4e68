#include "sql_store.h"

#include "after_commit.h"
#include "commit_queue.h"
#include "migrations.h"
#include "sql_query.h"
#include "sql_text.h"
#include "sqlite_process.h"
#include "wal_checkpointer.h"
#include "writer_lock.h"

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
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QScopeGuard>
#include <QThread>
#include <QThreadStorage>
#include <QUrl>
#include <QUrlQuery>
#include <QtGlobal>

#include <mutex>
#include <unordered_map>
#include <utility>

namespace Kernia::Server {

using SqlDetail::Connection;
using SqlDetail::execEachWithId;
using SqlDetail::execQuietly;
using SqlDetail::execTransactionControl;
using SqlDetail::KeyedRead;
using SqlDetail::PerDialect;
using SqlDetail::Query;
using SqlDetail::StatementCache;
using SqlDetail::TableSql;
using SqlDetail::threadFailures;

// ---------------------------------------------------------------------------------------
// Connection bookkeeping
//
// Each thread keeps, per store (keyed by a never-reused serial), the name of its own
// QSqlDatabase connection, the statements prepared on it, and its transaction depth. The
// store's Shared block lists the connection names that are still registered with
// QSqlDatabase; whoever takes a name out of that set (the thread at exit, or the store's
// destructor) removes the connection.

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
    // SQLite: writers (of this process and of other Kernia processes on the file) take
    // turns here before BEGIN IMMEDIATE (writer_lock.h). Null for PostgreSQL.
    std::unique_ptr<WriterLock> sqliteWriter;
    // SQLite: top-level write transactions of this process, committed in batches.
    CommitQueue commits;
};

struct SqlStore::ThreadState
{
    std::weak_ptr<Shared> shared;
    QString connectionName;
    int depth = 0;          // transaction nesting on this thread
    // Store::afterCommit's queue of the transaction() scope whose `work` runs on this
    // thread now (in a group commit: the job the leader is running); nullptr outside one.
    AfterCommitQueue *afterCommit = nullptr;
    std::unique_ptr<StatementCache> statements = std::make_unique<StatementCache>();

    ThreadState() = default;
    ThreadState(const ThreadState &) = delete;
    ThreadState &operator=(const ThreadState &) = delete;

    Connection connection() const;
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
        // Prepared statements go before their connection does.
        state.statements->clear();
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
// SQL text (identifiers quoted: "user" is reserved in PostgreSQL, columns are camelCase)

const TableSql kUser("user", {"id", "name", "email", "emailVerified", "image", "createdAt", "updatedAt",
                             "isAnonymous", "username", "displayUsername"});
const TableSql kSession("session", {"id", "token", "userId", "expiresAt", "createdAt", "updatedAt",
                                   "ipAddress", "userAgent"});
const TableSql kAccount("account", {"id", "accountId", "providerId", "userId", "password", "scope",
                                   "createdAt", "updatedAt"});
const TableSql kVerification("verification", {"id", "identifier", "value", "expiresAt", "createdAt", "updatedAt"});
const TableSql kPasskey("passkey", {"id", "name", "publicKey", "userId", "credentialID", "counter", "deviceType",
                                   "backedUp", "transports", "createdAt", "aaguid"});

// The value of every column of a row, bound to its :column placeholder (INSERT and UPDATE
// name the same placeholders).
Query &bindUserRow(Query &q, const SqlDialect &d, const User &u)
{
    q.bind(QStringLiteral(":id"), textValue(u.id));
    q.bind(QStringLiteral(":name"), textValue(u.name));
    q.bind(QStringLiteral(":email"), textValue(u.email));
    q.bind(QStringLiteral(":emailVerified"), d.boolValue(u.emailVerified));
    q.bind(QStringLiteral(":image"), optionalTextValue(u.image));
    q.bind(QStringLiteral(":createdAt"), timestampValue(u.createdAt));
    q.bind(QStringLiteral(":updatedAt"), timestampValue(u.updatedAt));
    q.bind(QStringLiteral(":isAnonymous"), d.boolValue(u.isAnonymous));
    q.bind(QStringLiteral(":username"), optionalTextValue(u.username));
    q.bind(QStringLiteral(":displayUsername"), optionalTextValue(u.displayUsername));
    return q;
}

Query &bindAccountRow(Query &q, const Account &a)
{
    q.bind(QStringLiteral(":id"), textValue(a.id));
    q.bind(QStringLiteral(":accountId"), textValue(a.accountId));
    q.bind(QStringLiteral(":providerId"), textValue(a.providerId));
    q.bind(QStringLiteral(":userId"), textValue(a.userId));
    q.bind(QStringLiteral(":password"), optionalTextValue(a.password));
    q.bind(QStringLiteral(":scope"), optionalTextValue(a.scope));
    q.bind(QStringLiteral(":createdAt"), timestampValue(a.createdAt));
    q.bind(QStringLiteral(":updatedAt"), timestampValue(a.updatedAt));
    return q;
}

// `prefix`: that of TableSql::insertWithPlaceholderPrefix.
Query &bindSessionRow(Query &q, const Session &s, const QString &prefix = QString())
{
    const auto placeholder = [&](const char *column) { return QLatin1Char(':') + prefix + QLatin1String(column); };
    q.bind(placeholder("id"), textValue(s.id));
    q.bind(placeholder("token"), textValue(s.token));
    q.bind(placeholder("userId"), textValue(s.userId));
    q.bind(placeholder("expiresAt"), timestampValue(s.expiresAt));
    q.bind(placeholder("createdAt"), timestampValue(s.createdAt));
    q.bind(placeholder("updatedAt"), timestampValue(s.updatedAt));
    q.bind(placeholder("ipAddress"), textValue(s.ipAddress));
    q.bind(placeholder("userAgent"), textValue(s.userAgent));
    return q;
}

Query &bindPasskeyRow(Query &q, const SqlDialect &d, const Passkey &p)
{
    q.bind(QStringLiteral(":id"), textValue(p.id));
    q.bind(QStringLiteral(":name"), optionalTextValue(p.name));
    q.bind(QStringLiteral(":publicKey"), textValue(p.publicKey));
    q.bind(QStringLiteral(":userId"), textValue(p.userId));
    q.bind(QStringLiteral(":credentialID"), textValue(p.credentialID));
    q.bind(QStringLiteral(":counter"), qint64(p.counter));
    q.bind(QStringLiteral(":deviceType"), textValue(p.deviceType));
    q.bind(QStringLiteral(":backedUp"), d.boolValue(p.backedUp));
    q.bind(QStringLiteral(":transports"), optionalTextValue(p.transports));
    q.bind(QStringLiteral(":createdAt"), timestampValue(p.createdAt));
    q.bind(QStringLiteral(":aaguid"), optionalTextValue(p.aaguid));
    return q;
}

// `first`: index of the first user column in the row (after a joined table's columns).
User readUser(const Query &q, int first = 0)
{
    User u;
    u.id = q.value(first + 0).toString();
    u.name = q.value(first + 1).toString();
    u.email = q.value(first + 2).toString();
    u.emailVerified = q.value(first + 3).toBool();
    u.image = toOptionalText(q.value(first + 4));
    u.createdAt = toTimestamp(q.value(first + 5));
    u.updatedAt = toTimestamp(q.value(first + 6));
    u.isAnonymous = q.value(first + 7).toBool();   // NULL -> false
    u.username = toOptionalText(q.value(first + 8));
    u.displayUsername = toOptionalText(q.value(first + 9));
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

Passkey readPasskey(const Query &q)
{
    Passkey p;
    p.id = q.value(0).toString();
    p.name = toOptionalText(q.value(1));
    p.publicKey = q.value(2).toString();
    p.userId = q.value(3).toString();
    p.credentialID = q.value(4).toString();
    p.counter = q.value(5).toLongLong();
    p.deviceType = q.value(6).toString();
    p.backedUp = q.value(7).toBool();
    p.transports = toOptionalText(q.value(8));
    p.createdAt = toTimestamp(q.value(9));
    p.aaguid = toOptionalText(q.value(10));
    return p;
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
    m_checkpointer.reset();
    QSet<QString> names;
    {
        QMutexLocker locker(&m_shared->mutex);
        names.swap(m_shared->liveConnections);
    }
    // This thread's prepared statements go before the connections do.
    if (ThreadRegistry::storage().hasLocalData()) {
        auto &states = ThreadRegistry::storage().localData()->states;
        if (const auto it = states.find(m_shared->serial); it != states.end())
            it->second.statements->clear();
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
    static std::once_flag configured;
    std::call_once(configured, [] {
        if (!configureSqliteForThreads())
            qDebug("SqlStore: SQLite was in use before the first store opened; its allocation statistics stay on");
    });

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
    store->m_shared->sqliteWriter = std::make_unique<WriterLock>(store->m_config->databaseName);
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
    store->m_checkpointer = std::make_unique<WalCheckpointer>(store->m_config->databaseName,
                                                              kWalCheckpointIntervalMs,
                                                              *store->m_shared->sqliteWriter);
    return store;
}

namespace {

// A libpq conninfo value: quoted when it holds anything but plain characters.
QString conninfoValue(const QString &value)
{
    static const QString plain = QStringLiteral(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/:,+@");
    bool needsQuotes = value.isEmpty();
    for (const QChar c : value)
        needsQuotes = needsQuotes || !plain.contains(c);
    if (!needsQuotes)
        return value;
    QString escaped = value;
    escaped.replace(QLatin1Char('\\'), QLatin1String("\\\\"));
    escaped.replace(QLatin1Char('\''), QLatin1String("\\'"));
    return QLatin1Char('\'') + escaped + QLatin1Char('\'');
}

} // namespace

QString SqlStore::redactedPostgresUrl(const QString &url)
{
    QUrl parsed(url);
    if (!parsed.isValid() || parsed.password().isEmpty())
        return url;
    parsed.setPassword(QStringLiteral("***"));
    return parsed.toString();
}

std::unique_ptr<SqlStore> SqlStore::openPostgres(const QString &url, QString *errorMessage)
{
    auto failWith = [&](const QString &reason) -> std::unique_ptr<SqlStore> {
        if (errorMessage) {
            *errorMessage = QStringLiteral("Cannot open PostgreSQL database \"%1\": %2")
                                .arg(redactedPostgresUrl(url), reason);
        }
        return nullptr;
    };

    const QUrl parsed(url);
    const QString scheme = parsed.scheme().toLower();
    if (!parsed.isValid() || (scheme != QLatin1String("postgres") && scheme != QLatin1String("postgresql"))) {
        return failWith(QStringLiteral("expected postgres://USER:PASSWORD@HOST:PORT/DBNAME "
                                       "(or postgresql://..., ?host=/socket/dir for a unix socket)"));
    }
    if (!QSqlDatabase::isDriverAvailable(QStringLiteral("QPSQL")))
        return failWith(QStringLiteral("the Qt PostgreSQL driver (QPSQL) is not available "
                                       "(Debian: apt-get install libqt6sql6-psql)"));

    auto config = std::make_unique<Config>();
    config->dialect = SqlDialect::postgres();
    QString path = parsed.path(QUrl::FullyDecoded);
    if (path.startsWith(QLatin1Char('/')))
        path.remove(0, 1);
    if (path.contains(QLatin1Char('/')))
        return failWith(QStringLiteral("the path must be just the database name, got \"%1\"").arg(path));
    config->databaseName = path;
    config->hostName = parsed.host(QUrl::FullyDecoded);
    config->port = parsed.port(-1);
    config->userName = parsed.userName(QUrl::FullyDecoded);
    config->password = parsed.password(QUrl::FullyDecoded);

    // Query parameters: host/port/user/password/dbname as in libpq URIs, everything else
    // (sslmode, connect_timeout, application_name, options, ...) goes to libpq as is.
    QStringList options;
    bool hasConnectTimeout = false;
    const QUrlQuery query(parsed);
    for (const auto &[key, value] : query.queryItems(QUrl::FullyDecoded)) {
        if (key == QLatin1String("host")) {
            config->hostName = value;
        } else if (key == QLatin1String("port")) {
            bool ok = false;
            config->port = value.toInt(&ok);
            if (!ok || config->port <= 0 || config->port > 65535)
                return failWith(QStringLiteral("bad port \"%1\"").arg(value));
        } else if (key == QLatin1String("user")) {
            config->userName = value;
        } else if (key == QLatin1String("password")) {
            config->password = value;
        } else if (key == QLatin1String("dbname")) {
            config->databaseName = value;
        } else {
            static const QRegularExpression keyPattern(QStringLiteral("^[a-z_]+$"));
            if (!keyPattern.match(key).hasMatch())
                return failWith(QStringLiteral("bad connection parameter \"%1\"").arg(key));
            hasConnectTimeout = hasConnectTimeout || key == QLatin1String("connect_timeout");
            options << key + QLatin1Char('=') + conninfoValue(value);
        }
    }
    if (!hasConnectTimeout)
        options << QStringLiteral("connect_timeout=10");
    config->connectOptions = options.join(QLatin1Char(';'));

    std::unique_ptr<SqlStore> store(new SqlStore(std::move(config)));
    try {
        store->threadState();   // connects this thread and sets the session parameters
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

std::unique_ptr<SqlStore> SqlStore::open(const QString &database, QString *errorMessage)
{
    if (database.startsWith(QLatin1String("sqlite:")))
        return openSqlite(database.mid(int(qstrlen("sqlite:"))), errorMessage);
    if (database.startsWith(QLatin1String("postgres://")) || database.startsWith(QLatin1String("postgresql://")))
        return openPostgres(database, errorMessage);
    if (errorMessage) {
        *errorMessage = QStringLiteral("unsupported database \"%1\": use sqlite:PATH or "
                                       "postgres://USER:PASSWORD@HOST:PORT/DBNAME").arg(redactedPostgresUrl(database));
    }
    return nullptr;
}

const SqlDialect &SqlStore::dialect() const
{
    return m_config->dialect;
}

int SqlStore::walLockedCheckpoints() const
{
    return m_checkpointer ? m_checkpointer->lockedRounds() : 0;
}

SqlStore::ThreadState &SqlStore::threadState()
{
    ThreadRegistry &registry = ThreadRegistry::local();
    const quint64 serial = m_shared->serial;
    auto it = registry.states.find(serial);
    if (it != registry.states.end() && !it->second.connectionName.isEmpty()) {
        // A connection whose server went away (PostgreSQL restarted, network) is replaced
        // by a fresh one, but only between transactions.
        if (it->second.connectionName != threadFailures().brokenConnection || it->second.depth > 0)
            return it->second;
        qWarning("SqlStore: reconnecting after a lost database connection: %s",
                 qPrintable(threadFailures().lastMessage));
        threadFailures().brokenConnection.clear();
        ThreadRegistry::release(it->second);
    }

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
                if (c.dialect.kind() == SqlDialect::Kind::Sqlite)   // the store's own thread does it
                    Query(Connection{db}, c.dialect, QStringLiteral("connection setup")).exec(QStringLiteral("PRAGMA wal_autocheckpoint=0"));
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

bool SqlStore::locksReadRows()
{
    // PostgreSQL: a row read by key inside a write transaction is locked until it ends.
    // A second transaction reading the same row waits; if the first changed or deleted it,
    // the second fails with a serialization failure *before* acting on the stale row (and
    // runs again, seeing the new state). This is what keeps two concurrent links of one
    // guest — even in two server processes — from both running on_link: the guest's
    // session and user are read this way. SQLite needs nothing: BEGIN IMMEDIATE already
    // serialises writers.
    return dialect().kind() == SqlDialect::Kind::Postgres && threadState().depth > 0;
}

Connection SqlStore::ThreadState::connection() const
{
    // No QSqlDatabase is kept in the state: one still held would make removeDatabase, when
    // the store goes while this thread lives, warn that the connection is still in use.
    return Connection{QSqlDatabase::database(connectionName, false), statements.get()};
}

Connection SqlStore::connection()
{
    return threadState().connection();
}

// ---------------------------------------------------------------------------------------
// Transactions and migrations

void SqlStore::transaction(const std::function<void()> &work)
{
    AfterCommitQueue queued;
    transactionQueuing(queued, work);
    endScope(queued);
}

void SqlStore::transactionQueuing(AfterCommitQueue &queued, const std::function<void()> &work)
{
    const std::function<void()> queuing = [&] {
        queued.clear();   // what an attempt that was rolled back queued must not run
        // On the thread that runs `work`: in a group commit, the batch's leader.
        ThreadState &state = threadState();
        AfterCommitQueue *const around = std::exchange(state.afterCommit, &queued);
        const auto restore = qScopeGuard([&] { state.afterCommit = around; });
        work();
    };
    if (dialect().kind() == SqlDialect::Kind::Sqlite && threadState().depth == 0) {
        m_shared->commits.run(queuing, [this](const QList<CommitQueue::Job *> &batch) { commitBatch(batch); });
        return;
    }
    runTransaction(dialect().beginWriteTransaction(), queuing);
}

void SqlStore::endScope(AfterCommitQueue &queued)
{
    if (AfterCommitQueue *around = currentAfterCommitQueue())
        queued.moveTo(*around);   // nested: they wait for the outermost commit
    else
        queued.run();
}

AfterCommitQueue *SqlStore::currentAfterCommitQueue()
{
    // Not threadState(): outside a transaction that would open a connection, which a
    // callback that runs at once does not need.
    ThreadRegistry &registry = ThreadRegistry::local();
    const auto it = registry.states.find(m_shared->serial);
    return it == registry.states.end() ? nullptr : it->second.afterCommit;
}

void SqlStore::afterCommit(std::function<void()> callback)
{
    if (AfterCommitQueue *queue = currentAfterCommitQueue())
        queue->add(std::move(callback));
    else
        AfterCommitQueue::runOne(callback);   // outside a transaction: nothing to wait for
}

void SqlStore::serialTransaction(const QString &key, const std::function<void()> &work)
{
    if (dialect().kind() != SqlDialect::Kind::Postgres || threadState().depth > 0) {
        transaction(work);
        return;
    }
    // A session-level lock, taken outside the transaction: one taken inside it would come
    // after the snapshot, and the holder's commit would still be a conflict. The key's
    // 64-bit hash is PostgreSQL's own, the same in every server process.
    static const QString lockSql = QStringLiteral("SELECT pg_advisory_lock(hashtextextended(:key, 0))");
    static const QString unlockSql = QStringLiteral("SELECT pg_advisory_unlock(hashtextextended(:key, 0))");
    const QString lockedOn = onLiveConnection([&](const Connection &db) {
        Query(db, dialect(), QStringLiteral("serialTransaction lock")).prepare(lockSql).bind(QStringLiteral(":key"), key).exec();
    }).connectionName;
    const auto unlock = [&] {
        // A connection lost meanwhile took its locks with it; its replacement holds none.
        if (threadState().connectionName != lockedOn)
            return;
        try {
            Query(connection(), dialect(), QStringLiteral("serialTransaction unlock"))
                .prepare(unlockSql).bind(QStringLiteral(":key"), key).exec();
        } catch (const StoreError &e) {
            qWarning("SqlStore: releasing a transaction lock failed: %s", e.what());
        }
    };
    AfterCommitQueue queued;
    try {
        transactionQueuing(queued, work);
    } catch (...) {
        unlock();
        throw;
    }
    unlock();
    endScope(queued);   // after the unlock: the key's next holder need not wait for them
}

SqlStore::ThreadState &SqlStore::onLiveConnection(const std::function<void(const Connection &)> &statement)
{
    for (int attempt = 1;; ++attempt) {
        ThreadState &state = threadState();   // replaces a connection the last attempt found broken
        threadFailures() = SqlDetail::FailureTrack();
        try {
            statement(state.connection());
            return state;
        } catch (const StoreError &) {
            // The server closed an idle connection (restart, timeout): one fresh try.
            if (threadFailures().brokenConnection == state.connectionName && attempt == 1)
                continue;
            throw;
        }
    }
}

namespace {
// Sleeps a random 1..2^attempt ms (at most 64): racing retriers spread out.
void retryBackoff(int attempt)
{
    const int ceiling = 1 << qMin(attempt, 6);
    QThread::msleep(1 + QRandomGenerator::global()->bounded(ceiling));
}
} // namespace

void SqlStore::commitBatch(const QList<CommitQueue::Job *> &batch)
{
    // More than one job: each in a savepoint of its own, so a job that throws undoes only
    // its own work and only its caller sees the error. (Should runTransaction ever retry,
    // every job runs again from a clean slate.)
    const std::function<void()> runEachJob = [&] {
        for (CommitQueue::Job *job : batch) {
            job->error = nullptr;
            runInSavepoint(*job);
        }
    };
    try {
        runTransaction(dialect().beginWriteTransaction(),
                       batch.size() == 1 ? *batch.front()->work : runEachJob);
    } catch (...) {
        // Nothing of the batch was committed: every job fails, with its own error if it had one.
        const std::exception_ptr failure = std::current_exception();
        for (CommitQueue::Job *job : batch) {
            if (!job->error)
                job->error = failure;
        }
    }
}

void SqlStore::runInSavepoint(CommitQueue::Job &job)
{
    const SqlDialect &d = dialect();
    const Connection db = connection();
    execTransactionControl(db, d, QStringLiteral("SAVEPOINT kernia_batch_job"), QStringLiteral("batch savepoint"));
    try {
        (*job.work)();
    } catch (...) {
        job.error = std::current_exception();
        Query(db, d, QStringLiteral("batch rollback")).exec(QStringLiteral("ROLLBACK TO SAVEPOINT kernia_batch_job"));
        threadFailures() = SqlDetail::FailureTrack();   // undone: it must not steer the batch's retry
    }
    execTransactionControl(db, d, QStringLiteral("RELEASE SAVEPOINT kernia_batch_job"), QStringLiteral("batch release"));
}

void SqlStore::runTransaction(const QString &beginStatement, const std::function<void()> &work)
{
    const SqlDialect &d = dialect();
    ThreadState *state = &threadState();

    if (state->depth == 0) {
        std::unique_lock<WriterLock> writerTurn;
        if (m_shared->sqliteWriter)
            writerTurn = std::unique_lock<WriterLock>(*m_shared->sqliteWriter);
        for (int attempt = 1;; ++attempt) {
            state = &onLiveConnection([&](const Connection &db) {
                execTransactionControl(db, d, beginStatement, QStringLiteral("transaction begin"));
            });
            const Connection db = state->connection();
            state->depth = 1;
            try {
                work();
                // PostgreSQL turns COMMIT of a transaction in which a statement failed (and
                // `work` swallowed the StoreError) into a silent ROLLBACK: refuse instead.
                if (d.kind() == SqlDialect::Kind::Postgres && threadFailures().failures > 0) {
                    throw StoreError(QStringLiteral("transaction aborted by an earlier failed statement: %1")
                                         .arg(threadFailures().lastMessage));
                }
            } catch (...) {
                state->depth = 0;
                execQuietly(db, QStringLiteral("ROLLBACK"));
                if (threadFailures().retryable && attempt < kMaxTransactionAttempts) {
                    retryBackoff(attempt);
                    continue;
                }
                throw;
            }
            state->depth = 0;
            try {
                execTransactionControl(db, d, QStringLiteral("COMMIT"), QStringLiteral("transaction commit"));
            } catch (...) {
                // A failed COMMIT ends a PostgreSQL transaction (another ROLLBACK only makes
                // the server warn "no transaction in progress"); SQLite's stays open.
                if (d.kind() == SqlDialect::Kind::Sqlite)
                    execQuietly(db, QStringLiteral("ROLLBACK"));
                if (threadFailures().retryable && attempt < kMaxTransactionAttempts) {
                    retryBackoff(attempt);
                    continue;
                }
                throw;
            }
            return;
        }
    }

    const Connection db = state->connection();

    // Nested: join the outer transaction; a savepoint lets an escaping exception undo just
    // this part (the outer level then decides).
    const QString savepoint = QStringLiteral("kernia_sp_%1").arg(state->depth);
    Query(db, d, QStringLiteral("transaction savepoint"))
        .exec(QStringLiteral("SAVEPOINT ") + savepoint);
    const int failuresBefore = threadFailures().failures;
    ++state->depth;
    try {
        work();
    } catch (...) {
        --state->depth;
        execQuietly(db, QStringLiteral("ROLLBACK TO SAVEPOINT ") + savepoint);
        execQuietly(db, QStringLiteral("RELEASE SAVEPOINT ") + savepoint);
        threadFailures().failures = failuresBefore;   // the rollback undid the aborted state
        throw;
    }
    --state->depth;
    Query(db, d, QStringLiteral("transaction release"))
        .exec(QStringLiteral("RELEASE SAVEPOINT ") + savepoint);
}

void SqlStore::migrate()
{
    const SqlDialect &d = dialect();
    for (const Migration &m : schemaMigrations(d)) {
        runTransaction(d.beginMigrationTransaction(), [&] {
            const Connection db = connection();
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
    threadState().statements->clear();   // prepared against the schema before the change
}

QStringList SqlStore::appliedMigrations()
{
    const Connection db = connection();
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
    Query q(connection(), dialect(), QStringLiteral("createUser"));
    q.prepare(kUser.insert);
    bindUserRow(q, dialect(), u).exec();
}

namespace {
KeyedRead userReadBy(const char *column)
{
    return KeyedRead(QStringLiteral("%1 WHERE \"%2\" = :v").arg(kUser.select, QLatin1String(column)));
}

std::optional<User> readUserWhere(const Connection &db, const SqlDialect &d, const QString &sql,
                                  const QString &value, const QString &context)
{
    Query q(db, d, context);
    q.prepare(sql)
        .bind(QStringLiteral(":v"), value)
        .exec();
    if (!q.next())
        return std::nullopt;
    return readUser(q);
}
} // namespace

std::optional<User> SqlStore::userById(const QString &id)
{
    static const KeyedRead read = userReadBy("id");
    return readUserWhere(connection(), dialect(), read.text(locksReadRows()), id, QStringLiteral("userById"));
}

std::optional<User> SqlStore::userByEmail(const QString &lowerCaseEmail)
{
    static const KeyedRead read = userReadBy("email");
    return readUserWhere(connection(), dialect(), read.text(locksReadRows()), lowerCaseEmail,
                         QStringLiteral("userByEmail"));
}

std::optional<User> SqlStore::userByUsername(const QString &normalisedUsername)
{
    static const KeyedRead read = userReadBy("username");
    return readUserWhere(connection(), dialect(), read.text(locksReadRows()), normalisedUsername,
                         QStringLiteral("userByUsername"));
}

void SqlStore::updateUser(const User &u)
{
    Query q(connection(), dialect(), QStringLiteral("updateUser"));
    q.prepare(kUser.updateById);
    bindUserRow(q, dialect(), u).exec();
}

void SqlStore::deleteUser(const QString &id)
{
    // Better Auth's order: sessions, accounts, (passkeys), then the user row.
    static const QStringList deletes = {QStringLiteral("DELETE FROM \"session\" WHERE \"userId\" = :id"),
                                        QStringLiteral("DELETE FROM \"account\" WHERE \"userId\" = :id"),
                                        QStringLiteral("DELETE FROM \"passkey\" WHERE \"userId\" = :id"),
                                        QStringLiteral("DELETE FROM \"user\" WHERE \"id\" = :id")};
    transaction([&] { execEachWithId(connection(), dialect(), deletes, id, QStringLiteral("deleteUser")); });
}

// ---------------------------------------------------------------------------------------
// Accounts

void SqlStore::createAccount(const Account &a)
{
    Query q(connection(), dialect(), QStringLiteral("createAccount"));
    q.prepare(kAccount.insert);
    bindAccountRow(q, a).exec();
}

QList<Account> SqlStore::accountsByUser(const QString &userId)
{
    static const PerDialect select([](const SqlDialect &d) {
        return QStringLiteral("%1 WHERE \"userId\" = :userId ORDER BY \"createdAt\", %2")
            .arg(kAccount.select, d.insertionOrderColumn());
    });
    Query q(connection(), dialect(), QStringLiteral("accountsByUser"));
    q.prepare(select(dialect()))
        .bind(QStringLiteral(":userId"), userId)
        .exec();
    QList<Account> result;
    while (q.next())
        result.append(readAccount(q));
    return result;
}

void SqlStore::updateAccount(const Account &a)
{
    Query q(connection(), dialect(), QStringLiteral("updateAccount"));
    q.prepare(kAccount.updateById);
    bindAccountRow(q, a).exec();
}

// ---------------------------------------------------------------------------------------
// Sessions

void SqlStore::createSession(const Session &s)
{
    Query q(connection(), dialect(), QStringLiteral("createSession"));
    q.prepare(kSession.insert);
    bindSessionRow(q, s).exec();
}

void SqlStore::createUserWithSession(const User &u, const Session &s)
{
    if (dialect().kind() != SqlDialect::Kind::Postgres || threadState().depth > 0) {
        transaction([&] {
            createUser(u);
            createSession(s);
        });
        return;
    }
    // One statement is atomic without a transaction, and the session's foreign key is
    // checked at its end, when both rows are in. A connection the server closed meanwhile
    // is replaced and the statement sent once more (the same ids: never two guests).
    static const QString sql = QStringLiteral("WITH \"newUser\" AS (%1) %2")
                                   .arg(kUser.insert, kSession.insertWithPlaceholderPrefix(QStringLiteral("session_")));
    onLiveConnection([&](const Connection &db) {
        Query q(db, dialect(), QStringLiteral("createUserWithSession"));
        q.prepare(sql);
        bindUserRow(q, dialect(), u);
        bindSessionRow(q, s, QStringLiteral("session_")).exec();
    });
}

std::optional<Session> SqlStore::sessionByToken(const QString &token)
{
    Query q(connection(), dialect(), QStringLiteral("sessionByToken"));
    static const KeyedRead read(kSession.select + QStringLiteral(" WHERE \"token\" = :token"));
    q.prepare(read.text(locksReadRows()))
        .bind(QStringLiteral(":token"), token)
        .exec();
    if (!q.next())
        return std::nullopt;
    return readSession(q);
}

std::optional<std::pair<Session, User>> SqlStore::sessionWithUserByToken(const QString &token)
{
    static const KeyedRead read(
        QStringLiteral("SELECT %1, %2 FROM \"session\" \"s\" JOIN \"user\" \"u\" ON \"u\".\"id\" = \"s\".\"userId\" "
                       "WHERE \"s\".\"token\" = :token")
            .arg(kSession.qualifiedColumns(QStringLiteral("s")), kUser.qualifiedColumns(QStringLiteral("u"))));
    Query q(connection(), dialect(), QStringLiteral("sessionWithUserByToken"));
    q.prepare(read.text(locksReadRows()))
        .bind(QStringLiteral(":token"), token)
        .exec();
    if (!q.next())
        return std::nullopt;
    return std::make_pair(readSession(q), readUser(q, kSession.columnCount));
}

QList<Session> SqlStore::sessionsByUser(const QString &userId)
{
    static const PerDialect select([](const SqlDialect &d) {
        return QStringLiteral("%1 WHERE \"userId\" = :userId ORDER BY \"createdAt\", %2")
            .arg(kSession.select, d.insertionOrderColumn());
    });
    Query q(connection(), dialect(), QStringLiteral("sessionsByUser"));
    q.prepare(select(dialect()))
        .bind(QStringLiteral(":userId"), userId)
        .exec();
    QList<Session> result;
    while (q.next())
        result.append(readSession(q));
    return result;
}

void SqlStore::updateSession(const Session &s)
{
    Query q(connection(), dialect(), QStringLiteral("updateSession"));
    q.prepare(kSession.updateById);
    bindSessionRow(q, s).exec();
}

void SqlStore::deleteSessionByToken(const QString &token)
{
    Query(connection(), dialect(), QStringLiteral("deleteSessionByToken"))
        .prepare(QStringLiteral("DELETE FROM \"session\" WHERE \"token\" = :token"))
        .bind(QStringLiteral(":token"), token)
        .exec();
}

int SqlStore::deleteSessionsByUser(const QString &userId)
{
    Query q(connection(), dialect(), QStringLiteral("deleteSessionsByUser"));
    q.prepare(QStringLiteral("DELETE FROM \"session\" WHERE \"userId\" = :userId"))
        .bind(QStringLiteral(":userId"), userId)
        .exec();
    return qMax(0, q.rowsAffected());
}

int SqlStore::deleteAccountsByUser(const QString &userId)
{
    Query q(connection(), dialect(), QStringLiteral("deleteAccountsByUser"));
    q.prepare(QStringLiteral("DELETE FROM \"account\" WHERE \"userId\" = :userId"))
        .bind(QStringLiteral(":userId"), userId)
        .exec();
    return qMax(0, q.rowsAffected());
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
        .prepare(kVerification.insert)
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
    static const PerDialect select([](const SqlDialect &d) {
        return QStringLiteral("%1 WHERE \"identifier\" = :identifier ORDER BY \"createdAt\" DESC, %2 DESC LIMIT 1")
            .arg(kVerification.select, d.insertionOrderColumn());
    });
    Query q(connection(), dialect(), QStringLiteral("verificationByIdentifier"));
    q.prepare(select(dialect()))
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
        static const PerDialect consume([](const SqlDialect &d) {
            return QStringLiteral("DELETE FROM \"verification\" WHERE \"id\" = ("
                                  "SELECT \"id\" FROM \"verification\" WHERE \"identifier\" = :identifier "
                                  "ORDER BY \"createdAt\" DESC, %1 DESC LIMIT 1) RETURNING %2")
                .arg(d.insertionOrderColumn(), kVerification.columns);
        });
        Query q(connection(), dialect(), QStringLiteral("consumeVerification"));
        q.prepare(consume(dialect()))
            .bind(QStringLiteral(":identifier"), identifier)
            .exec();
        if (q.next())
            result = readVerification(q);
        while (q.next()) {}
        q.finish();
    });
    return result;
}

int SqlStore::deleteVerificationsByValue(const QString &identifierPrefix, const QString &value)
{
    // substr, not LIKE: the prefix is matched as it is, whatever characters it holds.
    Query q(connection(), dialect(), QStringLiteral("deleteVerificationsByValue"));
    q.prepare(QStringLiteral("DELETE FROM \"verification\" WHERE \"value\" = :value "
                             "AND substr(\"identifier\", 1, :length) = :prefix"))
        .bind(QStringLiteral(":value"), value)
        .bind(QStringLiteral(":length"), qint64(identifierPrefix.size()))
        .bind(QStringLiteral(":prefix"), identifierPrefix)
        .exec();
    return qMax(0, q.rowsAffected());
}

// ---------------------------------------------------------------------------------------
// Passkeys

void SqlStore::createPasskey(const Passkey &p)
{
    Query q(connection(), dialect(), QStringLiteral("createPasskey"));
    q.prepare(kPasskey.insert);
    bindPasskeyRow(q, dialect(), p).exec();
}

namespace {
PerDialect passkeysWhereSql(const char *column, bool firstOnly)
{
    return PerDialect([=](const SqlDialect &d) {
        return QStringLiteral("%1 WHERE \"%2\" = :v ORDER BY \"createdAt\", %3%4")
            .arg(kPasskey.select, QLatin1String(column), d.insertionOrderColumn(),
                 firstOnly ? QStringLiteral(" LIMIT 1") : QString());
    });
}

QList<Passkey> passkeysWhere(const Connection &db, const SqlDialect &d, const PerDialect &sql,
                             const QString &value, const QString &context)
{
    Query q(db, d, context);
    q.prepare(sql(d))
        .bind(QStringLiteral(":v"), value)
        .exec();
    QList<Passkey> result;
    while (q.next())
        result.append(readPasskey(q));
    return result;
}
} // namespace

std::optional<Passkey> SqlStore::passkeyById(const QString &id)
{
    static const PerDialect sql = passkeysWhereSql("id", true);
    const QList<Passkey> rows = passkeysWhere(connection(), dialect(), sql, id, QStringLiteral("passkeyById"));
    return rows.isEmpty() ? std::nullopt : std::optional<Passkey>(rows.first());
}

std::optional<Passkey> SqlStore::passkeyByCredentialId(const QString &credentialId)
{
    static const PerDialect sql = passkeysWhereSql("credentialID", true);
    const QList<Passkey> rows = passkeysWhere(connection(), dialect(), sql, credentialId,
                                              QStringLiteral("passkeyByCredentialId"));
    return rows.isEmpty() ? std::nullopt : std::optional<Passkey>(rows.first());
}

QList<Passkey> SqlStore::passkeysByUser(const QString &userId)
{
    static const PerDialect sql = passkeysWhereSql("userId", false);
    return passkeysWhere(connection(), dialect(), sql, userId, QStringLiteral("passkeysByUser"));
}

void SqlStore::updatePasskey(const Passkey &p)
{
    Query q(connection(), dialect(), QStringLiteral("updatePasskey"));
    q.prepare(kPasskey.updateById);
    bindPasskeyRow(q, dialect(), p).exec();
}

void SqlStore::deletePasskey(const QString &id)
{
    Query(connection(), dialect(), QStringLiteral("deletePasskey"))
        .prepare(QStringLiteral("DELETE FROM \"passkey\" WHERE \"id\" = :id"))
        .bind(QStringLiteral(":id"), id)
        .exec();
}

int SqlStore::deletePasskeysByUser(const QString &userId)
{
    Query q(connection(), dialect(), QStringLiteral("deletePasskeysByUser"));
    q.prepare(QStringLiteral("DELETE FROM \"passkey\" WHERE \"userId\" = :userId"))
        .bind(QStringLiteral(":userId"), userId)
        .exec();
    return qMax(0, q.rowsAffected());
}

// ---------------------------------------------------------------------------------------
// Sync records (core/sync)

namespace {

const QString kSyncRecordColumns = QStringLiteral(
    "\"collection\", \"recordId\", \"version\", \"deleted\", \"data\", \"updatedAt\"");

// `first`: index of the record's first column (after another record's, in a join).
SyncRecord readSyncRecord(const Query &q, int first = 0)
{
    SyncRecord r;
    r.collection = q.value(first + 0).toString();
    r.recordId = q.value(first + 1).toString();
    r.version = q.value(first + 2).toLongLong();
    r.deleted = q.value(first + 3).toBool();
    r.data = q.value(first + 4).isNull() ? QByteArray() : q.value(first + 4).toString().toUtf8();
    r.updatedAt = toTimestamp(q.value(first + 5));
    return r;
}

constexpr int kSyncRecordColumnCount = 6;

// kSyncRecordColumns qualified by a table alias: "g"."collection", ...
QString qualifiedSyncRecordColumns(const QString &alias)
{
    QStringList columns;
    for (const char *name : {"collection", "recordId", "version", "deleted", "data", "updatedAt"})
        columns.append(QStringLiteral("\"%1\".\"%2\"").arg(alias, QLatin1String(name)));
    return columns.join(QStringLiteral(", "));
}

// The condition "the row "g" (of :from) has a key that :to does not hold", shared by the
// count and the move so that both see the same records. The primary key
// ("userId", "collection", "recordId") answers it by one lookup per row.
const QString kUnsharedCondition = QStringLiteral(
    "\"g\".\"userId\" = :from AND NOT EXISTS (SELECT 1 FROM \"sync_record\" \"a\" "
    "WHERE \"a\".\"userId\" = :to AND \"a\".\"collection\" = \"g\".\"collection\" "
    "AND \"a\".\"recordId\" = \"g\".\"recordId\")");

} // namespace

std::optional<SyncRecord> SqlStore::syncRecord(const QString &userId, const QString &collection,
                                               const QString &recordId)
{
    static const QString select = QStringLiteral("SELECT %1 FROM \"sync_record\" WHERE \"userId\" = :userId "
                                                 "AND \"collection\" = :collection AND \"recordId\" = :recordId")
                                      .arg(kSyncRecordColumns);
    Query q(connection(), dialect(), QStringLiteral("syncRecord"));
    q.prepare(select)
        .bind(QStringLiteral(":userId"), userId)
        .bind(QStringLiteral(":collection"), collection)
        .bind(QStringLiteral(":recordId"), recordId)
        .exec();
    if (!q.next())
        return std::nullopt;
    return readSyncRecord(q);
}

void SqlStore::putSyncRecord(const QString &userId, const SyncRecord &r)
{
    static const QString upsert = QStringLiteral(
        "INSERT INTO \"sync_record\" (\"userId\", %1) VALUES (:userId, :collection, :recordId, "
        ":version, :deleted, :data, :updatedAt) "
        "ON CONFLICT (\"userId\", \"collection\", \"recordId\") DO UPDATE SET "
        "\"version\" = excluded.\"version\", \"deleted\" = excluded.\"deleted\", "
        "\"data\" = excluded.\"data\", \"updatedAt\" = excluded.\"updatedAt\"").arg(kSyncRecordColumns);
    Query(connection(), dialect(), QStringLiteral("putSyncRecord"))
        .prepare(upsert)
        .bind(QStringLiteral(":userId"), textValue(userId))
        .bind(QStringLiteral(":collection"), textValue(r.collection))
        .bind(QStringLiteral(":recordId"), textValue(r.recordId))
        .bind(QStringLiteral(":version"), qint64(r.version))
        .bind(QStringLiteral(":deleted"), dialect().boolValue(r.deleted))
        .bind(QStringLiteral(":data"), r.deleted ? nullOf(QMetaType::fromType<QString>())
                                                 : QVariant(QString::fromUtf8(r.data)))
        .bind(QStringLiteral(":updatedAt"), timestampValue(r.updatedAt))
        .exec();
}

QList<SyncRecord> SqlStore::syncChangesSince(const QString &userId, qint64 since, qint64 upTo, int limit)
{
    static const QString select = QStringLiteral("SELECT %1 FROM \"sync_record\" WHERE \"userId\" = :userId "
                                                 "AND \"version\" > :since AND \"version\" <= :upTo "
                                                 "ORDER BY \"version\" LIMIT :limit").arg(kSyncRecordColumns);
    Query q(connection(), dialect(), QStringLiteral("syncChangesSince"));
    q.prepare(select)
        .bind(QStringLiteral(":userId"), userId)
        .bind(QStringLiteral(":since"), since)
        .bind(QStringLiteral(":upTo"), upTo)
        .bind(QStringLiteral(":limit"), qint64(limit))
        .exec();
    QList<SyncRecord> result;
    while (q.next())
        result.append(readSyncRecord(q));
    return result;
}

void SqlStore::syncChangeSizes(const QString &userId, qint64 since, qint64 upTo, int limit,
                               const std::function<bool(qint64 version, qint64 bytes)> &take)
{
    const SqlDialect &d = dialect();
    const QString select = QStringLiteral("SELECT \"version\", COALESCE(%1, 0) + %2 + %3 FROM \"sync_record\" "
                                          "WHERE \"userId\" = :userId AND \"version\" > :since "
                                          "AND \"version\" <= :upTo ORDER BY \"version\" LIMIT :limit")
                               .arg(d.byteLength(QStringLiteral("\"data\"")), d.byteLength(QStringLiteral("\"collection\"")),
                                    d.byteLength(QStringLiteral("\"recordId\"")));
    Query q(connection(), d, QStringLiteral("syncChangeSizes"));
    q.prepare(select)
        .bind(QStringLiteral(":userId"), userId)
        .bind(QStringLiteral(":since"), since)
        .bind(QStringLiteral(":upTo"), upTo)
        .bind(QStringLiteral(":limit"), qint64(limit))
        .exec();
    while (q.next()) {
        if (!take(q.value(0).toLongLong(), q.value(1).toLongLong()))
            break;
    }
    q.finish();
}

qint64 SqlStore::syncVersion(const QString &userId)
{
    Query q(connection(), dialect(), QStringLiteral("syncVersion"));
    q.prepare(QStringLiteral("SELECT \"version\" FROM \"sync_user_version\" WHERE \"userId\" = :userId"))
        .bind(QStringLiteral(":userId"), userId)
        .exec();
    return q.next() ? q.value(0).toLongLong() : 0;
}

SyncCounter SqlStore::bumpSyncVersion(const QString &userId, qint64 count)
{
    Query q(connection(), dialect(), QStringLiteral("bumpSyncVersion"));
    q.prepare(QStringLiteral(
        "INSERT INTO \"sync_user_version\" (\"userId\", \"version\") VALUES (:userId, :count) "
        "ON CONFLICT (\"userId\") DO UPDATE SET \"version\" = \"sync_user_version\".\"version\" + :add "
        "RETURNING \"version\", \"bytes\""))
        .bind(QStringLiteral(":userId"), userId)
        .bind(QStringLiteral(":count"), count)
        .bind(QStringLiteral(":add"), count)
        .exec();
    if (!q.next())
        throw StoreError(QStringLiteral("bumpSyncVersion: no row returned"));
    const SyncCounter counter{q.value(0).toLongLong(), q.value(1).toLongLong()};
    while (q.next()) {}
    return counter;
}

qint64 SqlStore::syncClientMark(const QString &userId, const QString &clientId)
{
    Query q(connection(), dialect(), QStringLiteral("syncClientMark"));
    q.prepare(QStringLiteral("SELECT \"lastMid\" FROM \"sync_client\" WHERE \"userId\" = :userId "
                             "AND \"clientId\" = :clientId"))
        .bind(QStringLiteral(":userId"), userId)
        .bind(QStringLiteral(":clientId"), clientId)
        .exec();
    return q.next() ? q.value(0).toLongLong() : 0;
}

void SqlStore::setSyncClientMark(const QString &userId, const QString &clientId, qint64 lastMid)
{
    Query(connection(), dialect(), QStringLiteral("setSyncClientMark"))
        .prepare(QStringLiteral(
            "INSERT INTO \"sync_client\" (\"userId\", \"clientId\", \"lastMid\") VALUES (:userId, :clientId, :lastMid) "
            "ON CONFLICT (\"userId\", \"clientId\") DO UPDATE SET \"lastMid\" = excluded.\"lastMid\""))
        .bind(QStringLiteral(":userId"), textValue(userId))
        .bind(QStringLiteral(":clientId"), textValue(clientId))
        .bind(QStringLiteral(":lastMid"), lastMid)
        .exec();
}

QList<QPair<QString, qint64>> SqlStore::syncClientMarks(const QString &userId)
{
    Query q(connection(), dialect(), QStringLiteral("syncClientMarks"));
    q.prepare(QStringLiteral("SELECT \"clientId\", \"lastMid\" FROM \"sync_client\" WHERE \"userId\" = :userId "
                             "ORDER BY \"clientId\""))
        .bind(QStringLiteral(":userId"), userId)
        .exec();
    QList<QPair<QString, qint64>> result;
    while (q.next())
        result.append({q.value(0).toString(), q.value(1).toLongLong()});
    return result;
}

qint64 SqlStore::syncRecordBytes(const QString &userId, const QString &collection, const QString &recordId)
{
    // Built once per dialect: every put of a push asks.
    static const PerDialect select([](const SqlDialect &d) {
        return QStringLiteral("SELECT COALESCE(%1, 0) FROM \"sync_record\" WHERE \"userId\" = :userId "
                              "AND \"collection\" = :collection AND \"recordId\" = :recordId")
            .arg(d.byteLength(QStringLiteral("\"data\"")));
    });
    Query q(connection(), dialect(), QStringLiteral("syncRecordBytes"));
    q.prepare(select(dialect()))
        .bind(QStringLiteral(":userId"), userId)
        .bind(QStringLiteral(":collection"), collection)
        .bind(QStringLiteral(":recordId"), recordId)
        .exec();
    return q.next() ? q.value(0).toLongLong() : 0;
}

void SqlStore::setSyncUserBytes(const QString &userId, qint64 bytes)
{
    Query q(connection(), dialect(), QStringLiteral("setSyncUserBytes"));
    q.prepare(QStringLiteral("UPDATE \"sync_user_version\" SET \"bytes\" = :bytes WHERE \"userId\" = :userId"))
        .bind(QStringLiteral(":bytes"), bytes)
        .bind(QStringLiteral(":userId"), userId)
        .exec();
    if (q.rowsAffected() != 1)
        throw StoreError(QStringLiteral("setSyncUserBytes: no counter row for %1").arg(userId));
}

std::optional<qint64> SqlStore::recountSyncUserBytes(const QString &userId)
{
    static const PerDialect update([](const SqlDialect &d) {
        return QStringLiteral("UPDATE \"sync_user_version\" SET \"bytes\" = (SELECT COALESCE(SUM(%1), 0) FROM \"sync_record\" "
                              "WHERE \"sync_record\".\"userId\" = :records) WHERE \"userId\" = :userId RETURNING \"bytes\"")
            .arg(d.byteLength(QStringLiteral("\"data\"")));
    });
    Query q(connection(), dialect(), QStringLiteral("recountSyncUserBytes"));
    q.prepare(update(dialect()))
        .bind(QStringLiteral(":records"), userId)
        .bind(QStringLiteral(":userId"), userId)
        .exec();
    if (!q.next())
        return std::nullopt;
    const qint64 bytes = q.value(0).toLongLong();
    while (q.next()) {}
    return bytes;
}

void SqlStore::deleteSyncData(const QString &userId)
{
    static const QStringList deletes = {QStringLiteral("DELETE FROM \"sync_record\" WHERE \"userId\" = :id"),
                                        QStringLiteral("DELETE FROM \"sync_client\" WHERE \"userId\" = :id"),
                                        QStringLiteral("DELETE FROM \"sync_user_version\" WHERE \"userId\" = :id")};
    transaction([&] { execEachWithId(connection(), dialect(), deletes, userId, QStringLiteral("deleteSyncData")); });
}

QList<SharedSyncRecord> SqlStore::sharedSyncRecords(const QString &fromUserId, const QString &toUserId)
{
    static const QString select = QStringLiteral(
        "SELECT %1, %2 FROM \"sync_record\" \"g\" JOIN \"sync_record\" \"a\" "
        "ON \"a\".\"userId\" = :to AND \"a\".\"collection\" = \"g\".\"collection\" "
        "AND \"a\".\"recordId\" = \"g\".\"recordId\" "
        "WHERE \"g\".\"userId\" = :from ORDER BY \"g\".\"version\"")
        .arg(qualifiedSyncRecordColumns(QStringLiteral("g")), qualifiedSyncRecordColumns(QStringLiteral("a")));
    Query q(connection(), dialect(), QStringLiteral("sharedSyncRecords"));
    q.prepare(select)
        .bind(QStringLiteral(":from"), fromUserId)
        .bind(QStringLiteral(":to"), toUserId)
        .exec();
    QList<SharedSyncRecord> result;
    while (q.next())
        result.append({readSyncRecord(q), readSyncRecord(q, kSyncRecordColumnCount)});
    return result;
}

UnsharedSyncRecordCounts SqlStore::unsharedSyncRecordCounts(const QString &fromUserId, const QString &toUserId)
{
    static const QString select = QStringLiteral("SELECT \"g\".\"deleted\", count(*) FROM \"sync_record\" \"g\" "
                                                 "WHERE %1 GROUP BY \"g\".\"deleted\"").arg(kUnsharedCondition);
    Query q(connection(), dialect(), QStringLiteral("unsharedSyncRecordCounts"));
    q.prepare(select)
        .bind(QStringLiteral(":from"), fromUserId)
        .bind(QStringLiteral(":to"), toUserId)
        .exec();
    UnsharedSyncRecordCounts counts;
    while (q.next())
        (q.value(0).toBool() ? counts.deleted : counts.live) += q.value(1).toLongLong();
    return counts;
}

qint64 SqlStore::moveUnsharedSyncRecords(const QString &fromUserId, const QString &toUserId, qint64 firstVersion)
{
    // The rows keep their data and change owner and version in place. The new keys and
    // versions are free in `to` (keys it does not hold, versions above its counter), so
    // no unique index sees a collision even row by row.
    static const QString update = QStringLiteral(
        "UPDATE \"sync_record\" SET \"userId\" = :to, \"version\" = :before + \"m\".\"n\" "
        "FROM (SELECT \"g\".\"collection\", \"g\".\"recordId\", "
        "ROW_NUMBER() OVER (ORDER BY \"g\".\"version\") AS \"n\" "
        "FROM \"sync_record\" \"g\" WHERE %1) AS \"m\" "
        "WHERE \"sync_record\".\"userId\" = :from AND \"sync_record\".\"collection\" = \"m\".\"collection\" "
        "AND \"sync_record\".\"recordId\" = \"m\".\"recordId\"").arg(kUnsharedCondition);
    Query q(connection(), dialect(), QStringLiteral("moveUnsharedSyncRecords"));
    q.prepare(update)
        .bind(QStringLiteral(":from"), fromUserId)
        .bind(QStringLiteral(":to"), toUserId)
        .bind(QStringLiteral(":before"), firstVersion - 1)
        .exec();
    return qMax(0, q.rowsAffected());
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
    if (names.isEmpty()) {
        // Nothing to bind: run it as is. QPSQL prepares with PREPARE, which PostgreSQL
        // accepts only for SELECT/INSERT/UPDATE/DELETE/VALUES — not for DDL.
        q.exec(sql);
        q.finish();
        return;
    }
    q.prepare(sql);
    for (qsizetype i = 0; i < names.size(); ++i)
        q.bind(QLatin1Char(':') + names.at(i), values.at(i));
    q.exec();
    q.finish();
}

} // namespace Kernia::Server
