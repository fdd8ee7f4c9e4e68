// Internal to SqlStore: one statement on one connection, behind Query (sql_query.h).
//
// Two implementations: Qt's QSqlQuery (PostgreSQL), and SQLite's own API on the handle of
// a connection Qt's QSQLITE driver opened (sqlite_statement.h). Qt's SQLite driver
// rebuilds a QSqlRecord (names, tables, declared types) on every execution and turns each
// bound value and column into a QVariant twice; for the short indexed lookups and inserts
// the server runs, that was about as long as SQLite's own work.
#pragma once

#include <QSqlError>
#include <QString>
#include <QVariant>
#include <memory>

class QSqlDatabase;

namespace Kernia::Server::SqlDetail {

class Statement
{
public:
    virtual ~Statement() = default;

    virtual bool prepare(const QString &sql) = 0;
    virtual void reuse() {}                      // a cached statement's next user (SQLite: must bind all again)
    virtual void bind(const QString &placeholder, const QVariant &value) = 0;
    virtual bool exec() = 0;                     // the prepared statement, with the bound values
    virtual bool exec(const QString &sql) = 0;   // unprepared: prepared, run, and dropped
    virtual bool next() = 0;                     // false at the end, and on failure (lastError())
    virtual QVariant value(int index) const = 0; // of the current row; NULL: a null QVariant
    virtual int rowsAffected() const = 0;
    virtual void finish() = 0;                   // ends the execution: no read stays open
    virtual QSqlError lastError() const = 0;
};

// A statement for `database`: SQLite's own API when it is a QSQLITE connection whose
// driver uses the libsqlite3 this program links (sqlite_statement.h), QSqlQuery otherwise.
std::unique_ptr<Statement> newStatement(const QSqlDatabase &database);

} // namespace Kernia::Server::SqlDetail
