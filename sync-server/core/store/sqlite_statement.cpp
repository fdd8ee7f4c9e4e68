#include "sqlite_statement.h"

#include <QSqlDatabase>
#include <QSqlDriver>
#include <QSqlResult>

#include <dlfcn.h>
#include <sqlite3.h>

namespace Kernia::Server::SqlDetail {

namespace {

// Whether the plugin that holds `driver`'s code resolves sqlite3_* to the functions this
// program calls: the plugin's own symbol lookup (itself, then its dependencies) must find
// the very function we link. Computed once: every QSQLITE driver comes from one plugin.
bool pluginSharesOurSqlite(const QSqlDriver *driver)
{
    static const bool shared = [driver] {
        Dl_info plugin{};
        // A polymorphic object's first word points at its vtable, inside the plugin.
        const void *vtable = *reinterpret_cast<const void *const *>(driver);
        if (dladdr(vtable, &plugin) == 0 || !plugin.dli_fname)
            return false;
        void *handle = dlopen(plugin.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
        if (!handle)
            return false;
        const void *theirs = dlsym(handle, "sqlite3_step");
        dlclose(handle);
        const bool same = theirs == reinterpret_cast<const void *>(&sqlite3_step);
        if (!same)
            qInfo("SqlStore: Qt's SQLite driver has a SQLite of its own; queries go through QSqlQuery");
        return same;
    }();
    return shared;
}

// QSQLITE binds these as NULL too (QSqlResultPrivate::isVariantNull): in Qt 6 a QVariant
// holding a null QString is not itself null.
bool isNullValue(const QVariant &value)
{
    if (value.isNull())
        return true;
    switch (value.typeId()) {
    case QMetaType::QString:
        return static_cast<const QString *>(value.constData())->isNull();
    case QMetaType::QByteArray:
        return static_cast<const QByteArray *>(value.constData())->isNull();
    default:
        return false;
    }
}

} // namespace

bool usesOurSqlite(const QSqlDatabase &database)
{
    const QSqlDriver *driver = database.driver();
    return driver && driver->dbmsType() == QSqlDriver::SQLite && pluginSharesOurSqlite(driver);
}

bool refuseDoubleQuotedStrings(const QSqlDatabase &database)
{
    if (!usesOurSqlite(database))
        return false;
    const QVariant handle = database.driver()->handle();
    if (qstrcmp(handle.typeName(), "sqlite3*") != 0)
        return false;
    sqlite3 *connection = *static_cast<sqlite3 *const *>(handle.constData());
    return connection && sqlite3_db_config(connection, SQLITE_DBCONFIG_DQS_DML, 0, nullptr) == SQLITE_OK;
}

SqliteStatement::SqliteStatement(const QSqlDatabase &database)
    : m_owner(database)
{
}

bool SqliteStatement::prepare(const QString &sql)
{
    m_statement = nullptr;
    m_step = Step::Ready;
    m_error = QSqlError();
    if (!m_owner.prepare(sql)) {   // Qt's own checks and messages (one statement, syntax)
        m_error = m_owner.lastError();
        return false;
    }
    const QVariant handle = m_owner.result() ? m_owner.result()->handle() : QVariant();
    if (qstrcmp(handle.typeName(), "sqlite3_stmt*") == 0)
        m_statement = *static_cast<sqlite3_stmt *const *>(handle.constData());
    if (!m_statement)
        return failUsage(QStringLiteral("no statement in \"%1\"").arg(sql));
    m_connection = sqlite3_db_handle(m_statement);
    const int count = sqlite3_bind_parameter_count(m_statement);
    m_placeholders.clear();
    m_placeholders.reserve(size_t(count));
    for (int i = 1; i <= count; ++i) {
        const char *name = sqlite3_bind_parameter_name(m_statement, i);
        m_placeholders.push_back(name ? QString::fromUtf8(name) : QString());
    }
    m_bound.assign(size_t(count), false);
    m_bindFailure.clear();
    return true;
}

void SqliteStatement::reuse()
{
    finish();
    m_bound.assign(m_bound.size(), false);
    m_bindFailure.clear();
}

void SqliteStatement::bind(const QString &placeholder, const QVariant &value)
{
    if (!m_statement)
        return;
    if (m_step != Step::Ready)
        finish();   // SQLite binds only to a reset statement
    const int index = parameterIndex(placeholder);
    if (index == 0) {
        m_bindFailure = QStringLiteral("cannot bind %1: the statement has no such placeholder").arg(placeholder);
        return;
    }
    int rc = SQLITE_OK;
    if (isNullValue(value)) {
        rc = sqlite3_bind_null(m_statement, index);
    } else {
        switch (value.typeId()) {
        case QMetaType::Bool:
        case QMetaType::Int:
        case QMetaType::UInt:
        case QMetaType::Long:
        case QMetaType::ULong:
        case QMetaType::LongLong:
        case QMetaType::ULongLong:
        case QMetaType::Short:
        case QMetaType::UShort:
            rc = sqlite3_bind_int64(m_statement, index, value.toLongLong());
            break;
        case QMetaType::Double:
        case QMetaType::Float:
            rc = sqlite3_bind_double(m_statement, index, value.toDouble());
            break;
        case QMetaType::QByteArray: {
            const QByteArray bytes = value.toByteArray();
            rc = sqlite3_bind_blob64(m_statement, index, bytes.constData(), sqlite3_uint64(bytes.size()),
                                     SQLITE_TRANSIENT);
            break;
        }
        default: {
            const QByteArray text = value.toString().toUtf8();
            rc = sqlite3_bind_text64(m_statement, index, text.constData(), sqlite3_uint64(text.size()),
                                     SQLITE_TRANSIENT, SQLITE_UTF8);
            break;
        }
        }
    }
    if (rc == SQLITE_OK)
        m_bound[size_t(index - 1)] = true;
    else   // a value over SQLite's length limit, say
        m_bindFailure = QStringLiteral("cannot bind %1: %2").arg(placeholder, QString::fromUtf8(sqlite3_errstr(rc)));
}

int SqliteStatement::parameterIndex(const QString &placeholder) const
{
    for (size_t i = 0; i < m_placeholders.size(); ++i) {
        if (m_placeholders[i] == placeholder)
            return int(i + 1);
    }
    return 0;
}

bool SqliteStatement::exec()
{
    m_error = QSqlError();
    if (!m_statement)
        return failUsage(QStringLiteral("no statement prepared"));
    if (m_step != Step::Ready)
        finish();
    if (!m_bindFailure.isEmpty())
        return failUsage(m_bindFailure);
    for (size_t i = 0; i < m_bound.size(); ++i) {
        if (!m_bound[i]) {
            const QString &name = m_placeholders[i];
            return failUsage(QStringLiteral("placeholder %1 is not bound").arg(name.isNull() ? QStringLiteral("?") : name));
        }
    }
    if (!step())
        return false;
    if (m_step == Step::OnRow)
        m_step = Step::FirstRowWaiting;   // next() hands it out, as QSqlQuery does
    m_rowsAffected = sqlite3_changes(m_connection);
    return true;
}

bool SqliteStatement::exec(const QString &sql)
{
    return prepare(sql) && exec();
}

bool SqliteStatement::next()
{
    switch (m_step) {
    case Step::FirstRowWaiting:
        m_step = Step::OnRow;
        return true;
    case Step::OnRow:
        return step() && m_step == Step::OnRow;
    case Step::Ready:
    case Step::Done:
        return false;
    }
    return false;
}

QVariant SqliteStatement::value(int index) const
{
    if (m_step != Step::OnRow || index < 0 || index >= sqlite3_column_count(m_statement))
        return QVariant();
    switch (sqlite3_column_type(m_statement, index)) {
    case SQLITE_INTEGER:
        return qlonglong(sqlite3_column_int64(m_statement, index));
    case SQLITE_FLOAT:
        return sqlite3_column_double(m_statement, index);
    case SQLITE_TEXT: {
        const auto *text = reinterpret_cast<const char *>(sqlite3_column_text(m_statement, index));
        return QString::fromUtf8(text, sqlite3_column_bytes(m_statement, index));
    }
    case SQLITE_BLOB: {
        const auto *bytes = static_cast<const char *>(sqlite3_column_blob(m_statement, index));
        return QByteArray(bytes, sqlite3_column_bytes(m_statement, index));
    }
    default:
        return QVariant();
    }
}

void SqliteStatement::finish()
{
    // A reset ends the statement's read of the database (the WAL snapshot) at once.
    if (m_statement && m_step != Step::Ready)
        sqlite3_reset(m_statement);
    m_step = Step::Ready;
}

bool SqliteStatement::step()
{
    const int rc = sqlite3_step(m_statement);
    if (rc == SQLITE_ROW) {
        m_step = Step::OnRow;
        return true;
    }
    if (rc == SQLITE_DONE) {
        m_step = Step::Done;
        return true;
    }
    return failFromSqlite(QStringLiteral("Unable to fetch row"));
}

bool SqliteStatement::failFromSqlite(const QString &what)
{
    // Read before the reset: the connection's message and extended code describe the step.
    m_error = QSqlError(what, QString::fromUtf8(sqlite3_errmsg(m_connection)), QSqlError::StatementError,
                        QString::number(sqlite3_extended_errcode(m_connection)));
    if (m_statement)
        sqlite3_reset(m_statement);
    m_step = Step::Ready;
    return false;
}

bool SqliteStatement::failUsage(const QString &message)
{
    m_error = QSqlError(message, QString(), QSqlError::StatementError);
    finish();
    return false;
}

} // namespace Kernia::Server::SqlDetail
