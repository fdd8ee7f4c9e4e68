#include "commit_queue.h"

#include <QMutexLocker>

namespace Kernia::Server {

void CommitQueue::run(const std::function<void()> &work, const BatchRunner &runBatch)
{
    Job mine;
    mine.work = &work;
    QMutexLocker locker(&m_mutex);
    m_waiting.push_back(&mine);
    // Sleep until a leader has run this job, or until it is first in line: then lead.
    while (!mine.done && m_waiting.front() != &mine)
        mine.wake.wait(&m_mutex);

    if (!mine.done) {
        QList<Job *> batch;
        for (auto it = m_waiting.begin(); it != m_waiting.end() && batch.size() < kMaxBatch; ++it)
            batch.append(*it);
        locker.unlock();
        try {
            runBatch(batch);   // the others keep arriving behind the batch meanwhile
        } catch (...) {        // a runner must not throw; if it does, no job is left hanging
            for (Job *job : std::as_const(batch)) {
                if (!job->error)
                    job->error = std::current_exception();
            }
        }
        locker.relock();
        for (Job *job : std::as_const(batch)) {
            job->done = true;
            m_waiting.pop_front();   // the batch is the front of the queue, in order
            if (job != &mine)
                job->wake.wakeOne();
        }
        if (!m_waiting.empty())
            m_waiting.front()->wake.wakeOne();   // the next in line leads; the rest sleep on
    }
    locker.unlock();
    if (mine.error)
        std::rethrow_exception(mine.error);
}

} // namespace Kernia::Server
