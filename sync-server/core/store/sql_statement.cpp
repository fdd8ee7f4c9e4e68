#include "sql_statement.h"

#include "sqlite_statement.h"

#include <QSqlDatabase>
#include <QSqlQuery>

namespace Kernia::Server::SqlDetail {

namespace {

class QtStatement final : public Statement
{
public:
    explicit QtStatement(const QSqlDatabase &database)
        : m_query(database)
    {
        m_query.setForwardOnly(true);
    }

    bool prepare(const QString &sql) override { return m_query.prepare(sql); }
    void bind(const QString &placeholder, const QVariant &value) override { m_query.bindValue(placeholder, value); }
    bool exec() override { return m_query.exec(); }
    bool exec(const QString &sql) override { return m_query.exec(sql); }
    bool next() override { return m_query.next(); }
    QVariant value(int index) const override { return m_query.value(index); }
    int rowsAffected() const override { return m_query.numRowsAffected(); }
    void finish() override { m_query.finish(); }
    QSqlError lastError() const override { return m_query.lastError(); }

private:
    QSqlQuery m_query;
};

} // namespace

std::unique_ptr<Statement> newStatement(const QSqlDatabase &database)
{
    if (usesOurSqlite(database))
        return std::make_unique<SqliteStatement>(database);
    return std::make_unique<QtStatement>(database);
}

} // namespace Kernia::Server::SqlDetail
