// What the mail-based endpoints (email verification, email change, password reset, magic
// link) share: the links and mails they send, redirects with an error code, delivery
// through the configured Mailer, and the anti-enumeration response-time floor. docs/mail.md.
#pragma once

#include "http/api_error.h"
#include "http/response.h"
#include "mail/mailer.h"

#include <QByteArray>
#include <QDateTime>
#include <QElapsedTimer>
#include <QString>

namespace Kernia::Server {

class EndpointContext;
class Store;
struct AuthOptions;
struct User;

namespace MailErrors {
// Kernia only: the configured mailer refused the message (logged with the reason).
inline constexpr ErrorCode FAILED_TO_SEND_EMAIL{"FAILED_TO_SEND_EMAIL", "The email could not be sent. Try again later."};
} // namespace MailErrors

// Better Auth's `ctx.context.baseURL`: the configured base URL plus the base path,
// e.g. "http://127.0.0.1:3100/api/auth".
QString authBaseUrl(const AuthOptions &options);

// `url` resolved against authBaseUrl() as JavaScript's `new URL(url, base)` does
// ("/after" -> "http://127.0.0.1:3100/after").
QString resolveAgainstBase(const AuthOptions &options, const QString &url);

// `url` with the query parameter `key` set to `value` (URLSearchParams.set: replaces an
// existing one). Works on relative URLs too.
QString withQueryItem(const QString &url, const QString &key, const QString &value);

// application/x-www-form-urlencoded, as URLSearchParams writes it.
QByteArray formEncode(const QString &text);

// 302 to `location`, empty body, content-type application/json (as Better Auth).
Response redirectTo(const QString &location);

// 400 VALIDATION_ERROR "[query.<field>] Invalid input: expected string, received undefined".
[[noreturn]] void throwMissingQueryField(const QString &field);

// Sends through the server's mailer. deliverMail throws 500 FAILED_TO_SEND_EMAIL on
// failure; deliverMailQuietly only logs it (for answers that must not reveal whether an
// account exists). Both need a mailer to be configured.
void deliverMail(EndpointContext &context, const MailMessage &message);
bool deliverMailQuietly(EndpointContext &context, const MailMessage &message);

// A followed password-reset or magic link proves the mailbox. For a user whose email was
// not verified yet, whoever registered the address before its owner proved it (account
// pre-hijacking) must lose every way in opened without that proof: this deletes the user's
// sessions, accounts (the password included) and passkeys, and marks the email verified
// (`user` is changed and written). Call it inside the transaction that acts on the proof;
// it returns what went, for a log line after the commit. docs/mail.md, methods/magic-link.md.
struct UnprovenAccess
{
    int sessions = 0;
    int accounts = 0;
    int passkeys = 0;
};
UnprovenAccess endUnprovenAccess(Store &store, User &user);

// The two steps of Better Auth's email change, named by the token's requestType claim:
// "change-email-confirmation" (mailed to the current address; following it mails the
// verification link) and "change-email-verification" (mailed to the new address;
// following it changes the email). docs/mail.md.
enum class ChangeEmailStep { Confirmation, Verification };
QString changeEmailRequestType(ChangeEmailStep step);

// Better Auth's change-email token: a JWT (HS256, the server secret) with the payload
// {email: <current, lower-case>, updateTo: <new, lower-case>, requestType, userId, iat, exp},
// claims in Better Auth's order, so the same inputs give the same bytes. docs/mail.md.
QByteArray changeEmailToken(const QByteArray &secret, ChangeEmailStep step, const QString &email,
                            const QString &newEmail, const QString &userId, qint64 expiresInSeconds,
                            const QDateTime &now = QDateTime::currentDateTimeUtc());

// <base>/verify-email?token=<token>&callbackURL=<callbackUrl, or "/" when empty, encoded>:
// the link of the email-verification and change-email mails, as Better Auth writes it.
QString verifyEmailUrl(const AuthOptions &options, const QString &token, const QString &callbackUrl);
// The same for any mailed link: <base><path>?token=<token>&callbackURL=<…> (e.g.
// "/delete-user/callback").
QString mailedLinkUrl(const AuthOptions &options, const QString &path, const QString &token, const QString &callbackUrl);

// A mail about user `userId`'s account (the outbox line gets "userId"). `url` is the link
// to follow and `token` the token in it; a notice has neither.
MailMessage accountMail(const QString &kind, const QString &to, const QString &userId, const QString &subject,
                        const QString &text, const QString &url = QString(), const QString &token = QString());

// "nina@example.com" -> "n***@example.com": enough for the owner to recognise an address
// in a mail that may reach someone else, not enough to learn it.
QString maskEmail(const QString &email);

// Holds `response` until `timer` shows at least `minimumMs`, so "no such account" and
// "mail sent" answers take the same time (Better Auth's 500 ms floor). No thread sleeps:
// Response::holdUntil.
Response padResponseTime(Response response, const QElapsedTimer &timer, int minimumMs = 500);

} // namespace Kernia::Server
