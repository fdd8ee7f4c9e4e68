// Group commit: write transactions that arrive while another is committing wait in a
// queue; the first in line then runs all of them, one after the other, in ONE database
// transaction on its own thread and connection, while the others sleep. One commit
// instead of many means the write-ahead log gets the pages the batch shares (table ends,
// index ends) once, and the commit's fixed costs are paid once.
//
//     CommitQueue queue;
//     queue.run(work, [&](const QList<CommitQueue::Job *> &batch) {
//         BEGIN; for (job : batch) { SAVEPOINT; run job->work, or store the exception
//         in job->error and ROLLBACK TO; RELEASE; } COMMIT   (failure: job->error for all)
//     });   // returns once `work` is committed; rethrows its exception
//
// A job runs on whichever thread leads its batch; it must not depend on which thread
// that is. Jobs are taken in arrival order, at most kMaxBatch at a time.
#pragma once

#include <QList>
#include <QMutex>
#include <QWaitCondition>

#include <deque>
#include <exception>
#include <functional>

namespace Kernia::Server {

class CommitQueue
{
public:
    static constexpr int kMaxBatch = 64;

    struct Job
    {
        const std::function<void()> *work = nullptr;
        std::exception_ptr error;   // set by the batch runner when this job failed
        bool done = false;
        QWaitCondition wake;        // its caller sleeps here: woken when done or first in line
    };
    // Runs a batch; must set job->error for every job that did not commit, and not throw.
    using BatchRunner = std::function<void(const QList<Job *> &batch)>;

    // Blocks until `work` has run in a batch (this thread's or another's) that ended;
    // rethrows the exception it failed with.
    void run(const std::function<void()> &work, const BatchRunner &runBatch);

private:
    QMutex m_mutex;
    std::deque<Job *> m_waiting;   // front: the batch being run, then those after it
};

} // namespace Kernia::Server
