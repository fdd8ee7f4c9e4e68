#include "after_commit.h"

#include <QLoggingCategory>

#include <exception>
#include <iterator>

namespace {
Q_LOGGING_CATEGORY(lcAfterCommit, "kernia.store")
}

namespace Kernia::Server {

void AfterCommitQueue::moveTo(AfterCommitQueue &outer)
{
    outer.m_callbacks.insert(outer.m_callbacks.end(), std::make_move_iterator(m_callbacks.begin()),
                             std::make_move_iterator(m_callbacks.end()));
    m_callbacks.clear();
}

void AfterCommitQueue::run()
{
    // Taken out first: a callback may start a transaction of its own, or queue again.
    const std::vector<std::function<void()>> callbacks = std::move(m_callbacks);
    m_callbacks.clear();
    for (const std::function<void()> &callback : callbacks)
        runOne(callback);
}

void AfterCommitQueue::runOne(const std::function<void()> &callback)
{
    try {
        callback();
    } catch (const std::exception &e) {
        qCWarning(lcAfterCommit, "a callback after a commit failed: %s", e.what());
    } catch (...) {
        qCWarning(lcAfterCommit, "a callback after a commit failed");
    }
}

} // namespace Kernia::Server
