// Moves SQLite's write-ahead log into the database file on a thread of its own.
//
// SQLite's default is to checkpoint inside whichever commit pushes the log past 1000 pages:
// that writer then copies and syncs megabytes while every other writer waits behind it
// (the commit takes milliseconds instead of microseconds). SqlStore turns that off on its
// connections (wal_autocheckpoint=0) and checkpoints here every interval instead.
//
// A checkpoint alone does not bound the log: SQLite rewinds it to the start only when a
// writer finds every frame already copied back, and under steady writes a PASSIVE
// checkpoint is always behind by the frames committed while it ran (the log then grows
// by gigabytes). So each round copies the bulk without blocking anyone, then copies the
// small remainder while holding the writer lock (writer_lock.h: this process's writers
// and those of other Kernia processes on the file); the next commit rewinds the log.
// Readers never wait; writers wait only for that remainder.
#pragma once

#include <QMutex>
#include <QString>
#include <QWaitCondition>
#include <QAtomicInt>

#include <memory>

class QThread;

namespace Kernia::Server {

class WriterLock;

class WalCheckpointer
{
public:
    // Checkpoints the SQLite file every intervalMs, on its own thread and connection, until
    // destroyed. writerTurn is the lock writers hold around a write transaction.
    // Failures are logged once per kind and retried next round.
    WalCheckpointer(const QString &databasePath, int intervalMs, WriterLock &writerTurn);
    ~WalCheckpointer();   // wakes the thread, waits for it
    WalCheckpointer(const WalCheckpointer &) = delete;
    WalCheckpointer &operator=(const WalCheckpointer &) = delete;

    // Rounds that ended with a pass under the writer turn, so far (each lets the next
    // commit of any process rewind the log).
    int lockedRounds() const { return m_lockedRounds.loadRelaxed(); }

private:
    void run();

    const QString m_databasePath;
    const int m_intervalMs;
    WriterLock &m_writerTurn;
    QMutex m_mutex;
    QWaitCondition m_wake;
    bool m_stopping = false;
    QAtomicInt m_lockedRounds;
    std::unique_ptr<QThread> m_thread;
};

} // namespace Kernia::Server
