#include "http_adapter.h"

#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QTcpServer>

#include <fcntl.h>

namespace Kernia::Server {

HttpAdapter::HttpAdapter(int requestThreads, int passwordThreads, int idleSpinMicroseconds, QObject *parent)
    : QObject(parent), m_idleSpin(idleSpinMicroseconds), m_requestThreads(qMax(1, requestThreads))
{
    m_shared.idleSpin = &m_idleSpin;
    m_passwordWorkers.setMaxThreadCount(qMax(1, passwordThreads));
    m_shared.passwordWorkers = &m_passwordWorkers;
    m_mailWorkers.setMaxThreadCount(kMailThreads);
    m_shared.mailWorkers = &m_mailWorkers;
}

HttpAdapter::~HttpAdapter() = default;   // each loop stops its thread

quint16 HttpAdapter::listen(const QHostAddress &address, quint16 port)
{
    // QTcpServer makes the socket (address family, SO_REUSEADDR, non-blocking); each loop
    // then listens on a duplicate of it and the kernel hands every new connection to one
    // of the loops waiting in accept(). Closing the original leaves the duplicates open.
    QTcpServer socketMaker;
    if (!socketMaker.listen(address, port))
        return 0;
    const quint16 bound = socketMaker.serverPort();
    for (int i = 0; i < m_requestThreads; ++i) {
        const int duplicate = ::fcntl(int(socketMaker.socketDescriptor()), F_DUPFD_CLOEXEC, 0);
        if (duplicate < 0)
            return 0;
        auto loop = std::make_unique<RequestLoop>(i, duplicate, m_shared);
        if (!loop->isServing())
            return 0;
        m_loops.push_back(std::move(loop));
    }
    socketMaker.close();
    return bound;
}

int HttpAdapter::requestsInFlight() const
{
    return m_idleSpin.requestsInProgress();   // every loop counts its requests there
}

void HttpAdapter::shutdown(int timeoutMs, std::function<void(bool drained)> done)
{
    for (const auto &loop : m_loops)
        loop->beginDrain();
    QElapsedTimer elapsed;
    elapsed.start();
    m_drainTimer.setInterval(10);
    connect(&m_drainTimer, &QTimer::timeout, this, [this, elapsed, timeoutMs, done = std::move(done)] {
        bool drained = true;
        for (const auto &loop : m_loops)
            drained = drained && loop->drained();
        if (drained || elapsed.hasExpired(timeoutMs)) {
            m_drainTimer.stop();
            done(drained);
        }
    });
    m_drainTimer.start();
}

bool HttpAdapter::waitForWorkers(int timeoutMs)
{
    const QDeadlineTimer deadline(timeoutMs);
    // Pool jobs first: they post their responses to the loops.
    for (QThreadPool *pool : {&m_passwordWorkers, &m_mailWorkers}) {
        if (!pool->waitForDone(int(qMax<qint64>(0, deadline.remainingTime()))))
            return false;
    }
    for (const auto &loop : m_loops) {
        if (!loop->waitForStop(deadline))
            return false;
    }
    return true;
}

} // namespace Kernia::Server
