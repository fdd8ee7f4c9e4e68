// Password hashes in Better Auth's stored format, so a database exported from Better Auth
// keeps working (protocol README §6).
//
//     QString stored = hashPassword(QStringLiteral("hunter2 hunter2"));   // "<32 hex salt>:<128 hex key>"
//     bool ok = verifyPassword(stored, candidate);
//
// Format: "<salt>:<key>". salt = 16 random bytes as lowercase hex; key = scrypt(password
// NFKC-normalised as UTF-8, salt = the UTF-8 bytes of the hex salt *string*, N, r, p,
// keyLength) as lowercase hex.
//
// One hash with the default parameters costs ~60 ms (libsodium's scrypt) and 32 MiB and
// does not scale across cores: call these off the HTTP thread.
#pragma once

#include "scrypt_kdf.h"

#include <QByteArray>
#include <QString>
#include <QtGlobal>

#include <functional>

namespace Kernia::Server {

// scrypt(password bytes, salt bytes) → key, or empty for parameters it refuses. The server
// runs it in helper processes (scrypt_processes.h); empty = scryptKey on this thread.
using ScryptFunction = std::function<QByteArray(const QByteArray &password, const QByteArray &salt,
                                                const ScryptParams &params)>;

// scryptKdf (scrypt_kdf.h) on the calling thread: empty for parameters it refuses.
QByteArray scryptKey(const QByteArray &password, const QByteArray &salt, const ScryptParams &params);

// Empty string only for parameters scrypt refuses (n not a power of two, r or p zero, no
// key length) or that would take more than 1 GiB per hash.
QString hashPassword(const QString &password, const ScryptParams &params = {},
                     const ScryptFunction &scrypt = {});

// False for a wrong password and for a malformed stored hash (no error is raised).
bool verifyPassword(const QString &storedHash, const QString &password,
                    const ScryptParams &params = {}, const ScryptFunction &scrypt = {});

} // namespace Kernia::Server
