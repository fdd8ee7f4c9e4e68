// Kernia SDK internal: the local SQLite cache (WAL, versioned migrations, its own
// connection name). Holds the current identity and the local profiles that local data
// is attached to (tables with an owner_local_id column, e.g. the coming collections and
// outbox, are re-keyed on adopt and deleted on discard). Not API.
#pragma once

#include <Kernia/error.h>
#include <Kernia/user.h>

#include <QtCore/QDateTime>
#include <QtCore/QString>
#include <QtCore/QStringList>

#include <optional>

namespace Kernia {

struct StoredIdentity
{
    int state = 0;                  // Client::State as int
    QString localId;                // the current profile (empty when signed out)
    bool hasServerSession = false;
    QDateTime sessionExpiresAt;
};

class LocalStore
{
public:
    static constexpr const char *ProfileCurrent = "current";
    static constexpr const char *ProfileOffered = "offered";      // left by a lost session
    static constexpr const char *ProfileSignedOut = "signed_out"; // left by an explicit sign-out

    explicit LocalStore(const QString &directory);
    ~LocalStore();
    LocalStore(const LocalStore &) = delete;
    LocalStore &operator=(const LocalStore &) = delete;

    Error open();
    bool isOpen() const { return m_open; }
    QString databasePath() const;
    int schemaVersion() const;
    static int latestSchemaVersion();

    std::optional<StoredIdentity> identity() const;
    // Writes the identity and (when user is valid) the user's profile in one transaction.
    Error saveCurrent(const StoredIdentity &identity, const User &user);

    User profileUser(const QString &localId) const;
    Error setProfileStatus(const QString &localId, const QString &status);
    QStringList profiles(const QString &status) const;
    // The profile of a server user with the given status (e.g. an account signing in
    // again on this device finds the data it left at sign-out), or an empty string.
    QString profileForUser(const QString &userId, const QString &status) const;

    // Moves every owner_local_id row of `from` to `to` and drops the `from` profile.
    Error adopt(const QString &from, const QString &to);
    // Deletes a profile and every row it owns.
    Error discard(const QString &localId);

    QString meta(const QString &key) const;
    Error setMeta(const QString &key, const QString &value);

private:
    Error migrate();
    QStringList ownedTables() const;
    Error sqlError(const QString &what, const QString &detail) const;

    QString m_directory;
    QString m_connection;
    bool m_open = false;
};

} // namespace Kernia
