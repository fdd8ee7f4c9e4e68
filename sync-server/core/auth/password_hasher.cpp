#include "password_hasher.h"

#include <QSemaphoreReleaser>

namespace Kernia::Server {

PasswordHasher::PasswordHasher(ScryptParams params, int maxConcurrent)
    : m_params(params), m_slots(qMax(1, maxConcurrent))
{
}

QString PasswordHasher::hash(const QString &password)
{
    m_slots.acquire();
    QSemaphoreReleaser release(m_slots);
    return hashPassword(password, m_params);
}

bool PasswordHasher::verify(const QString &storedHash, const QString &password)
{
    m_slots.acquire();
    QSemaphoreReleaser release(m_slots);
    return verifyPassword(storedHash, password, m_params);
}

void PasswordHasher::spendVerificationTime(const QString &password)
{
    hash(password);
}

} // namespace Kernia::Server
