// scrypt hashing with bounded concurrency. Each hash takes ~60 ms and 32 MiB and does not
// scale past one core (memory-bandwidth bound), so at most `maxConcurrent` run at once; the
// callers are request worker threads, never the HTTP event loop.
#pragma once

#include "crypto/password.h"

#include <QSemaphore>

namespace Kernia::Server {

class PasswordHasher
{
public:
    // `scrypt` empty: hashes run on the calling thread.
    PasswordHasher(ScryptParams params, int maxConcurrent, ScryptFunction scrypt = {});

    QString hash(const QString &password);
    bool verify(const QString &storedHash, const QString &password);
    // Burns the same time as a verification, so unknown users are not told apart by timing.
    void spendVerificationTime(const QString &password);

private:
    ScryptParams m_params;
    ScryptFunction m_scrypt;
    QSemaphore m_slots;
};

} // namespace Kernia::Server
