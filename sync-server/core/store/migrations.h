// Versioned schema migrations of the server database.
//
//   for (const Migration &m : schemaMigrations(SqlDialect::sqlite()))
//       qDebug() << m.id << m.plugin << m.statements.size();
//
// Each migration is labelled with the plugin that owns the schema it adds (core,
// anonymous, username, passkey, sync). SqlStore::migrate() applies them in list order, each in
// its own write transaction, and records the id in the kernia_migrations table, so every
// migration runs exactly once per database — also when several processes start at once.
// Append new migrations at the end; never edit or reorder released ones.
#pragma once

#include "sql_dialect.h"

#include <QList>
#include <QString>
#include <QStringList>

namespace Kernia::Server {

struct Migration
{
    QString id;             // e.g. "0001_core"; primary key in kernia_migrations
    QString plugin;         // owning plugin: "core", "anonymous", "username", "passkey", "sync",
                            // "rate-limit"
    QStringList statements; // DDL, already expanded for the dialect
};

// Name of the bookkeeping table and the statement creating it (idempotent).
inline constexpr auto kMigrationsTable = "kernia_migrations";
QString migrationsTableDdl(const SqlDialect &dialect);

// All schema migrations in the order they must be applied.
QList<Migration> schemaMigrations(const SqlDialect &dialect);

} // namespace Kernia::Server
