#include "sql_query.h"

#include "store.h"

#include <QSqlError>
#include <QSqlQuery>

namespace Kernia::Server::SqlDetail {

namespace {
thread_local FailureTrack t_failures;
} // namespace

FailureTrack &threadFailures()
{
    return t_failures;
}

// ---------------------------------------------------------------------------------------

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

Query::Query(const Connection &connection, const SqlDialect &dialect, QString context)
    : m_db(connection.database), m_statements(connection.statements), m_dialect(dialect), m_context(std::move(context))
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

Statement &Query::active()
{
    if (!m_active)
        m_active = &own();
    return *m_active;
}

Statement &Query::own()
{
    if (!m_own)
        m_own = newStatement(m_db);
    return *m_own;
}

Query &Query::prepare(const QString &sql)
{
    std::shared_ptr<StatementCache::Entry> entry = m_statements ? m_statements->take(sql) : nullptr;
    if (!entry)
        return prepareUncached(sql);
    finish();
    if (m_cached)
        m_cached->busy = false;
    m_cached = std::move(entry);
    if (m_cached->prepared) {
        m_active = m_cached->statement.get();
        m_active->reuse();
        return *this;
    }
    m_cached->statement = newStatement(m_db);
    m_active = m_cached->statement.get();
    if (!m_active->prepare(sql)) {
        m_statements->forget(sql);
        fail();
    }
    m_cached->prepared = true;
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
    active().bind(placeholder, value);
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

void execEachWithId(const Connection &connection, const SqlDialect &dialect, const QStringList &statements,
                    const QString &id, const QString &context)
{
    for (const QString &sql : statements)
        Query(connection, dialect, context).prepare(sql).bind(QStringLiteral(":id"), id).exec();
}

void execTransactionControl(const Connection &connection, const SqlDialect &dialect, const QString &sql,
                            const QString &context)
{
    Query q(connection, dialect, context);
    if (dialect.kind() == SqlDialect::Kind::Sqlite)
        q.prepare(sql).exec();
    else
        q.exec(sql);
}

void execQuietly(const Connection &connection, const QString &sql)
{
    QSqlQuery q(connection.database);
    if (!q.exec(sql))
        qWarning("SqlStore: %s failed: %s", qPrintable(sql), qPrintable(q.lastError().text()));
    q.finish();
}

} // namespace Kernia::Server::SqlDetail
