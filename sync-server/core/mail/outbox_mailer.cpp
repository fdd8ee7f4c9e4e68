#include "outbox_mailer.h"

#include "auth/json.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <fcntl.h>
#include <unistd.h>

namespace Kernia::Server {

OutboxMailer::OutboxMailer(QString filePath)
    : m_filePath(std::move(filePath))
{
}

bool OutboxMailer::send(const MailMessage &message, QString *error)
{
    QJsonObject entry = message.extra;
    const QJsonObject fixed{
        {QStringLiteral("kind"), message.kind},
        {QStringLiteral("email"), message.email},
        {QStringLiteral("url"), message.url},
        {QStringLiteral("token"), message.token},
        {QStringLiteral("subject"), message.subject},
        {QStringLiteral("text"), message.text},
        {QStringLiteral("sentAt"), isoTimestamp(nowUtc())},
    };
    for (auto it = fixed.constBegin(); it != fixed.constEnd(); ++it)
        entry.insert(it.key(), it.value());
    const QByteArray line = QJsonDocument(entry).toJson(QJsonDocument::Compact) + '\n';

    QMutexLocker lock(&m_mutex);
    QDir().mkpath(QFileInfo(m_filePath).absolutePath());
    QFile file(m_filePath);
    const bool created = !file.exists();
    if (!file.open(QIODevice::WriteOnly | QIODevice::Append)) {
        *error = QStringLiteral("cannot open mail outbox %1: %2").arg(m_filePath, file.errorString());
        return false;
    }
    // One write() of the whole line, then fsync: readers never see half a message and a
    // crash right after the response cannot lose it.
    if (file.write(line) != line.size() || !file.flush() || ::fsync(file.handle()) != 0) {
        *error = QStringLiteral("cannot write mail outbox %1: %2").arg(m_filePath, file.errorString());
        return false;
    }
    if (created) {
        // A new file's directory entry must reach the disk too.
        const int dir = ::open(QFile::encodeName(QFileInfo(m_filePath).absolutePath()).constData(), O_RDONLY | O_DIRECTORY);
        if (dir >= 0) {
            ::fsync(dir);
            ::close(dir);
        }
    }
    return true;
}

} // namespace Kernia::Server
