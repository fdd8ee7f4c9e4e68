// Everything that configures the auth engine. Defaults are Better Auth's (protocol
// README §5.1), so an unconfigured server behaves like the reference.
#pragma once

#include "crypto/password.h"

#include <QByteArray>
#include <QStringList>
#include <QUrl>
#include <optional>

namespace Kernia::Server {

struct AuthOptions
{
    QByteArray secret;                 // signs cookies; at least 32 characters
    QUrl baseUrl;                      // its origin is always trusted
    QString basePath = QStringLiteral("/api/auth");
    QStringList trustedOrigins;        // exact origins; '*' wildcards allowed
    QByteArray cookiePrefix = "better-auth";
    std::optional<bool> useSecureCookies; // unset: secure when baseUrl is https

    qint64 sessionExpiresIn = 7 * 24 * 3600;
    static constexpr qint64 kDefaultSessionUpdateAge = 24 * 3600;
    qint64 sessionUpdateAge = kDefaultSessionUpdateAge;
    qint64 sessionFreshAge = 24 * 3600;   // 0 disables the freshness check
    static constexpr qint64 kDontRememberExpiresIn = 24 * 3600;

    int minPasswordLength = 8;
    int maxPasswordLength = 128;
    ScryptParams scrypt;
    // scrypt is memory-bandwidth bound: more threads gain nothing
    static constexpr int kDefaultMaxConcurrentHashes = 2;
    int maxConcurrentHashes = kDefaultMaxConcurrentHashes;
    ScryptFunction runScrypt;          // where hashes run (kernia-server: helper processes); empty: the calling thread

    qint64 maxBodyBytes = 1024 * 1024; // Kernia's own limit: 413 PAYLOAD_TOO_LARGE
    bool requireBearerSignature = false;
    bool deleteUserEnabled = true;
    // With a mailer, POST /delete-user of a user with a verified email mails a link to
    // confirm (Better Auth's sendDeleteAccountVerification, off there) instead of deleting;
    // the user is deleted when it opens the link signed in. docs/mail.md.
    bool deleteUserConfirmationEnabled = true;
    // Better Auth's user.changeEmail.enabled (off by default there, on in the reference
    // configuration the client is tested against): POST /change-email. Off, it answers
    // 400 CHANGE_EMAIL_DISABLED. Kernia's default is on; the address only changes through
    // the link mailed to the new address (docs/mail.md, "Changing the email address").
    bool changeEmailEnabled = true;
    // Better Auth's user.changeEmail.sendChangeEmailConfirmation (off there and in the
    // reference configuration): for a user whose email is verified, POST /change-email
    // mails a confirmation link to the current address first, and only following it mails
    // the link to the new one. Kernia's default is on, so that a stolen session cannot move
    // the account to another mailbox (docs/mail.md, "Changing the email address").
    bool changeEmailConfirmationEnabled = true;
    // Better Auth's option (default false there): POST /reset-password ends every session
    // of the user. Kernia's default is true. A user whose email was not verified loses
    // its sessions either way (the reset proves the mailbox, docs/mail.md).
    bool revokeSessionsOnPasswordReset = true;

    bool secureCookies() const
    {
        return useSecureCookies.value_or(baseUrl.scheme() == QLatin1String("https"));
    }
};

} // namespace Kernia::Server
