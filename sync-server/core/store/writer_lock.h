// The right to write one SQLite file, for this process's threads and for every other
// Kernia process on the file.
//
// Inside a process, writers take turns on a mutex: the next one wakes the moment the last
// one commits, instead of sleeping 1–100 ms in SQLite's busy handler. Across processes,
// the holder also keeps an exclusive flock() on "<database>-writer.lock" beside the file:
// a writer of another process waits in the kernel, not in SQLite's polling busy handler,
// which a process that writes without pause would never let in. The WAL checkpointer
// takes the same lock to copy the last frames, so the log is rewound even while several
// processes write (wal_checkpointer.h).
//
// Lock order: this lock, then SQLite's write lock (BEGIN IMMEDIATE). Processes that do not
// use it (the sqlite3 shell) still meet SQLite's busy timeout.
#pragma once

#include <QMutex>
#include <QString>

namespace Kernia::Server {

class WriterLock
{
public:
    // Opens (creating if needed) the lock file beside databasePath. If that fails, it
    // logs why and serialises only this process's writers.
    explicit WriterLock(const QString &databasePath);
    ~WriterLock();
    WriterLock(const WriterLock &) = delete;
    WriterLock &operator=(const WriterLock &) = delete;

    void lock();     // blocks until this thread may write
    void unlock();

    bool coversOtherProcesses() const { return m_fd >= 0; }
    static QString lockFilePath(const QString &databasePath);

private:
    QMutex m_turn;
    int m_fd = -1;
};

} // namespace Kernia::Server
