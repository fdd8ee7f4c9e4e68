// Several mailers as one: every message goes to each of them (e.g. the development outbox
// and SMTP when both are configured). send() succeeds only if every mailer accepted it; a
// failing one never stops the others.
#pragma once

#include "mail/mailer.h"

#include <QStringList>
#include <memory>
#include <vector>

namespace Kernia::Server {

class MailerGroup final : public Mailer
{
public:
    explicit MailerGroup(std::vector<std::shared_ptr<Mailer>> mailers)
        : m_mailers(std::move(mailers)) {}

    bool send(const MailMessage &message, QString *error) override
    {
        QStringList failures;
        for (const std::shared_ptr<Mailer> &mailer : m_mailers) {
            QString failure;
            if (!mailer->send(message, &failure))
                failures << failure;
        }
        if (failures.isEmpty())
            return true;
        *error = failures.join(QStringLiteral("; "));
        return false;
    }

private:
    std::vector<std::shared_ptr<Mailer>> m_mailers;
};

} // namespace Kernia::Server
