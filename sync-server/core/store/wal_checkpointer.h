// Moves SQLite's write-ahead log into the database file on a thread of its own.
//
// SQLite's default is to checkpoint inside whichever commit pushes the log past 1000 pages:
// that writer then copies and syncs megabytes while every other writer waits behind it
// (the commit takes milliseconds instead of microseconds). SqlStore turns that off on its
// connections (wal_autocheckpoint=0) and runs a PASSIVE checkpoint here every interval
// instead; PASSIVE never blocks readers or writers.
#pragma once

#include <QMutex>
#include <QString>
#include <QWaitCondition>
#include <memory>

class QThread;

namespace Kernia::Server {

class WalCheckpointer
{
public:
    // Checkpoints the SQLite file every intervalMs, on its own thread and connection, until
    // destroyed. Failures are logged once per kind and retried next round.
    WalCheckpointer(const QString &databasePath, int intervalMs);
    ~WalCheckpointer();   // wakes the thread, waits for it
    WalCheckpointer(const WalCheckpointer &) = delete;
    WalCheckpointer &operator=(const WalCheckpointer &) = delete;

private:
    void run();

    const QString m_databasePath;
    const int m_intervalMs;
    QMutex m_mutex;
    QWaitCondition m_wake;
    bool m_stopping = false;
    std::unique_ptr<QThread> m_thread;
};

} // namespace Kernia::Server
