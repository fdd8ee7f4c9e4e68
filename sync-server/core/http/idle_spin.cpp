#include "idle_spin.h"

namespace Kernia::Server {

bool IdleSpin::tryClaim()
{
    if (!enabled() || requestsInProgress() > 0)
        return false;
    bool expected = false;
    return m_claimed.compare_exchange_strong(expected, true, std::memory_order_acquire);
}

bool IdleSpin::keepSpinning(qint64 nanosecondsSinceLastAnswer) const
{
    return nanosecondsSinceLastAnswer < m_windowNs && requestsInProgress() == 0;
}

void IdleSpin::release()
{
    m_claimed.store(false, std::memory_order_release);
}

} // namespace Kernia::Server
