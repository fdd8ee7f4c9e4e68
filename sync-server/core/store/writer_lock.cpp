#include "writer_lock.h"

#include <QFile>
#include <QLoggingCategory>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

Q_LOGGING_CATEGORY(lcWriterLock, "kernia.store")

namespace Kernia::Server {

QString WriterLock::lockFilePath(const QString &databasePath)
{
    return databasePath + QStringLiteral("-writer.lock");
}

WriterLock::WriterLock(const QString &databasePath)
{
    const QByteArray path = QFile::encodeName(lockFilePath(databasePath));
    m_fd = ::open(path.constData(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (m_fd < 0) {
        qCWarning(lcWriterLock, "cannot open %s (%s): writers of other processes on this database "
                                "are kept apart by SQLite's busy timeout only",
                  path.constData(), strerror(errno));
    }
}

WriterLock::~WriterLock()
{
    if (m_fd >= 0)
        ::close(m_fd);   // also releases the flock, should a holder be gone without unlock()
}

void WriterLock::lock()
{
    m_turn.lock();
    if (m_fd < 0)
        return;
    // One thread of this process at a time gets here (m_turn), so flock never meets its own
    // process's lock on this descriptor.
    while (::flock(m_fd, LOCK_EX) != 0) {
        if (errno == EINTR)
            continue;
        qCWarning(lcWriterLock, "flock on the writer lock failed (%s); writing without it",
                  strerror(errno));
        break;
    }
}

void WriterLock::unlock()
{
    if (m_fd >= 0)
        ::flock(m_fd, LOCK_UN);
    m_turn.unlock();
}

} // namespace Kernia::Server
