#include "wal_checkpointer.h"

#include "writer_lock.h"

#include <QDeadlineTimer>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QThread>

#include <mutex>

namespace Kernia::Server {

WalCheckpointer::WalCheckpointer(const QString &databasePath, int intervalMs, WriterLock &writerTurn)
    : m_databasePath(databasePath), m_intervalMs(intervalMs), m_writerTurn(writerTurn)
{
    m_thread.reset(QThread::create([this] { run(); }));
    m_thread->setObjectName(QStringLiteral("kernia-wal-checkpoint"));
    m_thread->start(QThread::LowPriority);
}

WalCheckpointer::~WalCheckpointer()
{
    {
        QMutexLocker locker(&m_mutex);
        m_stopping = true;
        m_wake.wakeAll();
    }
    m_thread->wait();
}

namespace {

// A pass may leave this many frames (committed while it ran) for the locked pass.
constexpr int kSmallRemainderFrames = 2000;
constexpr int kMaxUnlockedPasses = 4;

struct Progress
{
    bool ok = false;
    int logFrames = 0;      // frames in the log
    int copiedFrames = 0;   // of those, frames now in the database file
};

} // namespace

void WalCheckpointer::run()
{
    const QString name = QStringLiteral("kernia-wal-checkpoint-%1").arg(quintptr(this));
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name);
        db.setDatabaseName(m_databasePath);
        if (!db.open())
            qWarning("SqlStore: WAL checkpoints are off: %s", qPrintable(db.lastError().text()));
        QString lastFailure;
        const auto checkpoint = [&db, &lastFailure] {
            Progress progress;
            QSqlQuery q(db);
            if (!q.exec(QStringLiteral("PRAGMA wal_checkpoint(PASSIVE)")) || !q.next()) {
                const QString failure = q.lastError().text();
                if (failure != lastFailure)   // the log only grows meanwhile
                    qWarning("SqlStore: WAL checkpoint failed: %s", qPrintable(failure));
                lastFailure = failure;
                return progress;
            }
            lastFailure.clear();
            progress.ok = true;
            progress.logFrames = q.value(1).toInt();   // columns: busy, log, checkpointed
            progress.copiedFrames = q.value(2).toInt();
            return progress;
        };
        QMutexLocker locker(&m_mutex);
        while (!m_stopping && db.isOpen()) {
            m_wake.wait(&m_mutex, QDeadlineTimer(m_intervalMs));
            locker.unlock();
            // Catch up without blocking anyone: each pass copies what the last one left,
            // and that shrinks as long as copying outpaces committing.
            Progress done;
            for (int pass = 0; pass < kMaxUnlockedPasses; ++pass) {
                const Progress now = checkpoint();
                const bool caughtUp = now.logFrames - done.copiedFrames <= kSmallRemainderFrames;
                done = now;
                if (!now.ok || caughtUp)
                    break;
            }
            if (done.ok && done.logFrames > 0) {
                // The rest, with no writer of any Kernia process appending: the next commit
                // finds every frame copied and rewinds the log.
                const std::lock_guard<WriterLock> turn(m_writerTurn);
                if (checkpoint().ok)
                    m_lockedRounds.fetchAndAddRelaxed(1);
            }
            locker.relock();
        }
        db.close();
    }
    QSqlDatabase::removeDatabase(name);
}

} // namespace Kernia::Server
