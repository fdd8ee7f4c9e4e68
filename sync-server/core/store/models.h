// Plain value types for the rows Kernia stores. Field names follow Better Auth's schema
// (shared/protocol/schema.md) so JSON output and on_link payloads line up with it.
#pragma once

#include <QByteArray>
#include <QDateTime>
#include <QString>
#include <optional>

namespace Kernia::Server {

struct User
{
    QString id;
    QString name;
    QString email;                 // always lower-case
    bool emailVerified = false;
    std::optional<QString> image;
    QDateTime createdAt;           // UTC
    QDateTime updatedAt;           // UTC
    bool isAnonymous = false;      // anonymous plugin
    std::optional<QString> username;        // username plugin, normalised (lower-case)
    std::optional<QString> displayUsername; // username plugin, as typed
};

struct Session
{
    QString id;
    QString token;                 // the raw 32-char token inside the signed cookie
    QString userId;
    QDateTime expiresAt;
    QDateTime createdAt;           // never changes: "fresh session" checks use it
    QDateTime updatedAt;
    QString ipAddress;
    QString userAgent;
};

struct Account
{
    QString id;
    QString accountId;             // for "credential": equals userId
    QString providerId;            // "credential" for passwords
    QString userId;
    std::optional<QString> password; // "<salt hex>:<scrypt key hex>", never returned over HTTP
    std::optional<QString> scope;
    QDateTime createdAt;
    QDateTime updatedAt;
};

struct Verification
{
    QString id;
    QString identifier;
    QString value;
    QDateTime expiresAt;
    QDateTime createdAt;
    QDateTime updatedAt;
};

struct Passkey
{
    QString id;
    std::optional<QString> name;   // user label
    QString publicKey;             // standard base64 of the COSE_Key bytes
    QString userId;
    QString credentialID;          // base64url, as the browser sends response.id
    qint64 counter = 0;            // signature counter
    QString deviceType;            // "singleDevice" | "multiDevice"
    bool backedUp = false;
    std::optional<QString> transports; // comma-joined, "" when none
    QDateTime createdAt;
    std::optional<QString> aaguid;
};

// One record of a user's synced data (core/sync, docs/sync-protocol.md). A deleted record
// stays as a tombstone (deleted = true, data empty) so other devices learn of the deletion.
// A user's sync counter row after Store::bumpSyncVersion.
struct SyncCounter
{
    qint64 version = 0;   // the highest version handed out
    qint64 bytes = 0;     // storage usage: UTF-8 bytes of the data of the live records
};

struct SyncRecord
{
    QString collection;
    QString recordId;
    qint64 version = 0;            // from the user's counter; unique per user
    bool deleted = false;
    QByteArray data;               // compact JSON object text; empty for a tombstone
    QDateTime updatedAt;           // UTC, when the server last wrote the record
};

// A key two users both hold (Store::sharedSyncRecords): the record of each.
struct SharedSyncRecord
{
    SyncRecord from;
    SyncRecord to;
};

// Records of one user whose key another user does not hold (Store::unsharedSyncRecordCounts).
struct UnsharedSyncRecordCounts
{
    qint64 live = 0;
    qint64 deleted = 0;            // tombstones
    qint64 total() const { return live + deleted; }
};

inline constexpr auto kCredentialProvider = "credential";

} // namespace Kernia::Server
