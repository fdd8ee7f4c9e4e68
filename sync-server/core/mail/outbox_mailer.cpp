#include "outbox_mailer.h"

#include "auth/json.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <unistd.h>

namespace Kernia::Server {

OutboxMailer::OutboxMailer(QString filePath)
    : m_filePath(std::move(filePath))
{
}

bool OutboxMailer::send(const MailMessage &message, QString *error)
{
    const QByteArray line = QJsonDocument(QJsonObject{
        {QStringLiteral("kind"), message.kind},
        {QStringLiteral("email"), message.email},
        {QStringLiteral("url"), message.url},
        {QStringLiteral("token"), message.token},
        {QStringLiteral("subject"), message.subject},
        {QStringLiteral("text"), message.text},
        {QStringLiteral("sentAt"), isoTimestamp(nowUtc())},
    }).toJson(QJsonDocument::Compact) + '\n';

    QMutexLocker lock(&m_mutex);
    QDir().mkpath(QFileInfo(m_filePath).absolutePath());
    QFile file(m_filePath);
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
    return true;
}

} // namespace Kernia::Server
