#include "sql_text.h"

#include <QStringList>

namespace Kernia::Server::SqlDetail {

namespace {
QString quoted(const QString &identifier)
{
    return QLatin1Char('"') + identifier + QLatin1Char('"');
}
} // namespace

TableSql::TableSql(const char *table, std::initializer_list<const char *> columnNames)
{
    QStringList quotedNames, assignments;
    for (const char *column : columnNames) {
        const QString name = QLatin1String(column);
        m_names.append(name);
        quotedNames.append(quoted(name));
        if (name != QLatin1String("id"))
            assignments.append(quoted(name) + QStringLiteral(" = :") + name);
    }
    const QString tableName = quoted(QLatin1String(table));
    m_table = tableName;
    columns = quotedNames.join(QStringLiteral(", "));
    columnCount = int(m_names.size());
    insert = insertWithPlaceholderPrefix(QString());
    updateById = QStringLiteral("UPDATE %1 SET %2 WHERE \"id\" = :id").arg(tableName, assignments.join(QStringLiteral(", ")));
    select = QStringLiteral("SELECT %1 FROM %2").arg(columns, tableName);
}

QString TableSql::qualifiedColumns(const QString &alias) const
{
    QStringList qualified;
    for (const QString &name : m_names)
        qualified.append(quoted(alias) + QLatin1Char('.') + quoted(name));
    return qualified.join(QStringLiteral(", "));
}

QString TableSql::insertWithPlaceholderPrefix(const QString &prefix) const
{
    QStringList placeholders;
    for (const QString &name : m_names)
        placeholders.append(QLatin1Char(':') + prefix + name);
    return QStringLiteral("INSERT INTO %1 (%2) VALUES (%3)").arg(m_table, columns, placeholders.join(QStringLiteral(", ")));
}

PerDialect::PerDialect(const std::function<QString(const SqlDialect &)> &build)
    : m_sqlite(build(SqlDialect::sqlite())), m_postgres(build(SqlDialect::postgres()))
{
}

const QString &PerDialect::operator()(const SqlDialect &dialect) const
{
    return dialect.kind() == SqlDialect::Kind::Postgres ? m_postgres : m_sqlite;
}

} // namespace Kernia::Server::SqlDetail
