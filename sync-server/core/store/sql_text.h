// Internal to SqlStore: statement texts built once, at start-up, instead of formatted on
// every call. A text is the key of the connection's prepared-statement cache
// (sql_query.h), so a hot query should hash a ready string, not build one first.
//
//   const TableSql kUser("user", {"id", "name", "email"});   // "id" first
//   kUser.insert       INSERT INTO "user" ("id", "name", "email") VALUES (:id, :name, :email)
//   kUser.updateById   UPDATE "user" SET "name" = :name, "email" = :email WHERE "id" = :id
//   kUser.select       SELECT "id", "name", "email" FROM "user"
//
// Every column's placeholder is :column, so one binder serves INSERT and UPDATE.
#pragma once

#include "sql_dialect.h"

#include <QString>
#include <functional>
#include <initializer_list>

namespace Kernia::Server::SqlDetail {

struct TableSql
{
    TableSql(const char *table, std::initializer_list<const char *> columnNames);

    QString columns;      // "id", "name", ... (quoted: "user" is reserved in PostgreSQL)
    int columnCount;
    QString insert;
    QString updateById;
    QString select;

    // The columns qualified by a table alias, for joins: "s"."id", "s"."token", ...
    QString qualifiedColumns(const QString &alias) const;
    // `insert` with placeholders :<prefix><column>, for a statement that writes two rows
    // whose columns share names.
    QString insertWithPlaceholderPrefix(const QString &prefix) const;

private:
    QString m_table;
    QStringList m_names;
};

// A text that differs by dialect (its insertion-order column, say), built once for each.
class PerDialect
{
public:
    explicit PerDialect(const std::function<QString(const SqlDialect &)> &build);
    const QString &operator()(const SqlDialect &dialect) const;

private:
    QString m_sqlite;
    QString m_postgres;
};

// A read by key in its two forms: plain, and with the row lock (FOR UPDATE) that a
// PostgreSQL write transaction asks for (SqlStore::locksReadRows).
struct KeyedRead
{
    explicit KeyedRead(const QString &select) : plain(select), locking(select + QStringLiteral(" FOR UPDATE")) {}
    const QString &text(bool lockRows) const { return lockRows ? locking : plain; }
    const QString plain;
    const QString locking;
};

} // namespace Kernia::Server::SqlDetail
