// Kernia SDK internal: exponential backoff with jitter. Not API.
#pragma once

#include <QtCore/QRandomGenerator>
#include <QtCore/QtGlobal>

namespace Kernia {

class Backoff
{
public:
    Backoff(int initialMs, int maxMs) : m_initial(qMax(1, initialMs)), m_max(qMax(initialMs, maxMs)) { }

    // The delay to wait before the next attempt; doubles each call up to the cap,
    // with +/-20 % jitter so many clients do not retry in lockstep.
    int next()
    {
        const qint64 base = qMin<qint64>(qint64(m_initial) << qMin(m_attempt, 20), m_max);
        ++m_attempt;
        const qint64 jitter = base / 5;
        const qint64 delta = jitter > 0 ? qint64(QRandomGenerator::global()->bounded(quint32(2 * jitter + 1))) - jitter : 0;
        return int(qBound(qint64(1), base + delta, qint64(m_max)));
    }
    void reset() { m_attempt = 0; }
    int attempts() const { return m_attempt; }

private:
    int m_initial;
    int m_max;
    int m_attempt = 0;
};

} // namespace Kernia
