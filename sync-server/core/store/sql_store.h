// Store over Qt Sql. SQLite today; written so a PostgreSQL factory can be added through
// the same class (all dialect differences live in SqlDialect).
//
//   QString error;
//   std::unique_ptr<SqlStore> store = SqlStore::openSqlite("data/kernia.db", &error);
//   if (!store)
//       qFatal("%s", qPrintable(error));
//   store->migrate();
//   store->transaction([&] {
//       if (!store->userByEmail(email))
//           store->createUser(user);
//   });
//
// Threading: every method may be called from any thread. Each thread gets its own
// connection (opened on first use, with WAL, synchronous=NORMAL, foreign_keys=ON and a
// busy timeout); it is closed when that thread ends or when the store is destroyed,
// whichever comes first. Do not destroy the store while another thread is inside one of
// its methods.
//
// Errors: every database failure throws StoreError carrying the driver's message;
// UNIQUE violations set StoreError::isUniqueViolation().
#pragma once

#include "sql_dialect.h"
#include "store.h"

#include <QString>
#include <QStringList>
#include <memory>

class QSqlDatabase;

namespace Kernia::Server {

class SqlStore final : public Store
{
public:
    static constexpr int kDefaultBusyTimeoutMs = 5000;

    // Creates the parent directory if needed, opens (or creates) the SQLite file and sets
    // the pragmas on this thread's connection. On failure returns nullptr and, when
    // errorMessage is given, a message naming the path and the cause. Does not migrate.
    static std::unique_ptr<SqlStore> openSqlite(const QString &filePath, QString *errorMessage,
                                                int busyTimeoutMs = kDefaultBusyTimeoutMs);

    ~SqlStore() override;
    SqlStore(const SqlStore &) = delete;
    SqlStore &operator=(const SqlStore &) = delete;

    const SqlDialect &dialect() const;
    // Ids of the migrations recorded in kernia_migrations, in id order.
    QStringList appliedMigrations();

    // Store
    void migrate() override;
    // Top level: BEGIN IMMEDIATE (SQLite) ... COMMIT, ROLLBACK + rethrow on exception.
    // Nested on the same thread: joins the outer transaction through a SAVEPOINT, so an
    // exception that escapes the inner call undoes only the inner work (and, unless the
    // caller catches it, the outer transaction rolls back too).
    void transaction(const std::function<void()> &work) override;

    void createUser(const User &user) override;
    std::optional<User> userById(const QString &id) override;
    std::optional<User> userByEmail(const QString &lowerCaseEmail) override;
    std::optional<User> userByUsername(const QString &normalisedUsername) override;
    void updateUser(const User &user) override;
    void deleteUser(const QString &id) override;

    void createAccount(const Account &account) override;
    QList<Account> accountsByUser(const QString &userId) override;
    void updateAccount(const Account &account) override;

    void createSession(const Session &session) override;
    std::optional<Session> sessionByToken(const QString &token) override;
    QList<Session> sessionsByUser(const QString &userId) override;
    void updateSession(const Session &session) override;
    void deleteSessionByToken(const QString &token) override;
    void deleteSessionsByUser(const QString &userId) override;
    void deleteSessionsByUserExcept(const QString &userId, const QString &keepToken) override;

    void createVerification(const Verification &verification) override;
    // With several rows for one identifier, the newest (createdAt, then insertion) wins.
    std::optional<Verification> verificationByIdentifier(const QString &identifier) override;
    // Deletes exactly that newest row and returns it (one DELETE ... RETURNING).
    std::optional<Verification> consumeVerification(const QString &identifier) override;

    // Binds only the :name placeholders found in `sql` outside string literals, quoted
    // identifiers and comments (a leading ':' in a map key is optional). A placeholder with
    // no value in the map is an error. QDateTime values are bound as ms since epoch, like
    // every stored timestamp.
    void execTemplate(const QString &sql, const QVariantMap &namedBinds) override;

    // The :name placeholders execTemplate would bind, in order of first appearance.
    static QStringList templatePlaceholders(const QString &sql);

private:
    struct Config;
    struct Shared;
    struct ThreadState;
    class ThreadRegistry;

    explicit SqlStore(std::unique_ptr<Config> config);
    ThreadState &threadState();     // this thread's state, connection opened on demand
    QSqlDatabase connection();      // this thread's connection

    std::unique_ptr<Config> m_config;
    std::shared_ptr<Shared> m_shared;
};

} // namespace Kernia::Server
