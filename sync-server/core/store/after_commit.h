// The callbacks Store::afterCommit queued in one transaction scope of SqlStore. The
// outermost transaction() runs them once it has committed; a nested one hands them to the
// scope around it when it ends without an exception. A scope that throws drops them, and
// every attempt of a scope starts with an empty queue (PostgreSQL runs `work` again after
// a serialization failure; a failed group commit runs its batch again).
//
//   AfterCommitQueue queued;
//   runTransaction([&] { queued.clear(); work(); });   // work queues with add()
//   queued.run();                                      // committed: each callback once
#pragma once

#include <functional>
#include <vector>

namespace Kernia::Server {

class AfterCommitQueue
{
public:
    void add(std::function<void()> callback) { m_callbacks.push_back(std::move(callback)); }
    void clear() { m_callbacks.clear(); }
    // Appends these callbacks to `outer`'s, after the ones it holds, and empties this queue.
    void moveTo(AfterCommitQueue &outer);
    // Runs the callbacks in the order they were queued and empties the queue.
    void run();
    // Runs one callback. An exception it throws is logged (kernia.store) and goes no
    // further: the transaction has committed, so its caller must not see a failure.
    static void runOne(const std::function<void()> &callback);

private:
    std::vector<std::function<void()>> m_callbacks;
};

} // namespace Kernia::Server
