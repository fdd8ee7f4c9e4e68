// Outgoing mail behind one interface: the JSON-lines outbox (development and tests) and
// SMTP (smtp_mailer.h); MailerGroup (mailer_group.h) delivers to both. Endpoints build a
// MailMessage; the configured Mailer delivers it before the response that caused it is
// sent. docs/mail.md describes the formats.
#pragma once

#include <QJsonObject>
#include <QLoggingCategory>
#include <QString>

// kernia.mail: deliveries that failed (mailer.cpp).
Q_DECLARE_LOGGING_CATEGORY(lcMail)

namespace Kernia::Server {

struct MailMessage
{
    QString kind;      // "magic-link", "verify-email", "reset-password", "email-changed", ... (docs/mail.md)
    QString email;     // recipient
    QString url;       // the link the user follows (empty for a notice without one)
    QString token;     // the token inside the link (empty likewise)
    QString subject;
    QString text;      // plain-text body
    // More fields for the outbox line, e.g. {"userId": ...} or {"metadata": {...}}; the
    // SMTP mailer ignores them. They never replace the fields above.
    QJsonObject extra;
};

class Mailer
{
public:
    virtual ~Mailer() = default;
    // Thread-safe. False with *error set when the message could not be handed over.
    virtual bool send(const MailMessage &message, QString *error) = 0;
};

} // namespace Kernia::Server
