// Small crypto primitives over OpenSSL 3 (EVP only).
//
//     using namespace Kernia::Server;
//     QByteArray mac = Crypto::hmacSha256(secret, value);            // 32 raw bytes
//     if (Crypto::constantTimeEquals(mac, received)) { ... }
//     QString token = Crypto::randomId();                             // 32 x [A-Za-z0-9]
//     user.id = Crypto::sortableId();                                 // same shape, time-ordered
//
// All functions are thread-safe. Byte results are raw (not hex/base64).
#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QString>
#include <QStringView>

namespace Kernia::Server::Crypto {

// HMAC-SHA256; 32 bytes, or empty if OpenSSL failed (never equal to a real MAC).
QByteArray hmacSha256(QByteArrayView key, QByteArrayView message);

// SHA-256; 32 bytes, or empty if OpenSSL failed.
QByteArray sha256(QByteArrayView data);

// Compares in time independent of the content; false when the lengths differ.
bool constantTimeEquals(QByteArrayView a, QByteArrayView b);

// Cryptographically secure random bytes. Aborts (qFatal) if the CSPRNG fails: handing out
// predictable tokens would be worse than stopping. count <= 0 gives an empty array.
QByteArray randomBytes(int count);

// `length` characters drawn uniformly from `alphabet` (rejection sampling, no modulo
// bias). The alphabet is a list of UTF-16 code units; empty alphabet -> empty string.
QString randomString(int length, QStringView alphabet);

// 32 characters from [A-Za-z0-9]: the shape of Better Auth ids and session tokens.
QString randomId();

// A row id of the same shape, in creation order: 9 base-36 characters of the Unix time in
// milliseconds, then 23 random ones (137 bits). New rows then land at the end of the
// primary-key index (and of indexes on columns holding ids) instead of on a random page,
// which takes most page writes out of a sign-in. It reveals when the row was made, as its
// createdAt does anyway. Never for secrets: use randomId().
QString sortableId();

} // namespace Kernia::Server::Crypto
