#include "wal_checkpointer.h"

#include <QDeadlineTimer>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QThread>

namespace Kernia::Server {

WalCheckpointer::WalCheckpointer(const QString &databasePath, int intervalMs)
    : m_databasePath(databasePath), m_intervalMs(intervalMs)
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

void WalCheckpointer::run()
{
    const QString name = QStringLiteral("kernia-wal-checkpoint-%1").arg(quintptr(this));
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name);
        db.setDatabaseName(m_databasePath);
        if (!db.open())
            qWarning("SqlStore: WAL checkpoints are off: %s", qPrintable(db.lastError().text()));
        QString lastFailure;
        QMutexLocker locker(&m_mutex);
        while (!m_stopping && db.isOpen()) {
            m_wake.wait(&m_mutex, QDeadlineTimer(m_intervalMs));
            locker.unlock();
            QSqlQuery q(db);
            if (!q.exec(QStringLiteral("PRAGMA wal_checkpoint(PASSIVE)"))) {
                const QString failure = q.lastError().text();
                if (failure != lastFailure)   // the log only grows meanwhile
                    qWarning("SqlStore: WAL checkpoint failed: %s", qPrintable(failure));
                lastFailure = failure;
            }
            q.finish();
            locker.relock();
        }
        db.close();
    }
    QSqlDatabase::removeDatabase(name);
}

} // namespace Kernia::Server
