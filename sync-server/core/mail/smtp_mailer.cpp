#include "smtp_mailer.h"

#include "auth/validation.h"
#include "crypto/crypto.h"

#include <QFileInfo>
#include <QLocale>
#include <QTimeZone>

#include <curl/curl.h>

#include <memory>
#include <mutex>

namespace Kernia::Server {

namespace {

// --- RAII over libcurl --------------------------------------------------------------------

struct CurlEasyDeleter
{
    void operator()(CURL *handle) const { curl_easy_cleanup(handle); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;

struct CurlListDeleter
{
    void operator()(curl_slist *list) const { curl_slist_free_all(list); }
};
using CurlList = std::unique_ptr<curl_slist, CurlListDeleter>;

void ensureCurlInitialised()
{
    // curl_global_init is not thread-safe on every libcurl build: run it exactly once.
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct UploadSource
{
    QByteArray data;
    qsizetype offset = 0;
};

size_t readMessage(char *buffer, size_t size, size_t count, void *userData)
{
    auto *source = static_cast<UploadSource *>(userData);
    const qsizetype room = qsizetype(size * count);
    const qsizetype left = source->data.size() - source->offset;
    const qsizetype n = qMin(room, left);
    if (n > 0) {
        memcpy(buffer, source->data.constData() + source->offset, size_t(n));
        source->offset += n;
    }
    return size_t(n);
}

// --- message formatting -------------------------------------------------------------------

bool hasLineBreak(const QString &text)
{
    return text.contains(QLatin1Char('\r')) || text.contains(QLatin1Char('\n'));
}

bool isAscii(const QString &text)
{
    for (const QChar c : text) {
        if (c.unicode() >= 0x80)
            return false;
    }
    return true;
}

// RFC 2047 encoded words (UTF-8, base64), split at character boundaries so no word exceeds
// the 75-character limit.
QByteArray encodeHeaderText(const QString &text)
{
    if (isAscii(text))
        return text.toLatin1();
    QByteArrayList words;
    QByteArray chunk;
    for (qsizetype i = 0; i < text.size(); ++i) {
        QString one(text.at(i));
        if (text.at(i).isHighSurrogate() && i + 1 < text.size())
            one += text.at(++i);
        const QByteArray bytes = one.toUtf8();
        if (chunk.size() + bytes.size() > 45) {
            words << "=?UTF-8?B?" + chunk.toBase64() + "?=";
            chunk.clear();
        }
        chunk += bytes;
    }
    if (!chunk.isEmpty())
        words << "=?UTF-8?B?" + chunk.toBase64() + "?=";
    return words.join("\r\n ");
}

QByteArray rfc5322Date(const QDateTime &date)
{
    return QLocale::c().toString(date.toUTC(), QStringLiteral("ddd, dd MMM yyyy HH:mm:ss")).toLatin1() + " +0000";
}

bool isLoopbackHost(const QString &host)
{
    return host == QLatin1String("localhost") || host.startsWith(QLatin1String("127."))
           || host == QLatin1String("::1") || host == QLatin1String("[::1]");
}

} // namespace

// --- options ------------------------------------------------------------------------------

SmtpOptions::Tls SmtpOptions::effectiveTls() const
{
    if (tls)
        return *tls;
    return url.scheme() == QLatin1String("smtps") ? Tls::Implicit : Tls::StartTls;
}

QString SmtpOptions::fromAddress() const
{
    const QString text = from.trimmed();
    const qsizetype open = text.lastIndexOf(QLatin1Char('<'));
    if (open < 0)
        return text;
    const qsizetype close = text.indexOf(QLatin1Char('>'), open);
    if (close < 0 || close != text.size() - 1)
        return {};
    return text.mid(open + 1, close - open - 1).trimmed();
}

bool SmtpOptions::parseTls(const QString &text, Tls *out)
{
    const QString t = text.trimmed().toLower();
    if (t == QLatin1String("none")) *out = Tls::None;
    else if (t == QLatin1String("opportunistic")) *out = Tls::Opportunistic;
    else if (t == QLatin1String("starttls")) *out = Tls::StartTls;
    else if (t == QLatin1String("tls")) *out = Tls::Implicit;
    else return false;
    return true;
}

QString SmtpOptions::tlsName(Tls tls)
{
    switch (tls) {
    case Tls::None: return QStringLiteral("none");
    case Tls::Opportunistic: return QStringLiteral("opportunistic");
    case Tls::StartTls: return QStringLiteral("starttls");
    case Tls::Implicit: return QStringLiteral("tls");
    }
    return {};
}

bool SmtpOptions::validate(const SmtpOptions &options, QString *error)
{
    const QUrl &url = options.url;
    const QString scheme = url.scheme();
    if (!url.isValid() || (scheme != QLatin1String("smtp") && scheme != QLatin1String("smtps")) || url.host().isEmpty()) {
        *error = QStringLiteral("--smtp-url must look like smtp://host:port or smtps://host:port, got \"%1\"")
                     .arg(url.toString());
        return false;
    }
    if (!url.userInfo().isEmpty()) {
        *error = QStringLiteral("--smtp-url must not contain credentials: use --smtp-user and --smtp-password "
                                "(or KERNIA_SMTP_PASSWORD)");
        return false;
    }
    if ((!url.path().isEmpty() && url.path() != QLatin1String("/")) || url.hasQuery() || url.hasFragment()) {
        *error = QStringLiteral("--smtp-url takes no path or query, got \"%1\"").arg(url.toString());
        return false;
    }
    const Tls tls = options.effectiveTls();
    if (scheme == QLatin1String("smtps") && tls != Tls::Implicit) {
        *error = QStringLiteral("--smtp-tls %1 contradicts smtps:// (TLS from the first byte); "
                                "use smtp:// for STARTTLS or plain SMTP").arg(tlsName(tls));
        return false;
    }
    if (scheme == QLatin1String("smtp") && tls == Tls::Implicit) {
        *error = QStringLiteral("--smtp-tls tls needs an smtps:// URL (e.g. smtps://%1:465)").arg(url.host());
        return false;
    }
    if (options.from.trimmed().isEmpty()) {
        *error = QStringLiteral("--smtp-from is required with --smtp-url (e.g. \"Kernia <no-reply@example.com>\")");
        return false;
    }
    if (hasLineBreak(options.from) || !isValidEmail(options.fromAddress())) {
        *error = QStringLiteral("--smtp-from must be an email address or \"Name <address>\", got \"%1\"").arg(options.from);
        return false;
    }
    if (options.user.isEmpty() != options.password.isEmpty()) {
        *error = options.user.isEmpty()
            ? QStringLiteral("an SMTP password is set but --smtp-user is not")
            : QStringLiteral("--smtp-user is set but no password: use --smtp-password or KERNIA_SMTP_PASSWORD");
        return false;
    }
    if (!options.user.isEmpty() && (tls == Tls::None || tls == Tls::Opportunistic) && !isLoopbackHost(url.host())) {
        *error = QStringLiteral("--smtp-tls %1 with --smtp-user could send the password in clear text to %2; "
                                "use --smtp-tls starttls or an smtps:// URL").arg(tlsName(tls), url.host());
        return false;
    }
    if (!options.caFile.isEmpty() && !QFileInfo(options.caFile).isReadable()) {
        *error = QStringLiteral("--smtp-ca-file %1 is not a readable file").arg(options.caFile);
        return false;
    }
    if (options.connectTimeoutSeconds < 1 || options.timeoutSeconds < 1 || options.timeoutSeconds > 600) {
        *error = QStringLiteral("--smtp-timeout must be between 1 and 600 seconds");
        return false;
    }
    return true;
}

// --- mailer -------------------------------------------------------------------------------

SmtpMailer::SmtpMailer(SmtpOptions options)
    : m_options(std::move(options))
{
    ensureCurlInitialised();
}

QByteArray SmtpMailer::buildMessage(const MailMessage &message, const QDateTime &date) const
{
    const QString fromText = m_options.from.trimmed();
    QByteArray fromHeader;
    const qsizetype open = fromText.lastIndexOf(QLatin1Char('<'));
    if (open > 0) {
        QString name = fromText.left(open).trimmed();
        if (name.size() >= 2 && name.startsWith(QLatin1Char('"')) && name.endsWith(QLatin1Char('"')))
            name = name.mid(1, name.size() - 2);
        const QByteArray encoded = isAscii(name)
            ? '"' + name.toLatin1().replace('\\', "\\\\").replace('"', "\\\"") + '"'
            : encodeHeaderText(name);
        fromHeader = encoded + " <" + m_options.fromAddress().toUtf8() + '>';
    } else {
        fromHeader = m_options.fromAddress().toUtf8();
    }
    const QString domain = m_options.fromAddress().section(QLatin1Char('@'), 1);

    QByteArray out;
    out += "Date: " + rfc5322Date(date) + "\r\n";
    out += "From: " + fromHeader + "\r\n";
    out += "To: <" + message.email.toUtf8() + ">\r\n";
    out += "Subject: " + encodeHeaderText(message.subject) + "\r\n";
    out += "Message-ID: <" + Crypto::randomId().toLatin1() + '@' + domain.toUtf8() + ">\r\n";
    out += "MIME-Version: 1.0\r\n";
    out += "Content-Type: text/plain; charset=UTF-8\r\n";
    out += "Content-Transfer-Encoding: base64\r\n";
    out += "\r\n";
    // Base64 keeps any text (long URLs, non-ASCII, lines starting with '.') intact.
    QString text = message.text;
    text.replace(QLatin1String("\r\n"), QLatin1String("\n")).replace(QLatin1Char('\n'), QLatin1String("\r\n"));
    const QByteArray body = text.toUtf8().toBase64();
    for (qsizetype i = 0; i < body.size(); i += 76)
        out += body.mid(i, 76) + "\r\n";
    return out;
}

bool SmtpMailer::send(const MailMessage &message, QString *error)
{
    if (hasLineBreak(message.email) || hasLineBreak(message.subject) || !isValidEmail(message.email)) {
        *error = QStringLiteral("refusing to send mail to \"%1\": not a plain email address").arg(message.email);
        return false;
    }
    CurlEasy curl(curl_easy_init());
    if (!curl) {
        *error = QStringLiteral("SMTP: cannot create a libcurl handle");
        return false;
    }

    UploadSource source{buildMessage(message, QDateTime::currentDateTimeUtc()), 0};
    const QByteArray url = m_options.url.toString(QUrl::RemovePath | QUrl::RemoveQuery).toUtf8();
    const QByteArray mailFrom = '<' + m_options.fromAddress().toUtf8() + '>';
    const QByteArray recipient = '<' + message.email.toUtf8() + '>';
    CurlList recipients(curl_slist_append(nullptr, recipient.constData()));
    const QByteArray user = m_options.user.toUtf8();
    const QByteArray password = m_options.password.toUtf8();
    const QByteArray caFile = QFile::encodeName(m_options.caFile);
    char errorBuffer[CURL_ERROR_SIZE] = {};

    CURL *h = curl.get();
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errorBuffer);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);            // worker threads: no SIGALRM
    curl_easy_setopt(h, CURLOPT_URL, url.constData());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, mailFrom.constData());
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, recipients.get());
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, readMessage);
    curl_easy_setopt(h, CURLOPT_READDATA, &source);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, curl_off_t(source.data.size()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, long(m_options.connectTimeoutSeconds));
    curl_easy_setopt(h, CURLOPT_TIMEOUT, long(m_options.timeoutSeconds));
    switch (m_options.effectiveTls()) {
    case SmtpOptions::Tls::None:
        curl_easy_setopt(h, CURLOPT_USE_SSL, long(CURLUSESSL_NONE));
        break;
    case SmtpOptions::Tls::Opportunistic:
        curl_easy_setopt(h, CURLOPT_USE_SSL, long(CURLUSESSL_TRY));
        break;
    case SmtpOptions::Tls::StartTls:
    case SmtpOptions::Tls::Implicit:
        curl_easy_setopt(h, CURLOPT_USE_SSL, long(CURLUSESSL_ALL));
        break;
    }
    // Certificates are always verified (peer and host name); a private CA goes in caFile.
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!caFile.isEmpty())
        curl_easy_setopt(h, CURLOPT_CAINFO, caFile.constData());
    if (!user.isEmpty()) {
        curl_easy_setopt(h, CURLOPT_USERNAME, user.constData());
        curl_easy_setopt(h, CURLOPT_PASSWORD, password.constData());
    }

    const CURLcode result = curl_easy_perform(h);
    if (result != CURLE_OK) {
        long smtpCode = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &smtpCode);
        const QString detail = errorBuffer[0] ? QString::fromUtf8(errorBuffer) : QString::fromUtf8(curl_easy_strerror(result));
        *error = QStringLiteral("SMTP delivery to %1 via %2 failed: %3%4")
                     .arg(message.email, QString::fromUtf8(url), detail,
                          smtpCode ? QStringLiteral(" (server replied %1)").arg(smtpCode) : QString());
        return false;
    }
    return true;
}

} // namespace Kernia::Server
