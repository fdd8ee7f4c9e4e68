// Delivers mail over SMTP through libcurl: smtp:// with STARTTLS (required or opportunistic),
// smtps:// (TLS from the first byte), AUTH with user and password, a From address and
// timeouts. One connection per message; every libcurl handle is owned by RAII wrappers.
//
//   SmtpOptions smtp;
//   smtp.url = QUrl("smtp://mail.example.com:587");
//   smtp.tls = SmtpOptions::Tls::StartTls;
//   smtp.user = "kernia"; smtp.password = "…"; smtp.from = "Kernia <no-reply@example.com>";
//   QString error;
//   if (!SmtpOptions::validate(smtp, &error)) { /* refuse to start */ }
//   SmtpMailer mailer(smtp);
//   mailer.send(message, &error);      // blocks until the server accepted it (or failed)
//
// docs/mail.md lists the options and their config-file keys.
#pragma once

#include "mail/mailer.h"

#include <QByteArray>
#include <QDateTime>
#include <QUrl>
#include <optional>

namespace Kernia::Server {

struct SmtpOptions
{
    enum class Tls {
        None,           // plain text (only sensible on loopback or a trusted network)
        Opportunistic,  // STARTTLS when the server offers it, else plain (CURLUSESSL_TRY)
        StartTls,       // STARTTLS required (CURLUSESSL_ALL) — the default for smtp://
        Implicit,       // smtps://: TLS from the first byte
    };

    QUrl url;                   // smtp://host[:port] or smtps://host[:port]
    std::optional<Tls> tls;     // unset: Implicit for smtps://, StartTls for smtp://
    QString user;               // AUTH; empty = no AUTH
    QString password;
    QString from;               // "addr@example.com" or "Name <addr@example.com>"
    QString caFile;             // extra CA bundle (PEM) to verify the server; empty = system CAs
    int connectTimeoutSeconds = 10;
    int timeoutSeconds = 30;    // whole transaction

    Tls effectiveTls() const;
    // The bare address inside `from` (what MAIL FROM carries), or empty if malformed.
    QString fromAddress() const;

    // Parses "none" | "opportunistic" | "starttls" | "tls"; false for anything else.
    static bool parseTls(const QString &text, Tls *out);
    static QString tlsName(Tls tls);

    // Checks everything a start-up can check; false with a message naming the setting.
    static bool validate(const SmtpOptions &options, QString *error);
};

class SmtpMailer final : public Mailer
{
public:
    explicit SmtpMailer(SmtpOptions options);
    // Thread-safe: every call uses its own libcurl handle.
    bool send(const MailMessage &message, QString *error) override;

    const SmtpOptions &options() const { return m_options; }

    // The RFC 5322 message (CRLF line ends, base64 UTF-8 body) send() transmits. Public
    // for tests.
    QByteArray buildMessage(const MailMessage &message, const QDateTime &date) const;

private:
    SmtpOptions m_options;
};

} // namespace Kernia::Server
