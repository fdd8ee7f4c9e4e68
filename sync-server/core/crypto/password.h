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

#include <QString>
#include <QtGlobal>

namespace Kernia::Server {

struct ScryptParams
{
    quint64 n = 16384;
    quint32 r = 16;
    quint32 p = 1;
    int keyLength = 64;
};

// Empty string only for parameters scrypt refuses (n not a power of two, r or p zero, no
// key length) or that would take more than 1 GiB per hash.
QString hashPassword(const QString &password, const ScryptParams &params = {});

// False for a wrong password and for a malformed stored hash (no error is raised).
bool verifyPassword(const QString &storedHash, const QString &password,
                    const ScryptParams &params = {});

} // namespace Kernia::Server
