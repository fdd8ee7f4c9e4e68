#include "migrations.h"

namespace Kernia::Server {

QString migrationsTableDdl(const SqlDialect &dialect)
{
    return dialect.expandDdl(QStringLiteral(
        "CREATE TABLE IF NOT EXISTS \"kernia_migrations\" ("
        "\"id\" TEXT NOT NULL PRIMARY KEY, "
        "\"applied_at\" ${TIMESTAMP} NOT NULL)"));
}

namespace {

Migration make(const SqlDialect &dialect, const char *id, const char *plugin,
               std::initializer_list<const char *> statements)
{
    Migration m{QString::fromLatin1(id), QString::fromLatin1(plugin), {}};
    for (const char *s : statements)
        m.statements.append(dialect.expandDdl(QString::fromLatin1(s)));
    return m;
}

} // namespace

QList<Migration> schemaMigrations(const SqlDialect &d)
{
    // Column names are Better Auth's (shared/protocol/schema.md). Timestamps: BIGINT ms
    // since epoch UTC. Every reference to "user"."id" cascades on delete. ${SEQ} is empty
    // for SQLite (the statements are exactly those released before PostgreSQL support) and
    // adds the "kernia_seq" identity column on PostgreSQL, which has no rowid to list rows
    // in insertion order by.
    return {
        make(d, "0001_core", "core", {
            "CREATE TABLE \"user\" ("
            "\"id\" TEXT NOT NULL PRIMARY KEY, "
            "\"name\" TEXT NOT NULL, "
            "\"email\" TEXT NOT NULL UNIQUE, "
            "\"emailVerified\" ${BOOL} NOT NULL DEFAULT ${FALSE}, "
            "\"image\" TEXT, "
            "\"createdAt\" ${TIMESTAMP} NOT NULL, "
            "\"updatedAt\" ${TIMESTAMP} NOT NULL)",

            "CREATE TABLE \"session\" ("
            "\"id\" TEXT NOT NULL PRIMARY KEY, "
            "\"expiresAt\" ${TIMESTAMP} NOT NULL, "
            "\"token\" TEXT NOT NULL UNIQUE, "
            "\"createdAt\" ${TIMESTAMP} NOT NULL, "
            "\"updatedAt\" ${TIMESTAMP} NOT NULL, "
            "\"ipAddress\" TEXT, "
            "\"userAgent\" TEXT, "
            "\"userId\" TEXT NOT NULL REFERENCES \"user\"(\"id\") ON DELETE CASCADE${SEQ})",
            "CREATE INDEX \"session_userId_idx\" ON \"session\"(\"userId\")",

            "CREATE TABLE \"account\" ("
            "\"id\" TEXT NOT NULL PRIMARY KEY, "
            "\"accountId\" TEXT NOT NULL, "
            "\"providerId\" TEXT NOT NULL, "
            "\"userId\" TEXT NOT NULL REFERENCES \"user\"(\"id\") ON DELETE CASCADE, "
            "\"accessToken\" TEXT, "
            "\"refreshToken\" TEXT, "
            "\"idToken\" TEXT, "
            "\"accessTokenExpiresAt\" ${TIMESTAMP}, "
            "\"refreshTokenExpiresAt\" ${TIMESTAMP}, "
            "\"scope\" TEXT, "
            "\"password\" TEXT, "
            "\"createdAt\" ${TIMESTAMP} NOT NULL, "
            "\"updatedAt\" ${TIMESTAMP} NOT NULL${SEQ})",
            "CREATE INDEX \"account_userId_idx\" ON \"account\"(\"userId\")",

            "CREATE TABLE \"verification\" ("
            "\"id\" TEXT NOT NULL PRIMARY KEY, "
            "\"identifier\" TEXT NOT NULL, "
            "\"value\" TEXT NOT NULL, "
            "\"expiresAt\" ${TIMESTAMP} NOT NULL, "
            "\"createdAt\" ${TIMESTAMP} NOT NULL, "
            "\"updatedAt\" ${TIMESTAMP} NOT NULL${SEQ})",
            "CREATE INDEX \"verification_identifier_idx\" ON \"verification\"(\"identifier\")",
        }),
        make(d, "0002_anonymous", "anonymous", {
            "ALTER TABLE \"user\" ADD COLUMN \"isAnonymous\" ${BOOL} DEFAULT ${FALSE}",
        }),
        make(d, "0003_username", "username", {
            "ALTER TABLE \"user\" ADD COLUMN \"username\" TEXT",
            "ALTER TABLE \"user\" ADD COLUMN \"displayUsername\" TEXT",
            // A unique index (not a column constraint: SQLite cannot add one with ALTER);
            // violations still report "UNIQUE constraint failed: user.username" / 23505.
            "CREATE UNIQUE INDEX \"user_username_key\" ON \"user\"(\"username\")",
        }),
        make(d, "0004_passkey", "passkey", {
            "CREATE TABLE \"passkey\" ("
            "\"id\" TEXT NOT NULL PRIMARY KEY, "
            "\"name\" TEXT, "
            "\"publicKey\" TEXT NOT NULL, "
            "\"userId\" TEXT NOT NULL REFERENCES \"user\"(\"id\") ON DELETE CASCADE, "
            "\"credentialID\" TEXT NOT NULL, "
            "\"counter\" BIGINT NOT NULL DEFAULT 0, "
            "\"deviceType\" TEXT NOT NULL, "
            "\"backedUp\" ${BOOL} NOT NULL DEFAULT ${FALSE}, "
            "\"transports\" TEXT, "
            "\"createdAt\" ${TIMESTAMP}, "
            "\"aaguid\" TEXT${SEQ})",
            "CREATE INDEX \"passkey_userId_idx\" ON \"passkey\"(\"userId\")",
            "CREATE INDEX \"passkey_credentialID_idx\" ON \"passkey\"(\"credentialID\")",
        }),
        // Data sync (core/sync, docs/sync-protocol.md). "data" is compact JSON object text;
        // versions are unique per user (the index doubles as the pull cursor).
        make(d, "0005_sync", "sync", {
            "CREATE TABLE \"sync_record\" ("
            "\"userId\" TEXT NOT NULL REFERENCES \"user\"(\"id\") ON DELETE CASCADE, "
            "\"collection\" TEXT NOT NULL, "
            "\"recordId\" TEXT NOT NULL, "
            "\"version\" BIGINT NOT NULL, "
            "\"deleted\" ${BOOL} NOT NULL DEFAULT ${FALSE}, "
            "\"data\" TEXT, "
            "\"updatedAt\" ${TIMESTAMP} NOT NULL, "
            "PRIMARY KEY (\"userId\", \"collection\", \"recordId\"))",
            "CREATE UNIQUE INDEX \"sync_record_userId_version_key\" ON \"sync_record\"(\"userId\", \"version\")",

            "CREATE TABLE \"sync_user_version\" ("
            "\"userId\" TEXT NOT NULL PRIMARY KEY REFERENCES \"user\"(\"id\") ON DELETE CASCADE, "
            "\"version\" BIGINT NOT NULL)",

            "CREATE TABLE \"sync_client\" ("
            "\"userId\" TEXT NOT NULL REFERENCES \"user\"(\"id\") ON DELETE CASCADE, "
            "\"clientId\" TEXT NOT NULL, "
            "\"lastMid\" BIGINT NOT NULL, "
            "PRIMARY KEY (\"userId\", \"clientId\"))",
        }),
        // Rate limiting (core/ratelimit, docs/operations.md): Better Auth's "rateLimit" model
        // (key, count, lastRequest in ms) so every process on the database shares counters.
        make(d, "0006_rate_limit", "rate-limit", {
            "CREATE TABLE \"rateLimit\" ("
            "\"id\" TEXT NOT NULL PRIMARY KEY, "
            "\"key\" TEXT NOT NULL UNIQUE, "
            "\"count\" BIGINT NOT NULL, "
            "\"lastRequest\" BIGINT NOT NULL)",
            "CREATE INDEX \"rateLimit_lastRequest_idx\" ON \"rateLimit\"(\"lastRequest\")",
        }),
        // Most users (every guest) have no username: a partial index leaves them out, so
        // creating one no longer inserts into it. Usernames stay unique, and a lookup by
        // username still uses the index ("username" = ? implies IS NOT NULL).
        make(d, "0007_username_partial_index", "username", {
            "DROP INDEX \"user_username_key\"",
            "CREATE UNIQUE INDEX \"user_username_key\" ON \"user\"(\"username\") "
            "WHERE \"username\" IS NOT NULL",
        }),
        // The housekeeping deletes expired verification rows about once a minute
        // (Store::deleteExpiredVerifications): through this index it reads only those,
        // not every live row, while it holds the write lock.
        make(d, "0008_verification_expires_at_index", "core", {
            "CREATE INDEX \"verification_expiresAt_idx\" ON \"verification\"(\"expiresAt\")",
        }),
        // Per-user storage quota (SyncOptions::maxUserBytes): the counter row every push
        // already locks also holds the user's usage, the UTF-8 bytes of the data of its
        // live records (tombstones have NULL data). Existing users' usage is counted here.
        make(d, "0009_sync_user_bytes", "sync", {
            "ALTER TABLE \"sync_user_version\" ADD COLUMN \"bytes\" BIGINT NOT NULL DEFAULT 0",
            "UPDATE \"sync_user_version\" SET \"bytes\" = (SELECT COALESCE(SUM(${DATA_BYTES}), 0) "
            "FROM \"sync_record\" WHERE \"sync_record\".\"userId\" = \"sync_user_version\".\"userId\")",
        }),
    };
}

} // namespace Kernia::Server
