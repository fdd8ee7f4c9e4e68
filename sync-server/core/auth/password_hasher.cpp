#include "password_hasher.h"

#include <QSemaphoreReleaser>

namespace Kernia::Server {

PasswordHasher::PasswordHasher(ScryptParams params, int maxConcurrent, ScryptFunction scrypt)
    : m_params(params), m_scrypt(std::move(scrypt)), m_slots(qMax(1, maxConcurrent))
{
}

QString PasswordHasher::hash(const QString &password)
{
    m_slots.acquire();
    QSemaphoreReleaser release(m_slots);
    return hashPassword(password, m_params, m_scrypt);
}

bool PasswordHasher::verify(const QString &storedHash, const QString &password)
{
    m_slots.acquire();
    QSemaphoreReleaser release(m_slots);
    return verifyPassword(storedHash, password, m_params, m_scrypt);
}

void PasswordHasher::spendVerificationTime(const QString &password)
{
    hash(password);
}

} // namespace Kernia::Server
