// scrypt in helper processes (kernia-scrypt-helper, scrypt_helper.h), one hash at a time each.
//
//     ScryptProcesses helpers({helperPath, 2, ScryptHelper::Priority::Idle});
//     QByteArray key = helpers.scrypt(passwordBytes, salt, params);   // blocks ~60 ms
//
// Why: on two cores, two hashes running at the server's priority double get-session's p99
// during a sign-up storm. They cannot simply run on low-priority threads: a hash maps and
// faults in 32 MiB under the process's memory-map lock, which every request thread's malloc
// also takes, so a preempted low-priority hash stalled requests for 100–360 ms. A helper has
// its own memory map, so it can run at idle priority: the cheap requests run first and the
// hashes take the CPU nobody else wants (docs/architecture.md "Threads").
//
// Nothing is lost to a helper. Helpers start with the server and are replaced when one
// fails. A hash whose helper cannot run, or does not answer within `answerTimeoutMs` (a
// helper at idle priority on a saturated machine), is computed on the calling thread at
// the server's priority, with a warning. Thread-safe; callers beyond `processes` wait.
#pragma once

#include "password.h"
#include "scrypt_helper.h"

#include <QByteArray>
#include <QMutex>
#include <QString>
#include <QWaitCondition>
#include <string>
#include <sys/types.h>
#include <vector>

namespace Kernia::Server {

class ScryptProcesses
{
public:
    struct Options
    {
        QString program;            // kernia-scrypt-helper, built and installed next to kernia-server
        int processes = 2;          // hashes at once
        ScryptHelper::Priority priority = ScryptHelper::Priority::Idle;
        int answerTimeoutMs = 2000; // ~30 hashes' time; a helper silent this long is replaced
    };

    explicit ScryptProcesses(Options options);
    ~ScryptProcesses();
    ScryptProcesses(const ScryptProcesses &) = delete;
    ScryptProcesses &operator=(const ScryptProcesses &) = delete;

    QByteArray scrypt(const QByteArray &password, const QByteArray &salt, const ScryptParams &params);

    // For tests and logs: the process ids of helpers that are running and not hashing.
    std::vector<pid_t> idleHelperPids() const;

private:
    struct Helper
    {
        int fd = -1;
        pid_t pid = -1;
        bool isRunning() const { return fd >= 0; }
    };

    Helper takeHelper();
    void returnHelper(Helper helper);
    Helper spawn() const;
    static void discard(Helper &helper);
    enum class Outcome { Answered, Failed, TimedOut };
    Outcome exchange(const Helper &helper, const std::string &request, QByteArray *key) const;

    const Options m_options;
    mutable QMutex m_mutex;
    QWaitCondition m_helperReturned;
    std::vector<Helper> m_free;   // not hashing, running or not; taken from the front, returned at the back
};

} // namespace Kernia::Server
