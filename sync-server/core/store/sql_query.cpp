#include "sql_query.h"

#include "store.h"

#include <QSqlError>

namespace Kernia::Server::SqlDetail {

namespace {
thread_local FailureTrack t_failures;
// A plain pointer, freed when the last connection unregisters: SqlStore's per-thread state
// can outlive this thread's thread_local objects (the main thread's at exit).
thread_local QHash<QString, StatementCache *> *t_caches = nullptr;
} // namespace

FailureTrack &threadFailures()
{
    return t_failures;
}

// ---------------------------------------------------------------------------------------

StatementCache *StatementCache::forConnection(const QString &connectionName)
{
    return t_caches ? t_caches->value(connectionName, nullptr) : nullptr;
}

void StatementCache::registerConnection(const QString &connectionName, StatementCache *cache)
{
    if (!t_caches)
        t_caches = new QHash<QString, StatementCache *>;
    t_caches->insert(connectionName, cache);
}

void StatementCache::unregisterConnection(const QString &connectionName)
{
    if (!t_caches)
        return;
    t_caches->remove(connectionName);
    if (t_caches->isEmpty()) {
        delete t_caches;
        t_caches = nullptr;
    }
}

std::shared_ptr<StatementCache::Entry> StatementCache::take(const QString &sql)
{
    std::shared_ptr<Entry> &slot = m_entries[sql];
    if (!slot) {
        if (m_entries.size() > kMaxEntries) {
            m_entries.remove(sql);
            clear();
            return take(sql);
        }
        slot = std::make_shared<Entry>();
    }
    if (slot->busy)
        return nullptr;
    slot->busy = true;
    return slot;
}

void StatementCache::forget(const QString &sql)
{
    m_entries.remove(sql);
}

void StatementCache::clear()
{
    // A Query still holding an entry keeps it alive through its shared_ptr.
    m_entries.clear();
}

// ---------------------------------------------------------------------------------------

Query::Query(const QSqlDatabase &db, const SqlDialect &dialect, QString context)
    : m_db(db), m_dialect(dialect), m_context(std::move(context))
{
}

Query::~Query()
{
    finish();
    if (m_cached)
        m_cached->busy = false;
}

void Query::finish()
{
    if (m_active)
        m_active->finish();
}

QSqlQuery &Query::active()
{
    if (!m_active)
        m_active = &own();
    return *m_active;
}

QSqlQuery &Query::own()
{
    if (!m_own) {
        m_own.emplace(m_db);
        m_own->setForwardOnly(true);
    }
    return *m_own;
}

Query &Query::prepare(const QString &sql)
{
    StatementCache *const cache = StatementCache::forConnection(m_db.connectionName());
    std::shared_ptr<StatementCache::Entry> entry = cache ? cache->take(sql) : nullptr;
    if (!entry)
        return prepareUncached(sql);
    finish();
    if (m_cached)
        m_cached->busy = false;
    m_cached = std::move(entry);
    m_active = &m_cached->query;
    if (!m_cached->prepared) {
        *m_active = QSqlQuery(m_db);
        m_active->setForwardOnly(true);
        if (!m_active->prepare(sql)) {
            cache->forget(sql);
            fail();
        }
        m_cached->prepared = true;
    }
    return *this;
}

Query &Query::prepareUncached(const QString &sql)
{
    finish();
    m_active = &own();
    if (!m_active->prepare(sql))
        fail();
    return *this;
}

Query &Query::bind(const QString &placeholder, const QVariant &value)
{
    active().bindValue(placeholder, value);
    return *this;
}

Query &Query::exec()
{
    if (!active().exec())
        fail();
    return *this;
}

Query &Query::exec(const QString &sql)
{
    finish();
    m_active = &own();
    if (!m_active->exec(sql))
        fail();
    return *this;
}

bool Query::next()
{
    if (active().next())
        return true;
    if (m_active->lastError().isValid())
        fail();
    return false;
}

void Query::fail()
{
    const QSqlError error = active().lastError();
    m_active->finish();
    const QString message = QStringLiteral("%1: %2").arg(m_context, error.text());
    FailureTrack &failures = t_failures;
    ++failures.failures;
    failures.lastMessage = message;
    if (m_dialect.isRetryable(error))
        failures.retryable = true;
    if (m_dialect.isConnectionFailure(error))
        failures.brokenConnection = m_db.connectionName();
    throw StoreError(message, m_dialect.isUniqueViolation(error));
}

void execQuietly(const QSqlDatabase &db, const QString &sql)
{
    QSqlQuery q(db);
    if (!q.exec(sql))
        qWarning("SqlStore: %s failed: %s", qPrintable(sql), qPrintable(q.lastError().text()));
    q.finish();
}

} // namespace Kernia::Server::SqlDetail
