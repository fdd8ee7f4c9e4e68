#include "mail_support.h"

#include "auth/auth_server.h"
#include "auth/cookies.h"
#include "auth/endpoint_context.h"
#include "auth/options.h"
#include "crypto/jwt.h"
#include "mail/mailer.h"
#include "store/store.h"

#include <QUrl>
#include <QUrlQuery>

namespace Kernia::Server {

UnprovenAccess endUnprovenAccess(Store &store, User &user)
{
    UnprovenAccess removed;
    removed.sessions = store.deleteSessionsByUser(user.id);
    removed.accounts = store.deleteAccountsByUser(user.id);
    removed.passkeys = store.deletePasskeysByUser(user.id);
    user.emailVerified = true;
    user.updatedAt = nowUtc();
    store.updateUser(user);
    return removed;
}

QString authBaseUrl(const AuthOptions &options)
{
    return options.baseUrl.toString(QUrl::RemoveQuery | QUrl::RemoveFragment | QUrl::StripTrailingSlash)
           + options.basePath;
}

QString resolveAgainstBase(const AuthOptions &options, const QString &url)
{
    return QUrl(authBaseUrl(options)).resolved(QUrl(url)).toString(QUrl::FullyEncoded);
}

QByteArray formEncode(const QString &text)
{
    static const char hex[] = "0123456789ABCDEF";
    QByteArray out;
    for (const char c : text.toUtf8()) {
        const auto u = static_cast<unsigned char>(c);
        if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '*' || u == '-'
            || u == '.' || u == '_') {
            out += char(u);
        } else if (u == ' ') {
            out += '+';
        } else {
            out += '%';
            out += hex[u >> 4];
            out += hex[u & 0xf];
        }
    }
    return out;
}

QString withQueryItem(const QString &url, const QString &key, const QString &value)
{
    QString base = url;
    QString fragment;
    const qsizetype hash = base.indexOf(QLatin1Char('#'));
    if (hash >= 0) {
        fragment = base.mid(hash);
        base.truncate(hash);
    }
    QString path = base;
    QStringList kept;
    const qsizetype question = base.indexOf(QLatin1Char('?'));
    if (question >= 0) {
        path = base.left(question);
        const QString prefix = QString::fromLatin1(formEncode(key)) + QLatin1Char('=');
        for (const QString &pair : base.mid(question + 1).split(QLatin1Char('&'), Qt::SkipEmptyParts)) {
            if (!pair.startsWith(prefix) && pair != QString::fromLatin1(formEncode(key)))
                kept << pair;
        }
    }
    kept << QString::fromLatin1(formEncode(key) + '=' + formEncode(value));
    return path + QLatin1Char('?') + kept.join(QLatin1Char('&')) + fragment;
}

Response redirectTo(const QString &location)
{
    return Response::redirect(location.toUtf8());
}

void throwMissingQueryField(const QString &field)
{
    throw ApiError(400, QStringLiteral("VALIDATION_ERROR"),
                   QStringLiteral("[query.%1] Invalid input: expected string, received undefined").arg(field));
}

bool deliverMailQuietly(EndpointContext &context, const MailMessage &message)
{
    Mailer *mailer = context.server().mailer();
    QString error;
    if (!mailer) {
        error = QStringLiteral("no mailer configured");
    } else {
        try {
            if (mailer->send(message, &error))
                return true;
        } catch (const std::exception &e) {
            error = QString::fromUtf8(e.what());
        }
    }
    qCWarning(lcMail).nospace().noquote() << "could not send the " << message.kind << " mail for " << context.path()
                                << ": " << error;
    return false;
}

void deliverMail(EndpointContext &context, const MailMessage &message)
{
    if (!deliverMailQuietly(context, message))
        throw ApiError(500, MailErrors::FAILED_TO_SEND_EMAIL);
}

QString changeEmailRequestType(ChangeEmailStep step)
{
    return step == ChangeEmailStep::Confirmation ? QStringLiteral("change-email-confirmation")
                                                 : QStringLiteral("change-email-verification");
}

QByteArray changeEmailToken(const QByteArray &secret, ChangeEmailStep step, const QString &email,
                            const QString &newEmail, const QString &userId, qint64 expiresInSeconds,
                            const QDateTime &now)
{
    return Jwt::signHs256Ordered({{QStringLiteral("email"), email.toLower()},
                                  {QStringLiteral("updateTo"), newEmail.toLower()},
                                  {QStringLiteral("requestType"), changeEmailRequestType(step)},
                                  {QStringLiteral("userId"), userId}},
                                 secret, expiresInSeconds, now);
}

QString mailedLinkUrl(const AuthOptions &options, const QString &path, const QString &token, const QString &callbackUrl)
{
    return authBaseUrl(options) + path + QStringLiteral("?token=") + token + QStringLiteral("&callbackURL=")
           + QString::fromLatin1(Cookies::encodeURIComponent(
               (callbackUrl.isEmpty() ? QStringLiteral("/") : callbackUrl).toUtf8()));
}

QString verifyEmailUrl(const AuthOptions &options, const QString &token, const QString &callbackUrl)
{
    return mailedLinkUrl(options, QStringLiteral("/verify-email"), token, callbackUrl);
}

MailMessage accountMail(const QString &kind, const QString &to, const QString &userId, const QString &subject,
                        const QString &text, const QString &url, const QString &token)
{
    MailMessage message;
    message.kind = kind;
    message.email = to;
    message.url = url;
    message.token = token;
    message.subject = subject;
    message.text = text;
    message.extra.insert(QStringLiteral("userId"), userId);
    return message;
}

QString maskEmail(const QString &email)
{
    const qsizetype at = email.lastIndexOf(QLatin1Char('@'));
    if (at <= 0)
        return QStringLiteral("***");
    // The first character (a whole surrogate pair if it is one), then the domain.
    const qsizetype first = email.at(0).isHighSurrogate() && at > 1 ? 2 : 1;
    return email.left(first) + QStringLiteral("***") + email.mid(at);
}

Response padResponseTime(Response response, const QElapsedTimer &timer, int minimumMs)
{
    response.holdUntil(QDeadlineTimer(qMax<qint64>(0, minimumMs - timer.elapsed())));
    return response;
}

} // namespace Kernia::Server
