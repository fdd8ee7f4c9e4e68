// Writes every mail as one JSON line ({kind, email, url, token, subject, text, sentAt}) to a
// file, flushed to disk before send() returns — the development default and what tests read.
#pragma once

#include "mail/mailer.h"

#include <QMutex>

namespace Kernia::Server {

class OutboxMailer final : public Mailer
{
public:
    explicit OutboxMailer(QString filePath);
    bool send(const MailMessage &message, QString *error) override;

private:
    QString m_filePath;
    QMutex m_mutex;
};

} // namespace Kernia::Server
