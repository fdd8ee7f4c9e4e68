// Internal to SqlStore: a statement that Qt's QSQLITE driver prepares and owns, executed
// through SQLite's own API (its handle: QSqlResult::handle()). Why not QSqlQuery::exec:
// sql_statement.h. Qt keeps the statement's lifetime: it finalizes it when the QSqlQuery
// goes or when the connection closes, whichever thread closes it, exactly as before.
//
// Placeholders are named (:id). Each user of the statement (prepare() or reuse()) must bind
// every one before exec(), and binding one the statement does not have fails the exec():
// both are bugs, and the first would silently run with the previous user's value.
// Values: QString is TEXT, integers and bool INTEGER, double REAL, QByteArray BLOB, a null
// QVariant (or a null QString or QByteArray) NULL; columns come back as qlonglong, double,
// QString, QByteArray, or a null QVariant for NULL.
#pragma once

#include "sql_statement.h"

#include <QSqlQuery>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace Kernia::Server::SqlDetail {

// True when `database` is a QSQLITE connection whose driver calls the libsqlite3 this
// program links. A Qt built with its bundled SQLite has a copy of its own, whose handles
// must never reach this program's SQLite functions.
bool usesOurSqlite(const QSqlDatabase &database);

// Makes a double-quoted name that is no column an error in this connection's statements,
// as it is in PostgreSQL, instead of SQLite's legacy reading of it as a string literal: a
// misspelt column in an operator's on_link SQL must fail the link, not match nothing.
// False when the connection's SQLite is not ours (usesOurSqlite) and stays as it was.
bool refuseDoubleQuotedStrings(const QSqlDatabase &database);

class SqliteStatement final : public Statement
{
public:
    explicit SqliteStatement(const QSqlDatabase &database);   // usesOurSqlite(database)

    bool prepare(const QString &sql) override;
    void reuse() override;
    void bind(const QString &placeholder, const QVariant &value) override;
    bool exec() override;
    bool exec(const QString &sql) override;
    bool next() override;
    QVariant value(int index) const override;
    int rowsAffected() const override { return m_rowsAffected; }
    void finish() override;
    QSqlError lastError() const override { return m_error; }

private:
    enum class Step { Ready, FirstRowWaiting, OnRow, Done };
    bool step();                          // one sqlite3_step; false: failed
    bool failFromSqlite(const QString &what);
    bool failUsage(const QString &message);
    int parameterIndex(const QString &placeholder) const;   // SQLite's 1-based index; 0: none


    QSqlQuery m_owner;                    // prepares, owns and finalizes m_statement
    sqlite3_stmt *m_statement = nullptr;
    sqlite3 *m_connection = nullptr;
    Step m_step = Step::Ready;
    // Per parameter (index - 1). The names are read once at prepare: looking one up by a
    // QString needs no UTF-8 copy per bind, and a statement has a handful.
    std::vector<QString> m_placeholders;
    std::vector<bool> m_bound;            // bound by this user
    QString m_bindFailure;                // why a bind by this user failed: fails its exec()
    int m_rowsAffected = -1;
    QSqlError m_error;
};

} // namespace Kernia::Server::SqlDetail
