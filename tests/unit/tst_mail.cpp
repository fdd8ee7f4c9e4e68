// Mail: the JSON-lines outbox, the SMTP mailer against a real local SMTP server
// (tests/tools/smtp_sink.py over Debian's python3-aiosmtpd: plain, STARTTLS + AUTH, SMTPS),
// the email-verification, change-email (both steps, and the notice to the old address) and
// password-reset endpoints, HS256 tokens and prefix routes.
#include "test_server.h"

#include "auth/endpoint_context.h"
#include "auth/endpoints/mail_support.h"
#include "crypto/jwt.h"
#include "mail/mailer_group.h"
#include "mail/outbox_mailer.h"
#include "mail/smtp_mailer.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QProcess>
#include <QRegularExpression>
#include <QTcpServer>
#include <QtConcurrent>

#include <functional>

using namespace Kernia::Server;
using namespace Kernia::Server::Testing;

namespace {

QList<QJsonObject> readJsonLines(const QString &path)
{
    QList<QJsonObject> lines;
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return lines;
    for (const QByteArray &line : file.readAll().split('\n')) {
        if (line.isEmpty())
            continue;
        QJsonParseError error;
        const QJsonDocument document = QJsonDocument::fromJson(line, &error);
        if (error.error != QJsonParseError::NoError || !document.isObject())
            qFatal("not a JSON object line: %s", line.constData());
        lines << document.object();
    }
    return lines;
}

MailMessage sampleMessage(const QString &email = QStringLiteral("alice@example.com"))
{
    MailMessage message;
    message.kind = QStringLiteral("magic-link");
    message.email = email;
    message.url = QStringLiteral("http://127.0.0.1:3100/api/auth/magic-link/verify?token=abc&callbackURL=%2F");
    message.token = QStringLiteral("abc");
    message.subject = QStringLiteral("Your sign-in link");
    message.text = QStringLiteral("Hello,\n\nopen this link:\n\n%1\n.\n..a line starting with dots\n").arg(message.url);
    return message;
}

// Debian's python3 (with python3-aiosmtpd), also when a pyenv python3 comes first in PATH.
QString pythonWithAiosmtpd()
{
    for (const QString &candidate : {QStringLiteral("/usr/bin/python3"), QStringLiteral("python3")}) {
        QProcess probe;
        probe.start(candidate, {QStringLiteral("-c"), QStringLiteral("import aiosmtpd")});
        if (probe.waitForFinished(10000) && probe.exitStatus() == QProcess::NormalExit && probe.exitCode() == 0)
            return candidate;
    }
    return {};
}

// A real SMTP server process on 127.0.0.1, stopped when the object goes.
class SmtpSink
{
public:
    bool start(const QString &dir, const QStringList &extraArgs, QString *error)
    {
        const QString python = pythonWithAiosmtpd();
        if (python.isEmpty()) {
            *error = QStringLiteral("no python3 with aiosmtpd (apt-get install python3-aiosmtpd)");
            return false;
        }
        outPath = dir + QStringLiteral("/smtp-%1.jsonl").arg(++s_counter);
        process.setProcessChannelMode(QProcess::SeparateChannels);
        process.start(python, QStringList{QStringLiteral(KERNIA_SMTP_SINK), QStringLiteral("--out"), outPath} + extraArgs);
        QElapsedTimer timer;
        timer.start();
        QByteArray out;
        while (timer.elapsed() < 15000) {
            if (process.state() == QProcess::NotRunning)
                break;
            process.waitForReadyRead(200);
            out += process.readAllStandardOutput();
            const QRegularExpressionMatch m = QRegularExpression(QStringLiteral("listening (\\d+)")).match(QString::fromLatin1(out));
            if (m.hasMatch()) {
                port = m.captured(1).toInt();
                return true;
            }
        }
        *error = QStringLiteral("smtp_sink.py did not start: %1 %2")
                     .arg(QString::fromLocal8Bit(out), QString::fromLocal8Bit(process.readAllStandardError()));
        return false;
    }

    ~SmtpSink()
    {
        if (process.state() != QProcess::NotRunning) {
            process.terminate();
            if (!process.waitForFinished(5000))
                process.kill();
            process.waitForFinished(5000);
        }
    }

    QList<QJsonObject> mails() const { return readJsonLines(outPath); }

    QProcess process;
    QString outPath;
    int port = 0;
    static inline int s_counter = 0;
};

bool makeCertificate(const QString &dir, QString *error)
{
    QProcess openssl;
    openssl.start(QStringLiteral("openssl"),
                  {QStringLiteral("req"), QStringLiteral("-x509"), QStringLiteral("-newkey"), QStringLiteral("rsa:2048"),
                   QStringLiteral("-nodes"), QStringLiteral("-keyout"), dir + QStringLiteral("/key.pem"),
                   QStringLiteral("-out"), dir + QStringLiteral("/cert.pem"), QStringLiteral("-days"), QStringLiteral("1"),
                   QStringLiteral("-subj"), QStringLiteral("/CN=127.0.0.1"),
                   QStringLiteral("-addext"), QStringLiteral("subjectAltName=IP:127.0.0.1")});
    if (!openssl.waitForFinished(60000) || openssl.exitCode() != 0) {
        *error = QStringLiteral("openssl failed: ") + QString::fromLocal8Bit(openssl.readAllStandardError());
        return false;
    }
    return true;
}

int unusedPort()
{
    QTcpServer server;
    server.listen(QHostAddress::LocalHost, 0);
    return server.serverPort(); // closed again when `server` goes
}

// Delivers through `inner`, except to `refused`: "550 mailbox unavailable".
class RefusingMailer final : public Mailer
{
public:
    RefusingMailer(std::shared_ptr<Mailer> inner, QString refused)
        : m_inner(std::move(inner)), m_refused(std::move(refused)) {}
    bool send(const MailMessage &message, QString *error) override
    {
        if (message.email == m_refused) {
            *error = QStringLiteral("550 mailbox unavailable");
            return false;
        }
        return m_inner->send(message, error);
    }

private:
    std::shared_ptr<Mailer> m_inner;
    QString m_refused;
};

struct LoggedMessage
{
    QtMsgType type;
    QString category;
    QString text;
};

// The log messages `run` produced on this thread (with their categories).
QList<LoggedMessage> captureLog(const std::function<void()> &run)
{
    static QList<LoggedMessage> *sink = nullptr;
    QList<LoggedMessage> captured;
    sink = &captured;
    const QtMessageHandler previous = qInstallMessageHandler([](QtMsgType type, const QMessageLogContext &context,
                                                                 const QString &text) {
        sink->append({type, QString::fromLatin1(context.category ? context.category : ""), text});
    });
    run();
    qInstallMessageHandler(previous);
    sink = nullptr;
    return captured;
}

} // namespace

class TestMail : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    bool m_haveCert = false;

    SmtpOptions smtpOptions(int port, SmtpOptions::Tls tls, const QString &scheme = QStringLiteral("smtp")) const
    {
        SmtpOptions options;
        options.url = QUrl(QStringLiteral("%1://127.0.0.1:%2").arg(scheme).arg(port));
        options.tls = tls;
        options.from = QStringLiteral("Kernia Tests <no-reply@kernia.example>");
        options.timeoutSeconds = 20;
        return options;
    }
    QString cert() const { return m_dir.filePath(QStringLiteral("cert.pem")); }
    QString key() const { return m_dir.filePath(QStringLiteral("key.pem")); }

    // A TestServer whose mail goes to an outbox file.
    static QString attachOutbox(TestServer &server)
    {
        const QString path = server.dir.filePath(QStringLiteral("outbox.jsonl"));
        server.auth->setMailer(std::make_shared<OutboxMailer>(path));
        return path;
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        QString error;
        m_haveCert = makeCertificate(m_dir.path(), &error);
        if (!m_haveCert)
            qWarning("%s", qPrintable(error));
    }

    // --- outbox ---------------------------------------------------------------------------

    void outboxWritesOneCompleteJsonLinePerMail()
    {
        const QString path = m_dir.filePath(QStringLiteral("outbox/nested/mail.jsonl"));
        OutboxMailer outbox(path);
        MailMessage first = sampleMessage();
        first.extra.insert(QStringLiteral("userId"), QStringLiteral("u1"));
        first.extra.insert(QStringLiteral("kind"), QStringLiteral("must-not-win"));
        QString error;
        QVERIFY2(outbox.send(first, &error), qPrintable(error));
        // Durable before send() returns: another reader sees the whole line right away.
        QList<QJsonObject> lines = readJsonLines(path);
        QCOMPARE(lines.size(), 1);
        QVERIFY2(outbox.send(sampleMessage(QStringLiteral("bob@example.com")), &error), qPrintable(error));
        lines = readJsonLines(path);
        QCOMPARE(lines.size(), 2);
        const QJsonObject line = lines.first();
        for (const char *key : {"kind", "email", "url", "token", "subject", "text", "sentAt"})
            QVERIFY2(line.value(QLatin1String(key)).isString(), key);
        QCOMPARE(line.value(QStringLiteral("kind")).toString(), QStringLiteral("magic-link"));
        QCOMPARE(line.value(QStringLiteral("email")).toString(), QStringLiteral("alice@example.com"));
        QCOMPARE(line.value(QStringLiteral("token")).toString(), QStringLiteral("abc"));
        QCOMPARE(line.value(QStringLiteral("userId")).toString(), QStringLiteral("u1"));
        QVERIFY(line.value(QStringLiteral("url")).toString().contains(QStringLiteral("token=abc")));
        QCOMPARE(lines.at(1).value(QStringLiteral("email")).toString(), QStringLiteral("bob@example.com"));
        QFile raw(path);
        QVERIFY(raw.open(QIODevice::ReadOnly));
        const QByteArray content = raw.readAll();
        QVERIFY(content.endsWith('\n'));
        QCOMPARE(content.count('\n'), 2); // newlines inside the text are escaped
    }

    void outboxConcurrentWritersNeverInterleave()
    {
        const QString path = m_dir.filePath(QStringLiteral("concurrent.jsonl"));
        OutboxMailer outbox(path);
        QList<int> jobs;
        for (int i = 0; i < 200; ++i)
            jobs << i;
        QAtomicInt failures = 0;
        QtConcurrent::blockingMap(jobs, [&](int i) {
            MailMessage message = sampleMessage(QStringLiteral("user%1@example.com").arg(i));
            message.text = QString(2000, QLatin1Char('x')); // long lines make interleaving visible
            QString error;
            if (!outbox.send(message, &error))
                failures.fetchAndAddRelaxed(1);
        });
        QCOMPARE(failures.loadRelaxed(), 0);
        const QList<QJsonObject> lines = readJsonLines(path); // qFatal on a torn line
        QCOMPARE(lines.size(), 200);
        QSet<QString> emails;
        for (const QJsonObject &line : lines)
            emails.insert(line.value(QStringLiteral("email")).toString());
        QCOMPARE(emails.size(), 200);
    }

    void outboxReportsUnwritableFile()
    {
        OutboxMailer outbox(m_dir.path()); // a directory, not a file
        QString error;
        QVERIFY(!outbox.send(sampleMessage(), &error));
        QVERIFY2(error.contains(QStringLiteral("mail outbox")), qPrintable(error));
    }

    void mailerGroupDeliversToAllAndReportsFailures()
    {
        const QString good = m_dir.filePath(QStringLiteral("group.jsonl"));
        MailerGroup group({std::make_shared<OutboxMailer>(m_dir.path()), std::make_shared<OutboxMailer>(good)});
        QString error;
        QVERIFY(!group.send(sampleMessage(), &error));
        QVERIFY(!error.isEmpty());
        QCOMPARE(readJsonLines(good).size(), 1); // the failing one did not stop the other
    }

    // --- SMTP options and message ---------------------------------------------------------

    void smtpOptionsValidation_data()
    {
        QTest::addColumn<QString>("url");
        QTest::addColumn<QString>("tls");
        QTest::addColumn<QString>("user");
        QTest::addColumn<QString>("password");
        QTest::addColumn<QString>("from");
        QTest::addColumn<QString>("expectedError"); // empty = valid

        const QString from = QStringLiteral("no-reply@example.com");
        QTest::newRow("starttls default") << "smtp://mail.example.com:587" << "" << "u" << "p" << from << "";
        QTest::newRow("smtps") << "smtps://mail.example.com" << "" << "u" << "p" << "Kernia <no-reply@example.com>" << "";
        QTest::newRow("plain loopback with auth") << "smtp://127.0.0.1:2525" << "none" << "u" << "p" << from << "";
        QTest::newRow("http scheme") << "http://mail.example.com" << "" << "" << "" << from << "--smtp-url";
        QTest::newRow("no host") << "smtp://" << "" << "" << "" << from << "--smtp-url";
        QTest::newRow("credentials in url") << "smtp://u:p@mail.example.com" << "" << "" << "" << from << "must not contain credentials";
        QTest::newRow("smtps with starttls") << "smtps://mail.example.com" << "starttls" << "" << "" << from << "contradicts smtps://";
        QTest::newRow("smtp with tls") << "smtp://mail.example.com" << "tls" << "" << "" << from << "needs an smtps:// URL";
        QTest::newRow("no from") << "smtp://mail.example.com" << "" << "" << "" << "" << "--smtp-from is required";
        QTest::newRow("bad from") << "smtp://mail.example.com" << "" << "" << "" << "not an address" << "--smtp-from must be";
        QTest::newRow("header injection in from") << "smtp://mail.example.com" << "" << "" << "" << "a@example.com\r\nBcc: x@y.com" << "--smtp-from must be";
        QTest::newRow("user without password") << "smtp://mail.example.com" << "" << "u" << "" << from << "no password";
        QTest::newRow("password without user") << "smtp://mail.example.com" << "" << "" << "p" << from << "--smtp-user is not";
        QTest::newRow("cleartext password to remote") << "smtp://mail.example.com" << "none" << "u" << "p" << from << "clear text";
        QTest::newRow("opportunistic password to remote") << "smtp://mail.example.com" << "opportunistic" << "u" << "p" << from << "clear text";
    }

    void smtpOptionsValidation()
    {
        QFETCH(QString, url);
        QFETCH(QString, tls);
        QFETCH(QString, user);
        QFETCH(QString, password);
        QFETCH(QString, from);
        QFETCH(QString, expectedError);
        SmtpOptions options;
        options.url = QUrl(url, QUrl::StrictMode);
        if (!tls.isEmpty()) {
            SmtpOptions::Tls parsed;
            QVERIFY(SmtpOptions::parseTls(tls, &parsed));
            options.tls = parsed;
        }
        options.user = user;
        options.password = password;
        options.from = from;
        QString error;
        const bool ok = SmtpOptions::validate(options, &error);
        if (expectedError.isEmpty()) {
            QVERIFY2(ok, qPrintable(error));
        } else {
            QVERIFY(!ok);
            QVERIFY2(error.contains(expectedError), qPrintable(error));
        }
    }

    void smtpTlsNames()
    {
        SmtpOptions::Tls tls;
        QVERIFY(!SmtpOptions::parseTls(QStringLiteral("ssl"), &tls));
        for (const char *name : {"none", "opportunistic", "starttls", "tls"}) {
            QVERIFY(SmtpOptions::parseTls(QLatin1String(name), &tls));
            QCOMPARE(SmtpOptions::tlsName(tls), QLatin1String(name));
        }
        SmtpOptions options;
        options.url = QUrl(QStringLiteral("smtps://x.example"));
        QCOMPARE(options.effectiveTls(), SmtpOptions::Tls::Implicit);
        options.url = QUrl(QStringLiteral("smtp://x.example"));
        QCOMPARE(options.effectiveTls(), SmtpOptions::Tls::StartTls); // secure by default
    }

    void smtpMessageFormat()
    {
        SmtpOptions options = smtpOptions(25, SmtpOptions::Tls::None);
        options.from = QStringLiteral("Kérnia Tests <no-reply@kernia.example>");
        SmtpMailer mailer(options);
        MailMessage message = sampleMessage();
        message.subject = QStringLiteral("Anmeldung für dich ✓");
        const QByteArray raw = mailer.buildMessage(message, QDateTime(QDate(2026, 11, 23), QTime(11, 21, 29), Qt::UTC));
        QVERIFY(raw.contains("Date: Mon, 23 Nov 2026 11:21:29 +0000\r\n"));
        QVERIFY(raw.contains("To: <alice@example.com>\r\n"));
        QVERIFY(raw.contains("From: =?UTF-8?B?"));
        QVERIFY(raw.contains(" <no-reply@kernia.example>\r\n"));
        QVERIFY(raw.contains("Subject: =?UTF-8?B?"));
        QVERIFY(raw.contains("Content-Type: text/plain; charset=UTF-8\r\n"));
        QVERIFY(raw.contains("Message-ID: <"));
        QVERIFY(!raw.contains("\n\n")); // CRLF only
        const QByteArray body = raw.mid(raw.indexOf("\r\n\r\n") + 4);
        for (const QByteArray &line : body.split('\n'))
            QVERIFY(line.size() <= 78);
        const QString decoded = QString::fromUtf8(QByteArray::fromBase64(QByteArray(body).replace("\r\n", "")));
        QCOMPARE(decoded, QString(message.text).replace(QLatin1String("\n"), QLatin1String("\r\n")));
        QString error;
        message.email = QStringLiteral("a@example.com\r\nBcc: victim@example.com");
        QVERIFY(!mailer.send(message, &error));
        QVERIFY2(error.contains(QStringLiteral("not a plain email address")), qPrintable(error));
    }

    // --- SMTP against a real server -------------------------------------------------------

    void smtpPlainDelivery()
    {
        SmtpSink sink;
        QString error;
        if (!sink.start(m_dir.path(), {}, &error))
            QFAIL(qPrintable(error));
        SmtpMailer mailer(smtpOptions(sink.port, SmtpOptions::Tls::None));
        const MailMessage message = sampleMessage();
        QVERIFY2(mailer.send(message, &error), qPrintable(error));
        const QList<QJsonObject> mails = sink.mails();
        QCOMPARE(mails.size(), 1);
        const QJsonObject mail = mails.first();
        QCOMPARE(mail.value(QStringLiteral("rcpt_tos")).toArray(), QJsonArray{QStringLiteral("alice@example.com")});
        QCOMPARE(mail.value(QStringLiteral("mail_from")).toString(), QStringLiteral("no-reply@kernia.example"));
        QCOMPARE(mail.value(QStringLiteral("subject")).toString(), QStringLiteral("Your sign-in link"));
        QVERIFY(mail.value(QStringLiteral("text")).toString().contains(message.url));
        QVERIFY(mail.value(QStringLiteral("text")).toString().contains(QStringLiteral("\n..a line starting with dots")));
        QCOMPARE(mail.value(QStringLiteral("tls")).toBool(), false);
    }

    void smtpStartTlsWithAuth()
    {
        QVERIFY2(m_haveCert, "openssl could not make a test certificate (scripts/setup.sh installs openssl)");
        SmtpSink sink;
        QString error;
        if (!sink.start(m_dir.path(), {QStringLiteral("--tls-cert"), cert(), QStringLiteral("--tls-key"), key(),
                                       QStringLiteral("--require-starttls"), QStringLiteral("--auth"),
                                       QStringLiteral("kernia:s3cret-pass")}, &error))
            QFAIL(qPrintable(error));
        SmtpOptions options = smtpOptions(sink.port, SmtpOptions::Tls::StartTls);
        options.caFile = cert();
        options.user = QStringLiteral("kernia");
        options.password = QStringLiteral("s3cret-pass");
        QVERIFY2(SmtpOptions::validate(options, &error), qPrintable(error));
        SmtpMailer mailer(options);
        QVERIFY2(mailer.send(sampleMessage(QStringLiteral("carol@example.com")), &error), qPrintable(error));
        const QList<QJsonObject> mails = sink.mails();
        QCOMPARE(mails.size(), 1);
        QCOMPARE(mails.first().value(QStringLiteral("tls")).toBool(), true);
        QCOMPARE(mails.first().value(QStringLiteral("auth_user")).toString(), QStringLiteral("kernia"));
        QCOMPARE(mails.first().value(QStringLiteral("rcpt_tos")).toArray(), QJsonArray{QStringLiteral("carol@example.com")});

        // Wrong password: a clear error, nothing delivered.
        options.password = QStringLiteral("wrong");
        SmtpMailer wrong(options);
        QVERIFY(!wrong.send(sampleMessage(), &error));
        QVERIFY2(error.contains(QStringLiteral("SMTP delivery to alice@example.com")) && error.contains(QStringLiteral("535")),
                 qPrintable(error));
        QCOMPARE(sink.mails().size(), 1);

        // The server's certificate is verified: without the CA the delivery fails.
        options.password = QStringLiteral("s3cret-pass");
        options.caFile.clear();
        SmtpMailer untrusted(options);
        QVERIFY(!untrusted.send(sampleMessage(), &error));
        QVERIFY2(error.contains(QStringLiteral("certificate"), Qt::CaseInsensitive), qPrintable(error));
        QCOMPARE(sink.mails().size(), 1);
    }

    void smtpStartTlsRequiredButNotOffered()
    {
        SmtpSink sink; // plain server, no STARTTLS
        QString error;
        if (!sink.start(m_dir.path(), {}, &error))
            QFAIL(qPrintable(error));
        SmtpMailer required(smtpOptions(sink.port, SmtpOptions::Tls::StartTls));
        QVERIFY(!required.send(sampleMessage(), &error)); // never downgrades
        QVERIFY(!error.isEmpty());
        QCOMPARE(sink.mails().size(), 0);
        SmtpMailer opportunistic(smtpOptions(sink.port, SmtpOptions::Tls::Opportunistic));
        QVERIFY2(opportunistic.send(sampleMessage(), &error), qPrintable(error));
        QCOMPARE(sink.mails().size(), 1);
    }

    void smtpImplicitTls()
    {
        QVERIFY2(m_haveCert, "openssl could not make a test certificate (scripts/setup.sh installs openssl)");
        SmtpSink sink;
        QString error;
        if (!sink.start(m_dir.path(), {QStringLiteral("--tls-cert"), cert(), QStringLiteral("--tls-key"), key(),
                                       QStringLiteral("--implicit-tls")}, &error))
            QFAIL(qPrintable(error));
        SmtpOptions options = smtpOptions(sink.port, SmtpOptions::Tls::Implicit, QStringLiteral("smtps"));
        options.caFile = cert();
        SmtpMailer mailer(options);
        QVERIFY2(mailer.send(sampleMessage(), &error), qPrintable(error));
        QCOMPARE(sink.mails().size(), 1);
    }

    void smtpConnectionRefusedIsAClearError()
    {
        SmtpOptions options = smtpOptions(unusedPort(), SmtpOptions::Tls::None);
        options.connectTimeoutSeconds = 3;
        SmtpMailer mailer(options);
        QString error;
        QElapsedTimer timer;
        timer.start();
        QVERIFY(!mailer.send(sampleMessage(), &error));
        QVERIFY(timer.elapsed() < 10000);
        QVERIFY2(error.startsWith(QStringLiteral("SMTP delivery to alice@example.com via smtp://127.0.0.1:")), qPrintable(error));
    }

    void endpointMailGoesToOutboxAndSmtp()
    {
        SmtpSink sink;
        QString error;
        if (!sink.start(m_dir.path(), {}, &error))
            QFAIL(qPrintable(error));
        TestServer server;
        const QString outbox = server.dir.filePath(QStringLiteral("both.jsonl"));
        server.auth->setMailer(std::make_shared<MailerGroup>(std::vector<std::shared_ptr<Mailer>>{
            std::make_shared<OutboxMailer>(outbox),
            std::make_shared<SmtpMailer>(smtpOptions(sink.port, SmtpOptions::Tls::None))}));
        QCOMPARE(server.post(QStringLiteral("/sign-up/email"), {{"name", "Dora"}, {"email", "dora@example.com"}, {"password", "password123"}}).status(), 200);
        const Response r = server.post(QStringLiteral("/request-password-reset"), {{"email", "dora@example.com"}, {"redirectTo", "/reset"}});
        QCOMPARE(r.status(), 200);
        const QList<QJsonObject> lines = readJsonLines(outbox);
        QCOMPARE(lines.size(), 1);
        const QString url = lines.first().value(QStringLiteral("url")).toString();
        const QList<QJsonObject> mails = sink.mails();
        QCOMPARE(mails.size(), 1);
        QCOMPARE(mails.first().value(QStringLiteral("rcpt_tos")).toArray(), QJsonArray{QStringLiteral("dora@example.com")});
        QVERIFY(mails.first().value(QStringLiteral("text")).toString().contains(url));
        QCOMPARE(mails.first().value(QStringLiteral("subject")).toString(), QStringLiteral("Reset your password"));
    }

    // --- tokens and routes ----------------------------------------------------------------

    void jwtHs256()
    {
        const QByteArray secret = "jwt-secret-0123456789ABCDEFGHIJKLMNOP";
        const QDateTime now = QDateTime::fromSecsSinceEpoch(1795432907, Qt::UTC);
        const QByteArray token = Jwt::signHs256({{"email", "a@example.com"}, {"userId", "u1"}}, secret, 3600, now);
        QVERIFY(token.startsWith("eyJhbGciOiJIUzI1NiJ9.")); // {"alg":"HS256"}, as jose writes it
        const QByteArray payload = QByteArray::fromBase64(token.split('.').at(1), QByteArray::Base64UrlEncoding);
        QCOMPARE(payload, QByteArray(R"({"email":"a@example.com","userId":"u1","iat":1795432907,"exp":1795436507})"));
        Jwt::Verified v = Jwt::verifyHs256(token, secret, now.addSecs(10));
        QCOMPARE(v.status, Jwt::Status::Valid);
        QCOMPARE(v.payload.value(QStringLiteral("userId")).toString(), QStringLiteral("u1"));
        QCOMPARE(Jwt::verifyHs256(token, secret, now.addSecs(3600)).status, Jwt::Status::Expired);
        QCOMPARE(Jwt::verifyHs256(token, "another-secret-0123456789ABCDEFGHIJ", now).status, Jwt::Status::Invalid);
        // Tampered payload, alg "none", garbage.
        QList<QByteArray> parts = token.split('.');
        parts[1] = QByteArray(R"({"email":"evil@example.com","iat":1,"exp":9999999999})").toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
        QCOMPARE(Jwt::verifyHs256(parts.join('.'), secret, now).status, Jwt::Status::Invalid);
        const QByteArray none = QByteArray(R"({"alg":"none"})").toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals)
                                + '.' + token.split('.').at(1) + '.';
        QCOMPARE(Jwt::verifyHs256(none, secret, now).status, Jwt::Status::Invalid);
        for (const QByteArray &bad : {QByteArray(), QByteArray("abc"), QByteArray("a.b.c"), QByteArray("...")})
            QCOMPARE(Jwt::verifyHs256(bad, secret, now).status, Jwt::Status::Invalid);
        // signHs256Ordered keeps the caller's order (a QJsonObject would sort the keys).
        const QByteArray ordered = Jwt::signHs256Ordered({{QStringLiteral("userId"), QStringLiteral("u1")},
                                                          {QStringLiteral("email"), QStringLiteral("a@example.com")},
                                                          {QStringLiteral("n"), 2}},
                                                         secret, 60, now);
        QCOMPARE(QByteArray::fromBase64(ordered.split('.').at(1), QByteArray::Base64UrlEncoding),
                 QByteArray("{\"userId\":\"u1\",\"email\":\"a@example.com\",\"n\":2,\"iat\":1795432907,\"exp\":1795432967}"));
        v = Jwt::verifyHs256(ordered, secret, now);
        QCOMPARE(v.status, Jwt::Status::Valid);
        QCOMPARE(v.payload.value(QStringLiteral("email")).toString(), QStringLiteral("a@example.com"));
    }

    void routerPrefixRoutes()
    {
        Router router;
        auto handler = [](EndpointContext &) { return Response::empty(204); };
        router.add({"GET", QStringLiteral("/reset-password"), Endpoint::Body::Ignored, false, false, handler});
        router.addPrefix({"GET", QStringLiteral("/reset-password/"), Endpoint::Body::Ignored, false, false, handler});
        const Endpoint *exact = router.find("GET", QStringLiteral("/reset-password"));
        QVERIFY(exact);
        QCOMPARE(exact->path, QStringLiteral("/reset-password"));
        const Endpoint *prefix = router.find("GET", QStringLiteral("/reset-password/abc123"));
        QVERIFY(prefix);
        QCOMPARE(prefix->path, QStringLiteral("/reset-password/"));
        QCOMPARE(Router::pathParameter(prefix->path, QStringLiteral("/reset-password/abc123")), QStringLiteral("abc123"));
        QVERIFY(!router.find("GET", QStringLiteral("/reset-password/")));        // empty parameter
        QVERIFY(!router.find("GET", QStringLiteral("/reset-password/a/b")));     // one segment only
        QVERIFY(!router.find("GET", QStringLiteral("/reset-password/abc/")));    // trailing slash
        QVERIFY(!router.find("POST", QStringLiteral("/reset-password/abc")));    // method
        QVERIFY(!router.find("GET", QStringLiteral("/reset-passwordX/abc")));
        QCOMPARE(router.size(), 2);
        QCOMPARE(Router::pathParameter(QStringLiteral("/x/"), QStringLiteral("/y/abc")), QString());
    }

    // --- email verification endpoints -----------------------------------------------------

    void verificationWithoutMailerIsNotEnabled()
    {
        TestServer server;
        Response r = server.post(QStringLiteral("/send-verification-email"), {{"email", "a@example.com"}});
        QCOMPARE(r.status(), 400);
        QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("VERIFICATION_EMAIL_NOT_ENABLED"));
        QCOMPARE(TestServer::json(r).value("message").toString(), QStringLiteral("Verification email isn't enabled"));
        r = server.post(QStringLiteral("/request-password-reset"), {{"email", "a@example.com"}});
        QCOMPARE(r.status(), 400);
        QCOMPARE(TestServer::json(r), (QJsonObject{{"message", "Reset password isn't enabled"}, {"code", "RESET_PASSWORD_DISABLED"}}));
    }

    void emailVerificationFlow()
    {
        TestServer server;
        const QString outbox = attachOutbox(server);
        const Response up = server.post(QStringLiteral("/sign-up/email"), {{"name", "Gina"}, {"email", "gina@example.com"}, {"password", "password123"}});
        QCOMPARE(up.status(), 200);
        const QByteArray cookie = server.sessionCookie(up);
        const QString userId = TestServer::json(up).value("user").toObject().value("id").toString();

        // With a session: the email must be the session user's.
        Response r = server.post(QStringLiteral("/send-verification-email"), {{"email", "other@example.com"}}, cookie);
        QCOMPARE(r.status(), 400);
        QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("EMAIL_MISMATCH"));
        r = server.post(QStringLiteral("/send-verification-email"), {{"email", "GINA@example.com"}, {"callbackURL", "/verified"}}, cookie);
        QCOMPARE(r.status(), 200);
        QCOMPARE(TestServer::json(r), (QJsonObject{{"status", true}}));
        QList<QJsonObject> mails = readJsonLines(outbox);
        QCOMPARE(mails.size(), 1);
        QCOMPARE(mails.last().value("kind").toString(), QStringLiteral("verify-email"));
        QCOMPARE(mails.last().value("userId").toString(), userId);
        const QString token = mails.last().value("token").toString();
        QCOMPARE(mails.last().value("url").toString(),
                 QStringLiteral("http://127.0.0.1:3100/api/auth/verify-email?token=%1&callbackURL=%2Fverified").arg(token));

        // Tampered and foreign tokens: 401 without callbackURL, 302 ?error= with it.
        QByteArray tampered = token.toLatin1();
        tampered[tampered.size() - 2] = tampered.at(tampered.size() - 2) == 'A' ? 'B' : 'A';
        r = server.get(QStringLiteral("/verify-email?token=") + QString::fromLatin1(tampered));
        QCOMPARE(r.status(), 401);
        QCOMPARE(TestServer::json(r), (QJsonObject{{"message", "Invalid token"}, {"code", "INVALID_TOKEN"}}));
        r = server.get(QStringLiteral("/verify-email?token=abc&callbackURL=/x"));
        QCOMPARE(r.status(), 302);
        QCOMPARE(r.header("location"), QByteArray("/x?error=INVALID_TOKEN"));
        QCOMPARE(r.contentType(), QByteArray("application/json")); // as Better Auth's redirects (transcript 07)
        QVERIFY(r.body().isEmpty());
        const QByteArray expired = Jwt::signHs256({{"email", "gina@example.com"}, {"userId", userId}}, kSecret, 3600,
                                                  QDateTime::currentDateTimeUtc().addSecs(-7200));
        r = server.get(QStringLiteral("/verify-email?token=") + QString::fromLatin1(expired));
        QCOMPARE(r.status(), 401);
        QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("TOKEN_EXPIRED"));
        r = server.get(QStringLiteral("/verify-email?token=%1&callbackURL=%2").arg(QString::fromLatin1(expired), QStringLiteral("/v%3Fa%3D1")));
        QCOMPARE(r.header("location"), QByteArray("/v?a=1&error=TOKEN_EXPIRED"));
        const QByteArray nobody = Jwt::signHs256({{"email", "nobody@example.com"}}, kSecret, 3600);
        r = server.get(QStringLiteral("/verify-email?token=") + QString::fromLatin1(nobody));
        QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("USER_NOT_FOUND"));
        r = server.get(QStringLiteral("/verify-email?token=x&callbackURL=https://evil.example/"));
        QCOMPARE(r.status(), 403);
        QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("INVALID_CALLBACK_URL"));
        r = server.get(QStringLiteral("/verify-email"));
        QCOMPARE(r.status(), 400);
        QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("VALIDATION_ERROR"));
        QCOMPARE(server.scalar(QStringLiteral("SELECT \"emailVerified\" FROM \"user\" WHERE id = :id"), {{"id", userId}}), 0);

        // The real link: 302 to the callback, user verified.
        r = server.get(QStringLiteral("/verify-email?token=%1&callbackURL=%2Fverified").arg(token));
        QCOMPARE(r.status(), 302);
        QCOMPARE(r.header("location"), QByteArray("/verified"));
        QCOMPARE(server.scalar(QStringLiteral("SELECT \"emailVerified\" FROM \"user\" WHERE id = :id"), {{"id", userId}}), 1);
        // JSON form, again: already verified is still a success.
        r = server.get(QStringLiteral("/verify-email?token=") + token);
        QCOMPARE(r.status(), 200);
        QCOMPARE(TestServer::json(r), (QJsonObject{{"status", true}, {"user", QJsonValue::Null}}));
        r = server.post(QStringLiteral("/send-verification-email"), {{"email", "gina@example.com"}}, cookie);
        QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("EMAIL_ALREADY_VERIFIED"));
    }

    void verificationWithoutSessionDoesNotEnumerate()
    {
        TestServer server;
        const QString outbox = attachOutbox(server);
        QCOMPARE(server.post(QStringLiteral("/sign-up/email"), {{"name", "H"}, {"email", "hal@example.com"}, {"password", "password123"}}).status(), 200);
        for (const char *email : {"hal@example.com", "nobody@example.com"}) {
            QElapsedTimer timer;
            timer.start();
            const Response r = server.post(QStringLiteral("/send-verification-email"), {{"email", email}});
            QCOMPARE(r.status(), 200);
            QCOMPARE(TestServer::json(r), (QJsonObject{{"status", true}}));
            QVERIFY2(timer.elapsed() >= 490, "the answer takes at least 500 ms either way");
        }
        const QList<QJsonObject> mails = readJsonLines(outbox);
        QCOMPARE(mails.size(), 1);
        QCOMPARE(mails.first().value("email").toString(), QStringLiteral("hal@example.com"));
    }

    // --- change-email ---------------------------------------------------------------------

private:
    struct Signed
    {
        QString id;
        QString token;
        QByteArray cookie;
    };

    static Signed signUp(TestServer &server, const QString &name, const QString &email)
    {
        const Response up = server.post(QStringLiteral("/sign-up/email"), {{"name", name}, {"email", email}, {"password", "password123"}});
        if (up.status() != 200)
            qFatal("sign-up of %s failed: %s", qPrintable(email), up.body().constData());
        const QJsonObject body = TestServer::json(up);
        return {body.value("user").toObject().value("id").toString(), body.value("token").toString(), server.sessionCookie(up)};
    }

    static Signed signIn(TestServer &server, const QString &email)
    {
        const Response in = server.post(QStringLiteral("/sign-in/email"), {{"email", email}, {"password", "password123"}});
        if (in.status() != 200)
            qFatal("sign-in of %s failed: %s", qPrintable(email), in.body().constData());
        const QJsonObject body = TestServer::json(in);
        return {body.value("user").toObject().value("id").toString(), body.value("token").toString(), server.sessionCookie(in)};
    }

    static QString emailOf(TestServer &server, const QString &userId)
    {
        return server.store->userById(userId).value_or(User()).email;
    }

    // change-email, then the token of the mail it sent (fails the test when there is none).
    static QString requestChange(TestServer &server, const QString &outbox, const QByteArray &cookie,
                                 const QString &newEmail)
    {
        const int before = int(readJsonLines(outbox).size());
        const Response r = server.post(QStringLiteral("/change-email"), {{"newEmail", newEmail}}, cookie);
        if (r.status() != 200 || TestServer::json(r) != QJsonObject{{"status", true}})
            qFatal("change-email to %s: %d %s", qPrintable(newEmail), r.status(), r.body().constData());
        const QList<QJsonObject> mails = readJsonLines(outbox);
        if (mails.size() != before + 1)
            qFatal("change-email to %s sent %d mails", qPrintable(newEmail), int(mails.size() - before));
        return mails.last().value("token").toString();
    }

    static QJsonObject jwtPayload(const QString &token)
    {
        return QJsonDocument::fromJson(QByteArray::fromBase64(token.toLatin1().split('.').at(1), QByteArray::Base64UrlEncoding)).object();
    }

    // The notice of a committed change: to the old address, no link, the new one masked,
    // the date of the change.
    static void checkNotice(const QJsonObject &mail, const QString &oldEmail, const QString &userId,
                            const QString &masked, const QString &newEmail)
    {
        QCOMPARE(mail.value("kind").toString(), QStringLiteral("email-changed"));
        QCOMPARE(mail.value("email").toString(), oldEmail);
        QCOMPARE(mail.value("userId").toString(), userId);
        QCOMPARE(mail.value("url").toString(), QString());
        QCOMPARE(mail.value("token").toString(), QString());
        QCOMPARE(mail.value("subject").toString(), QStringLiteral("Your email address was changed"));
        const QString text = mail.value("text").toString();
        QVERIFY2(text.contains(QStringLiteral("changed from this address to %1 on %2")
                                   .arg(masked, QDateTime::currentDateTimeUtc().toString(QStringLiteral("yyyy-MM-dd")))),
                 qPrintable(text));
        QVERIFY2(!text.contains(newEmail, Qt::CaseInsensitive), qPrintable(text));
        QVERIFY2(!text.contains(QStringLiteral("http")), qPrintable(text));
    }

    // Makes the user's email verified, as a followed verification link would.
    static void markVerified(TestServer &server, const QString &userId)
    {
        std::optional<User> user = server.store->userById(userId);
        user->emailVerified = true;
        server.store->updateUser(*user);
    }

    // Follows a confirmation link; returns the token of the verification link it mailed
    // to `newEmail` (fails the test when there is none).
    static QString confirm(TestServer &server, const QString &outbox, const QString &confirmation,
                           const QString &newEmail)
    {
        const int before = int(readJsonLines(outbox).size());
        const Response r = server.get(QStringLiteral("/verify-email?token=") + confirmation);
        if (r.status() != 200 || TestServer::json(r) != QJsonObject{{"status", true}})
            qFatal("confirmation for %s: %d %s", qPrintable(newEmail), r.status(), r.body().constData());
        const QList<QJsonObject> mails = readJsonLines(outbox);
        if (mails.size() != before + 1 || mails.last().value("email").toString() != newEmail
            || mails.last().value("kind").toString() != QLatin1String("verify-email"))
            qFatal("the confirmation for %s sent no verification link to it", qPrintable(newEmail));
        return mails.last().value("token").toString();
    }

private slots:
    // The verification token is byte-for-byte the one Better Auth 1.7.25 mailed in
    // transcript 07 ("change-email", shown in the outbox note of "send-verification-email");
    // the confirmation token the one its createEmailVerificationToken makes for
    // requestType "change-email-confirmation" from the same inputs at the same second
    // (bench/reference, Date fixed at 1795432907 s).
    void changeEmailTokenIsBetterAuths()
    {
        const QDateTime at = QDateTime::fromSecsSinceEpoch(1795432907, Qt::UTC);
        const QByteArray secret = "kernia-reference-secret-0123456789ABCDEF";
        const QString userId = QStringLiteral("mIh2hsawNmcGlLVKScihetXNuCAnfFs3");
        QCOMPARE(changeEmailToken(secret, ChangeEmailStep::Verification, QStringLiteral("gina@example.com"),
                                  QStringLiteral("Gina2@Example.com"), userId, 3600, at),
                 QByteArray("eyJhbGciOiJIUzI1NiJ9.eyJlbWFpbCI6ImdpbmFAZXhhbXBsZS5jb20iLCJ1cGRhdGVUbyI6ImdpbmEyQGV4YW1wbGUuY29tIiwi"
                            "cmVxdWVzdFR5cGUiOiJjaGFuZ2UtZW1haWwtdmVyaWZpY2F0aW9uIiwidXNlcklkIjoibUloMmhzYXdObWNHbExWS1NjaWhl"
                            "dFhOdUNBbmZGczMiLCJpYXQiOjE3OTU0MzI5MDcsImV4cCI6MTc5NTQzNjUwN30.b4w1ZwoduesL2Yifm2-HIboObl6foZ_zNtb9yZprV5E"));
        QCOMPARE(changeEmailToken(secret, ChangeEmailStep::Confirmation, QStringLiteral("gina@example.com"),
                                  QStringLiteral("Gina2@Example.com"), userId, 3600, at),
                 QByteArray("eyJhbGciOiJIUzI1NiJ9.eyJlbWFpbCI6ImdpbmFAZXhhbXBsZS5jb20iLCJ1cGRhdGVUbyI6ImdpbmEyQGV4YW1wbGUuY29tIiwi"
                            "cmVxdWVzdFR5cGUiOiJjaGFuZ2UtZW1haWwtY29uZmlybWF0aW9uIiwidXNlcklkIjoibUloMmhzYXdObWNHbExWS1NjaWhl"
                            "dFhOdUNBbmZGczMiLCJpYXQiOjE3OTU0MzI5MDcsImV4cCI6MTc5NTQzNjUwN30.vsWrYSvR7y-ne3Oo4gtkKdvs8w-p-K4nMJeMGmrwAgM"));
        QCOMPARE(changeEmailRequestType(ChangeEmailStep::Confirmation), QStringLiteral("change-email-confirmation"));
        QCOMPARE(changeEmailRequestType(ChangeEmailStep::Verification), QStringLiteral("change-email-verification"));
    }

    void maskedAddresses()
    {
        QCOMPARE(maskEmail(QStringLiteral("nina@example.com")), QStringLiteral("n***@example.com"));
        QCOMPARE(maskEmail(QStringLiteral("n@example.com")), QStringLiteral("n***@example.com"));
        QCOMPARE(maskEmail(QStringLiteral("\"a@b\"@example.com")), QStringLiteral("\"***@example.com")); // the last @
        QCOMPARE(maskEmail(QString::fromUtf8("\xF0\x9F\x98\x80x@example.com")), QString::fromUtf8("\xF0\x9F\x98\x80***@example.com"));
        QCOMPARE(maskEmail(QStringLiteral("no-at-sign")), QStringLiteral("***"));
        QCOMPARE(maskEmail(QStringLiteral("@example.com")), QStringLiteral("***"));
    }

    void changeEmailFlow()
    {
        TestServer server;
        const QString outbox = attachOutbox(server);
        const Signed gina = signUp(server, QStringLiteral("Gina"), QStringLiteral("gina@example.com"));
        const Signed other = signIn(server, QStringLiteral("gina@example.com")); // another device

        Response r = server.post(QStringLiteral("/change-email"), {{"newEmail", "Gina2@Example.com"}, {"callbackURL", "/changed"}}, gina.cookie);
        QCOMPARE(r.status(), 200);
        QCOMPARE(TestServer::json(r), (QJsonObject{{"status", true}}));
        QVERIFY(!r.cookie(server.auth->sessions().sessionTokenCookie())); // no cookie: nothing changed yet
        QCOMPARE(emailOf(server, gina.id), QStringLiteral("gina@example.com"));
        QList<QJsonObject> mails = readJsonLines(outbox);
        QCOMPARE(mails.size(), 1);
        const QJsonObject mail = mails.last();
        QCOMPARE(mail.value("kind").toString(), QStringLiteral("verify-email"));
        QCOMPARE(mail.value("email").toString(), QStringLiteral("gina2@example.com")); // the new address, lower-cased
        QCOMPARE(mail.value("userId").toString(), gina.id);
        QCOMPARE(mail.value("subject").toString(), QStringLiteral("Confirm your new email address"));
        QVERIFY(!mail.value("text").toString().contains(QStringLiteral("gina@example.com"))); // the old address is not told
        const QString token = mail.value("token").toString();
        QCOMPARE(mail.value("url").toString(),
                 QStringLiteral("http://127.0.0.1:3100/api/auth/verify-email?token=%1&callbackURL=%2Fchanged").arg(token));
        const QJsonObject payload = jwtPayload(token);
        QCOMPARE(payload.keys().size(), 6);
        QCOMPARE(payload.value("email").toString(), QStringLiteral("gina@example.com"));
        QCOMPARE(payload.value("updateTo").toString(), QStringLiteral("gina2@example.com"));
        QCOMPARE(payload.value("requestType").toString(), QStringLiteral("change-email-verification"));
        QCOMPARE(payload.value("userId").toString(), gina.id);
        QCOMPARE(payload.value("exp").toInteger() - payload.value("iat").toInteger(), 3600);
        // The payload's claims are in Better Auth's order.
        const QByteArray rawPayload = QByteArray::fromBase64(token.toLatin1().split('.').at(1), QByteArray::Base64UrlEncoding);
        const QByteArray expectedStart = "{\"email\":\"gina@example.com\",\"updateTo\":\"gina2@example.com\","
                                         "\"requestType\":\"change-email-verification\",\"userId\":\"";
        QVERIFY2(rawPayload.startsWith(expectedStart), rawPayload.constData());

        // The link, from the signed-in browser: JSON with the changed user; the caller's
        // session cookie is set again (same session).
        r = server.get(QStringLiteral("/verify-email?token=") + token, gina.cookie);
        QCOMPARE(r.status(), 200);
        QJsonObject body = TestServer::json(r);
        QCOMPARE(body.value("status").toBool(), true);
        QCOMPARE(body.value("user").toObject().value("email").toString(), QStringLiteral("gina2@example.com"));
        QCOMPARE(body.value("user").toObject().value("emailVerified").toBool(), false); // as it was (Better Auth)
        QCOMPARE(body.value("user").toObject().value("id").toString(), gina.id);
        QCOMPARE(server.sessionCookie(r), gina.cookie);
        QCOMPARE(emailOf(server, gina.id), QStringLiteral("gina2@example.com"));
        // The old address is told, without a link and without the whole new address.
        mails = readJsonLines(outbox);
        QCOMPARE(mails.size(), 2);
        checkNotice(mails.last(), QStringLiteral("gina@example.com"), gina.id, QStringLiteral("g***@example.com"),
                    QStringLiteral("gina2@example.com"));
        // Both sessions still work and show the new address.
        for (const QByteArray &cookie : {gina.cookie, other.cookie}) {
            const QJsonObject session = TestServer::json(server.get(QStringLiteral("/get-session"), cookie));
            QCOMPARE(session.value("user").toObject().value("email").toString(), QStringLiteral("gina2@example.com"));
        }
        // The password now goes with the new address.
        QCOMPARE(server.post(QStringLiteral("/sign-in/email"), {{"email", "gina2@example.com"}, {"password", "password123"}}).status(), 200);
        QCOMPARE(server.post(QStringLiteral("/sign-in/email"), {{"email", "gina@example.com"}, {"password", "password123"}}).status(), 401);

        // Replayed: refused, in both forms.
        r = server.get(QStringLiteral("/verify-email?token=") + token);
        QCOMPARE(r.status(), 401);
        QCOMPARE(TestServer::json(r), (QJsonObject{{"message", "Invalid token"}, {"code", "INVALID_TOKEN"}}));
        r = server.get(QStringLiteral("/verify-email?token=%1&callbackURL=%2Fchanged").arg(token));
        QCOMPARE(r.status(), 302);
        QCOMPARE(r.header("location"), QByteArray("/changed?error=INVALID_TOKEN"));

        // A verified user stays verified (through the confirmation step, see
        // changeEmailConfirmationFlow); the mailed link, followed without a session,
        // redirects to the callback and sets no cookie.
        std::optional<User> user = server.store->userById(gina.id);
        user->emailVerified = true;
        server.store->updateUser(*user);
        const QString confirmation = requestChange(server, outbox, gina.cookie, QStringLiteral("gina3@example.com"));
        QCOMPARE(server.get(QStringLiteral("/verify-email?token=") + confirmation).status(), 200);
        const QString second = readJsonLines(outbox).last().value("token").toString();
        QCOMPARE(jwtPayload(second).value("requestType").toString(), QStringLiteral("change-email-verification"));
        r = server.get(QStringLiteral("/verify-email?token=%1&callbackURL=%2Fdone").arg(second));
        QCOMPARE(r.status(), 302);
        QCOMPARE(r.header("location"), QByteArray("/done"));
        QVERIFY(!r.cookie(server.auth->sessions().sessionTokenCookie()));
        QCOMPARE(emailOf(server, gina.id), QStringLiteral("gina3@example.com"));
        QVERIFY(server.store->userById(gina.id)->emailVerified);
    }

    void changeEmailRefusals()
    {
        AuthOptions disabledOptions = TestServer::defaultOptions();
        disabledOptions.changeEmailEnabled = false;
        TestServer disabled({}, disabledOptions);
        attachOutbox(disabled);
        const Signed dora = signUp(disabled, QStringLiteral("Dora"), QStringLiteral("dora@example.com"));
        Response r = disabled.post(QStringLiteral("/change-email"), {{"newEmail", "dora2@example.com"}}, dora.cookie);
        QCOMPARE(r.status(), 400);
        QCOMPARE(TestServer::json(r), (QJsonObject{{"message", "Change email is disabled"}, {"code", "CHANGE_EMAIL_DISABLED"}}));

        TestServer server;
        const Signed hal = signUp(server, QStringLiteral("Hal"), QStringLiteral("hal@example.com"));
        // No mailer: Better Auth's message, no code (checked after "same email").
        r = server.post(QStringLiteral("/change-email"), {{"newEmail", "hal2@example.com"}}, hal.cookie);
        QCOMPARE(r.status(), 400);
        QCOMPARE(TestServer::json(r), (QJsonObject{{"message", "Verification email isn't enabled"}}));
        const QString outbox = attachOutbox(server);

        // Body validation comes first (Better Auth validates before its session middleware).
        r = server.auth->handle(TestServer::request("POST", QStringLiteral("/change-email"), {}, {{"origin", kOrigin}}));
        QCOMPARE(r.status(), 400);
        QCOMPARE(TestServer::json(r).value("message").toString(), QStringLiteral("[body] Invalid input: expected object, received undefined"));
        r = server.post(QStringLiteral("/change-email"), {}, hal.cookie);
        QCOMPARE(r.status(), 400);
        QCOMPARE(TestServer::json(r), (QJsonObject{{"message", "[body.newEmail] Invalid input: expected string, received undefined"}, {"code", "VALIDATION_ERROR"}}));
        for (const QJsonValue &bad : {QJsonValue(QStringLiteral("not-an-email")), QJsonValue(42), QJsonValue(QJsonValue::Null)}) {
            r = server.post(QStringLiteral("/change-email"), {{"newEmail", bad}}, hal.cookie);
            QCOMPARE(r.status(), 400);
            QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("VALIDATION_ERROR"));
        }
        r = server.post(QStringLiteral("/change-email"), {{"newEmail", "x@example.com"}, {"callbackURL", 5}}, hal.cookie);
        QCOMPARE(r.status(), 400);
        r = server.post(QStringLiteral("/change-email"), {{"newEmail", "x@example.com"}, {"callbackURL", "https://evil.example/"}}, hal.cookie);
        QCOMPARE(r.status(), 403);
        QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("INVALID_CALLBACK_URL"));
        // No session; a foreign origin with the cookie.
        r = server.post(QStringLiteral("/change-email"), {{"newEmail", "x@example.com"}});
        QCOMPARE(r.status(), 401);
        QCOMPARE(TestServer::json(r), (QJsonObject{{"message", "Unauthorized"}, {"code", "UNAUTHORIZED"}}));
        r = server.auth->handle(TestServer::request("POST", QStringLiteral("/change-email"), R"({"newEmail":"x@example.com"})",
                                                    {{"origin", "https://evil.example"}, {"cookie", hal.cookie}}));
        QCOMPARE(r.status(), 403);
        QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("INVALID_ORIGIN"));
        // The same address, in any case: Better Auth's message without a code.
        r = server.post(QStringLiteral("/change-email"), {{"newEmail", "HAL@example.com"}}, hal.cookie);
        QCOMPARE(r.status(), 400);
        QCOMPARE(TestServer::json(r), (QJsonObject{{"message", "Email is the same"}}));
        // A guest has no address to change.
        const Response guest = server.post(QStringLiteral("/sign-in/anonymous"), {});
        QCOMPARE(guest.status(), 200);
        r = server.post(QStringLiteral("/change-email"), {{"newEmail", "guest@example.com"}}, server.sessionCookie(guest));
        QCOMPARE(r.status(), 400);
        QCOMPARE(TestServer::json(r), (QJsonObject{{"message", "Anonymous users cannot change their email. Sign up instead."},
                                                   {"code", "ANONYMOUS_USERS_CANNOT_CHANGE_EMAIL"}}));
        // A session signed in more than freshAge ago.
        std::optional<Session> session = server.store->sessionByToken(hal.token);
        QVERIFY(session);
        session->createdAt = session->createdAt.addSecs(-2 * 24 * 3600);
        server.store->updateSession(*session);
        r = server.post(QStringLiteral("/change-email"), {{"newEmail", "hal2@example.com"}}, hal.cookie);
        QCOMPARE(r.status(), 403);
        QCOMPARE(TestServer::json(r), (QJsonObject{{"message", "Session is not fresh"}, {"code", "SESSION_NOT_FRESH"}}));

        QCOMPARE(readJsonLines(outbox).size(), 0);
        QCOMPARE(emailOf(server, hal.id), QStringLiteral("hal@example.com"));
        QCOMPARE(server.scalar(QStringLiteral("SELECT count(*) FROM verification")), 0);
    }

    // A taken address: the same answer after the same time, no mail, nothing changes; and,
    // like any request, it voids the previous request's link (else that link would tell
    // whether the address is taken).
    void changeEmailToATakenAddressRevealsNothing()
    {
        TestServer server;
        const QString outbox = attachOutbox(server);
        const Signed ivo = signUp(server, QStringLiteral("Ivo"), QStringLiteral("ivo@example.com"));
        signUp(server, QStringLiteral("Jo"), QStringLiteral("jo@example.com"));
        const QString free = requestChange(server, outbox, ivo.cookie, QStringLiteral("ivo2@example.com"));
        for (const char *email : {"JO@example.com", "ivo3@example.com"}) {
            QElapsedTimer timer;
            timer.start();
            const Response r = server.post(QStringLiteral("/change-email"), {{"newEmail", email}}, ivo.cookie);
            QCOMPARE(r.status(), 200);
            QCOMPARE(TestServer::json(r), (QJsonObject{{"status", true}}));
            QVERIFY2(timer.elapsed() >= 490, "the answer takes at least 500 ms either way");
            if (qstrcmp(email, "JO@example.com") == 0) {
                QCOMPARE(readJsonLines(outbox).size(), 1); // no mail for the taken address
                const Response old = server.get(QStringLiteral("/verify-email?token=") + free);
                QCOMPARE(old.status(), 401);
                QCOMPARE(TestServer::json(old).value("code").toString(), QStringLiteral("INVALID_TOKEN"));
            }
        }
        QCOMPARE(readJsonLines(outbox).size(), 2);
        QCOMPARE(emailOf(server, ivo.id), QStringLiteral("ivo@example.com"));
        QCOMPARE(server.scalar(QStringLiteral("SELECT count(*) FROM \"user\" WHERE email = 'jo@example.com'")), 1);
    }

    void changeEmailLinkIsRefusedWhenItNoLongerApplies()
    {
        TestServer server;
        const QString outbox = attachOutbox(server);
        const Signed kim = signUp(server, QStringLiteral("Kim"), QStringLiteral("kim@example.com"));
        const Signed lou = signUp(server, QStringLiteral("Lou"), QStringLiteral("lou@example.com"));

        // Only the newest request's link works.
        const QString first = requestChange(server, outbox, kim.cookie, QStringLiteral("kim-typo@example.com"));
        const QString second = requestChange(server, outbox, kim.cookie, QStringLiteral("kim2@example.com"));
        Response r = server.get(QStringLiteral("/verify-email?token=") + first);
        QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("INVALID_TOKEN"));
        QCOMPARE(emailOf(server, kim.id), QStringLiteral("kim@example.com"));

        // Someone else's session at the click: INVALID_USER, nothing changes.
        r = server.get(QStringLiteral("/verify-email?token=") + second, lou.cookie);
        QCOMPARE(r.status(), 401);
        QCOMPARE(TestServer::json(r), (QJsonObject{{"message", "Invalid user"}, {"code", "INVALID_USER"}}));

        // The new address was taken since the request: refused, nothing changes, the link
        // stays pending (a failed click changes nothing).
        signUp(server, QStringLiteral("Kim's rival"), QStringLiteral("kim2@example.com"));
        r = server.get(QStringLiteral("/verify-email?token=") + second);
        QCOMPARE(r.status(), 401);
        QCOMPARE(TestServer::json(r), (QJsonObject{{"message", "User already exists. Use another email."},
                                                   {"code", "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"}}));
        r = server.get(QStringLiteral("/verify-email?token=%1&callbackURL=/s").arg(second));
        QCOMPARE(r.status(), 302);
        QCOMPARE(r.header("location"), QByteArray("/s?error=USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"));
        QCOMPARE(emailOf(server, kim.id), QStringLiteral("kim@example.com"));
        QCOMPARE(server.scalar(QStringLiteral("SELECT count(*) FROM \"user\" WHERE email = 'kim2@example.com'")), 1);
        QCOMPARE(server.scalar(QStringLiteral("SELECT count(*) FROM verification WHERE identifier LIKE 'change-email:%'")), 1);

        // A password-reset link mailed to the old address dies with the change.
        QCOMPARE(server.post(QStringLiteral("/request-password-reset"), {{"email", "kim@example.com"}}).status(), 200);
        const QString resetToken = readJsonLines(outbox).last().value("token").toString();
        // A -> B -> A: the first link, once used, does not work again, even though the
        // email is back to the one it was made for.
        const QString toB = requestChange(server, outbox, kim.cookie, QStringLiteral("kim3@example.com"));
        QCOMPARE(server.get(QStringLiteral("/verify-email?token=") + toB).status(), 200);
        QCOMPARE(emailOf(server, kim.id), QStringLiteral("kim3@example.com"));
        r = server.post(QStringLiteral("/reset-password"), {{"newPassword", "another-pass-1"}, {"token", resetToken}});
        QCOMPARE(r.status(), 400);
        QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("INVALID_TOKEN"));
        const QString toA = requestChange(server, outbox, kim.cookie, QStringLiteral("kim@example.com"));
        QCOMPARE(server.get(QStringLiteral("/verify-email?token=") + toA).status(), 200);
        QCOMPARE(emailOf(server, kim.id), QStringLiteral("kim@example.com"));
        r = server.get(QStringLiteral("/verify-email?token=") + toB);
        QCOMPARE(r.status(), 401);
        QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("INVALID_TOKEN"));
        QCOMPARE(emailOf(server, kim.id), QStringLiteral("kim@example.com"));

        // Signed with the secret but never issued by this server (a confirmation this
        // server never stored, Better Auth's legacy kind, a token for an email the user no
        // longer has, an unknown user), or expired.
        const QDateTime now = QDateTime::currentDateTimeUtc();
        auto signedToken = [&](const QJsonObject &claims, const QDateTime &at = QDateTime::currentDateTimeUtc()) {
            return QString::fromLatin1(Jwt::signHs256(claims, kSecret, 3600, at));
        };
        const QList<QPair<QString, QByteArray>> refused{
            {QString::fromLatin1(changeEmailToken(kSecret, ChangeEmailStep::Verification, QStringLiteral("kim@example.com"), QStringLiteral("kim9@example.com"), kim.id, 3600)), "INVALID_TOKEN"},
            {QString::fromLatin1(changeEmailToken(kSecret, ChangeEmailStep::Verification, QStringLiteral("kim3@example.com"), QStringLiteral("kim9@example.com"), kim.id, 3600)), "INVALID_TOKEN"},
            {QString::fromLatin1(changeEmailToken(kSecret, ChangeEmailStep::Verification, QStringLiteral("kim@example.com"), QStringLiteral("kim9@example.com"), QStringLiteral("nobody"), 3600)), "USER_NOT_FOUND"},
            {signedToken({{"email", "kim@example.com"}, {"updateTo", "kim9@example.com"}, {"requestType", "change-email-confirmation"}, {"userId", kim.id}}), "INVALID_TOKEN"},
            {signedToken({{"email", "kim@example.com"}, {"updateTo", "kim9@example.com"}, {"userId", kim.id}}), "INVALID_TOKEN"},
            {signedToken({{"email", "kim@example.com"}, {"updateTo", "kim9@example.com"}, {"requestType", "change-email-verification"}}), "INVALID_TOKEN"},
            {signedToken({{"email", "kim@example.com"}, {"updateTo", "not-an-email"}, {"requestType", "change-email-verification"}, {"userId", kim.id}}), "INVALID_TOKEN"},
            {signedToken({{"email", "kim@example.com"}, {"updateTo", 7}, {"requestType", "change-email-verification"}, {"userId", kim.id}}), "INVALID_TOKEN"},
            {QString::fromLatin1(changeEmailToken(kSecret, ChangeEmailStep::Verification, QStringLiteral("kim@example.com"), QStringLiteral("kim9@example.com"), kim.id, 3600, now.addSecs(-7200))), "TOKEN_EXPIRED"},
        };
        for (const auto &[token, code] : refused) {
            r = server.get(QStringLiteral("/verify-email?token=") + token);
            QCOMPARE(r.status(), 401);
            QCOMPARE(TestServer::json(r).value("code").toString().toLatin1(), code);
        }
        QCOMPARE(emailOf(server, kim.id), QStringLiteral("kim@example.com"));
        QCOMPARE(server.scalar(QStringLiteral("SELECT count(*) FROM \"user\" WHERE email = 'kim9@example.com'")), 0);
    }

    // A verified address confirms first (Better Auth's sendChangeEmailConfirmation, on by
    // default): change-email mails the current address; following that link mails the new
    // address; following that one changes the email and tells the old address.
    void changeEmailConfirmationFlow()
    {
        TestServer server;
        const QString outbox = attachOutbox(server);
        const Signed vera = signUp(server, QStringLiteral("Vera"), QStringLiteral("vera@example.com"));
        markVerified(server, vera.id);

        Response r = server.post(QStringLiteral("/change-email"), {{"newEmail", "Vera.New@Example.org"}, {"callbackURL", "/changed"}}, vera.cookie);
        QCOMPARE(r.status(), 200);
        QCOMPARE(TestServer::json(r), (QJsonObject{{"status", true}}));
        QList<QJsonObject> mails = readJsonLines(outbox);
        QCOMPARE(mails.size(), 1); // nothing to the new address yet
        QJsonObject mail = mails.last();
        QCOMPARE(mail.value("kind").toString(), QStringLiteral("change-email-confirmation"));
        QCOMPARE(mail.value("email").toString(), QStringLiteral("vera@example.com"));
        QCOMPARE(mail.value("userId").toString(), vera.id);
        QCOMPARE(mail.value("subject").toString(), QStringLiteral("Confirm the change of your email address"));
        const QString confirmation = mail.value("token").toString();
        const QString confirmationUrl = QStringLiteral("http://127.0.0.1:3100/api/auth/verify-email?token=%1&callbackURL=%2Fchanged").arg(confirmation);
        QCOMPARE(mail.value("url").toString(), confirmationUrl);
        QString text = mail.value("text").toString();
        QVERIFY2(text.contains(confirmationUrl), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("v***@example.org")), qPrintable(text));
        QVERIFY2(!text.contains(QStringLiteral("vera.new"), Qt::CaseInsensitive), qPrintable(text));
        QJsonObject payload = jwtPayload(confirmation);
        QCOMPARE(payload.keys().size(), 6);
        QCOMPARE(payload.value("exp").toInteger() - payload.value("iat").toInteger(), 3600);
        QByteArray rawPayload = QByteArray::fromBase64(confirmation.toLatin1().split('.').at(1), QByteArray::Base64UrlEncoding);
        QVERIFY2(rawPayload.startsWith("{\"email\":\"vera@example.com\",\"updateTo\":\"vera.new@example.org\","
                                       "\"requestType\":\"change-email-confirmation\",\"userId\":\"" + vera.id.toLatin1() + "\",\"iat\":"),
                 rawPayload.constData());
        QCOMPARE(emailOf(server, vera.id), QStringLiteral("vera@example.com"));
        QCOMPARE(server.scalar(QStringLiteral("SELECT count(*) FROM verification WHERE identifier LIKE 'change-email:%'")), 1);

        // Followed from the signed-in browser with the callback: Better Auth's 302 to it, no
        // session cookie, no change yet, no sooner than 500 ms; the verification link goes
        // to the new address with the same callback.
        QElapsedTimer timer;
        timer.start();
        r = server.get(QStringLiteral("/verify-email?token=%1&callbackURL=%2Fchanged").arg(confirmation), vera.cookie);
        QCOMPARE(r.status(), 302);
        QCOMPARE(r.header("location"), QByteArray("/changed"));
        QVERIFY(!r.cookie(server.auth->sessions().sessionTokenCookie()));
        QVERIFY2(timer.elapsed() >= 490, "the answer takes at least 500 ms, taken address or not");
        QCOMPARE(emailOf(server, vera.id), QStringLiteral("vera@example.com"));
        mails = readJsonLines(outbox);
        QCOMPARE(mails.size(), 2);
        mail = mails.last();
        QCOMPARE(mail.value("kind").toString(), QStringLiteral("verify-email"));
        QCOMPARE(mail.value("email").toString(), QStringLiteral("vera.new@example.org"));
        QCOMPARE(mail.value("userId").toString(), vera.id);
        QCOMPARE(mail.value("subject").toString(), QStringLiteral("Confirm your new email address"));
        const QString verification = mail.value("token").toString();
        QCOMPARE(mail.value("url").toString(),
                 QStringLiteral("http://127.0.0.1:3100/api/auth/verify-email?token=%1&callbackURL=%2Fchanged").arg(verification));
        QVERIFY(!mail.value("text").toString().contains(QStringLiteral("vera@example.com")));
        rawPayload = QByteArray::fromBase64(verification.toLatin1().split('.').at(1), QByteArray::Base64UrlEncoding);
        QVERIFY2(rawPayload.startsWith("{\"email\":\"vera@example.com\",\"updateTo\":\"vera.new@example.org\","
                                       "\"requestType\":\"change-email-verification\",\"userId\":\"" + vera.id.toLatin1() + "\",\"iat\":"),
                 rawPayload.constData());
        QCOMPARE(server.scalar(QStringLiteral("SELECT count(*) FROM verification WHERE identifier LIKE 'change-email:%'")), 1);

        // The confirmation link works once.
        r = server.get(QStringLiteral("/verify-email?token=") + confirmation);
        QCOMPARE(r.status(), 401);
        QCOMPARE(TestServer::json(r), (QJsonObject{{"message", "Invalid token"}, {"code", "INVALID_TOKEN"}}));
        r = server.get(QStringLiteral("/verify-email?token=%1&callbackURL=%2Fchanged").arg(confirmation));
        QCOMPARE(r.header("location"), QByteArray("/changed?error=INVALID_TOKEN"));
        QCOMPARE(readJsonLines(outbox).size(), 2);

        // The verification link (no session, no callback): the change, still verified; the
        // old address is told.
        r = server.get(QStringLiteral("/verify-email?token=") + verification);
        QCOMPARE(r.status(), 200);
        const QJsonObject user = TestServer::json(r).value("user").toObject();
        QCOMPARE(user.value("email").toString(), QStringLiteral("vera.new@example.org"));
        QCOMPARE(user.value("emailVerified").toBool(), true);
        QCOMPARE(emailOf(server, vera.id), QStringLiteral("vera.new@example.org"));
        mails = readJsonLines(outbox);
        QCOMPARE(mails.size(), 3);
        checkNotice(mails.last(), QStringLiteral("vera@example.com"), vera.id, QStringLiteral("v***@example.org"),
                    QStringLiteral("vera.new@example.org"));
        r = server.get(QStringLiteral("/verify-email?token=") + verification);
        QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("INVALID_TOKEN"));
        QCOMPARE(readJsonLines(outbox).size(), 3);
        QCOMPARE(server.scalar(QStringLiteral("SELECT count(*) FROM verification WHERE identifier LIKE 'change-email:%'")), 0);
    }

    void changeEmailConfirmationIsRefusedWhenItNoLongerApplies()
    {
        TestServer server;
        const QString outbox = attachOutbox(server);
        const Signed wes = signUp(server, QStringLiteral("Wes"), QStringLiteral("wes@example.com"));
        const Signed xia = signUp(server, QStringLiteral("Xia"), QStringLiteral("xia@example.com"));
        markVerified(server, wes.id);

        // Only the newest request's link works.
        const QString first = requestChange(server, outbox, wes.cookie, QStringLiteral("wes-typo@example.com"));
        const QString second = requestChange(server, outbox, wes.cookie, QStringLiteral("wes2@example.com"));
        QCOMPARE(readJsonLines(outbox).last().value("kind").toString(), QStringLiteral("change-email-confirmation"));
        Response r = server.get(QStringLiteral("/verify-email?token=") + first);
        QCOMPARE(r.status(), 401);
        QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("INVALID_TOKEN"));

        // Someone else's session at the click: INVALID_USER (Better Auth), in both forms;
        // the link stays good for its owner.
        r = server.get(QStringLiteral("/verify-email?token=") + second, xia.cookie);
        QCOMPARE(r.status(), 401);
        QCOMPARE(TestServer::json(r), (QJsonObject{{"message", "Invalid user"}, {"code", "INVALID_USER"}}));
        r = server.get(QStringLiteral("/verify-email?token=%1&callbackURL=/c").arg(second), xia.cookie);
        QCOMPARE(r.status(), 302);
        QCOMPARE(r.header("location"), QByteArray("/c?error=INVALID_USER"));
        const int mailed = int(readJsonLines(outbox).size());
        const QString verification = confirm(server, outbox, second, QStringLiteral("wes2@example.com"));
        QCOMPARE(readJsonLines(outbox).size(), mailed + 1);

        // Used: refused.
        r = server.get(QStringLiteral("/verify-email?token=") + second);
        QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("INVALID_TOKEN"));
        // A new request voids the verification link an earlier confirmation mailed.
        const QString third = requestChange(server, outbox, wes.cookie, QStringLiteral("wes3@example.com"));
        r = server.get(QStringLiteral("/verify-email?token=") + verification);
        QCOMPARE(r.status(), 401);
        QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("INVALID_TOKEN"));
        QCOMPARE(emailOf(server, wes.id), QStringLiteral("wes@example.com"));

        // Signed with the secret but not a pending request of this server, for another
        // email, an unknown user, or expired.
        const QDateTime now = QDateTime::currentDateTimeUtc();
        auto confirmationToken = [&](const QString &email, const QString &userId, const QDateTime &at) {
            return QString::fromLatin1(changeEmailToken(kSecret, ChangeEmailStep::Confirmation, email,
                                                        QStringLiteral("wes9@example.com"), userId, 3600, at));
        };
        const QList<QPair<QString, QByteArray>> refused{
            {confirmationToken(QStringLiteral("wes@example.com"), wes.id, now), "INVALID_TOKEN"},
            {confirmationToken(QStringLiteral("xia@example.com"), wes.id, now), "INVALID_TOKEN"},
            {confirmationToken(QStringLiteral("wes@example.com"), QStringLiteral("nobody"), now), "USER_NOT_FOUND"},
            {confirmationToken(QStringLiteral("wes@example.com"), wes.id, now.addSecs(-7200)), "TOKEN_EXPIRED"},
        };
        for (const auto &[token, code] : refused) {
            r = server.get(QStringLiteral("/verify-email?token=") + token);
            QCOMPARE(r.status(), 401);
            QCOMPARE(TestServer::json(r).value("code").toString().toLatin1(), code);
        }

        // Stale: the email is no longer the one the link was made for (here an operator
        // changed it): refused, nothing mailed.
        const int before = int(readJsonLines(outbox).size());
        std::optional<User> user = server.store->userById(wes.id);
        user->email = QStringLiteral("wes-moved@example.com");
        server.store->updateUser(*user);
        r = server.get(QStringLiteral("/verify-email?token=%1&callbackURL=/c").arg(third));
        QCOMPARE(r.status(), 302);
        QCOMPARE(r.header("location"), QByteArray("/c?error=INVALID_TOKEN"));
        QCOMPARE(readJsonLines(outbox).size(), before);
        QCOMPARE(server.scalar(QStringLiteral("SELECT count(*) FROM \"user\" WHERE email LIKE 'wes9%' OR email LIKE 'wes3%'")), 0);
    }

    // With the confirmation step too, a taken address gets the same answers after the same
    // time: the confirmation goes to the current address either way, and only the link to
    // the new address is left out.
    void changeEmailConfirmationToATakenAddressRevealsNothing()
    {
        TestServer server;
        const QString outbox = attachOutbox(server);
        const Signed yan = signUp(server, QStringLiteral("Yan"), QStringLiteral("yan@example.com"));
        signUp(server, QStringLiteral("Zoe"), QStringLiteral("zoe@example.com"));
        markVerified(server, yan.id);
        for (const char *email : {"ZOE@example.com", "yan2@example.com", "yan3@example.com"}) {
            QElapsedTimer timer;
            timer.start();
            Response r = server.post(QStringLiteral("/change-email"), {{"newEmail", email}}, yan.cookie);
            QCOMPARE(r.status(), 200);
            QCOMPARE(TestServer::json(r), (QJsonObject{{"status", true}}));
            QVERIFY2(timer.elapsed() >= 490, "the answer takes at least 500 ms either way");
            const QJsonObject mail = readJsonLines(outbox).last();
            QCOMPARE(mail.value("kind").toString(), QStringLiteral("change-email-confirmation"));
            QCOMPARE(mail.value("email").toString(), QStringLiteral("yan@example.com"));
            // yan3 is taken between the request and the confirmation.
            const bool taken = qstrcmp(email, "yan2@example.com") != 0;
            if (qstrcmp(email, "yan3@example.com") == 0)
                signUp(server, QStringLiteral("Yan's rival"), QStringLiteral("yan3@example.com"));
            const int before = int(readJsonLines(outbox).size());
            timer.restart();
            r = server.get(QStringLiteral("/verify-email?token=") + mail.value("token").toString());
            QCOMPARE(r.status(), 200);
            QCOMPARE(TestServer::json(r), (QJsonObject{{"status", true}}));
            QVERIFY2(timer.elapsed() >= 490, "the answer takes at least 500 ms either way");
            QCOMPARE(int(readJsonLines(outbox).size()) - before, taken ? 0 : 1);
        }
        QCOMPARE(emailOf(server, yan.id), QStringLiteral("yan@example.com"));
        QCOMPARE(server.scalar(QStringLiteral("SELECT count(*) FROM \"user\" WHERE email = 'zoe@example.com'")), 1);
    }

    // Turned off, or for an unverified address, the link goes straight to the new address.
    void changeEmailWithoutConfirmation()
    {
        QVERIFY(AuthOptions().changeEmailConfirmationEnabled); // on by default
        const Endpoint *verify = TestServer().auth->router().find("GET", QStringLiteral("/verify-email"));
        QVERIFY(verify);
        QCOMPARE(verify->work, Endpoint::Work::SendsMail); // it mails: the mail pool

        AuthOptions options = TestServer::defaultOptions();
        options.changeEmailConfirmationEnabled = false;
        TestServer off({}, options);
        QString outbox = attachOutbox(off);
        const Signed amy = signUp(off, QStringLiteral("Amy"), QStringLiteral("amy@example.com"));
        markVerified(off, amy.id);
        QString token = requestChange(off, outbox, amy.cookie, QStringLiteral("amy2@example.com"));
        QJsonObject mail = readJsonLines(outbox).last();
        QCOMPARE(mail.value("kind").toString(), QStringLiteral("verify-email"));
        QCOMPARE(mail.value("email").toString(), QStringLiteral("amy2@example.com"));
        QCOMPARE(jwtPayload(token).value("requestType").toString(), QStringLiteral("change-email-verification"));
        QCOMPARE(off.get(QStringLiteral("/verify-email?token=") + token).status(), 200);
        QCOMPARE(emailOf(off, amy.id), QStringLiteral("amy2@example.com"));
        checkNotice(readJsonLines(outbox).last(), QStringLiteral("amy@example.com"), amy.id, QStringLiteral("a***@example.com"),
                    QStringLiteral("amy2@example.com"));

        TestServer on;
        outbox = attachOutbox(on);
        const Signed bo = signUp(on, QStringLiteral("Bo"), QStringLiteral("bo@example.com")); // not verified
        token = requestChange(on, outbox, bo.cookie, QStringLiteral("bo2@example.com"));
        mail = readJsonLines(outbox).last();
        QCOMPARE(mail.value("kind").toString(), QStringLiteral("verify-email"));
        QCOMPARE(mail.value("email").toString(), QStringLiteral("bo2@example.com"));
        QCOMPARE(jwtPayload(token).value("requestType").toString(), QStringLiteral("change-email-verification"));
    }

    // The notice cannot be delivered: logged (kernia.mail), and the change stands.
    void emailChangedNoticeFailureKeepsTheChange()
    {
        TestServer server;
        const QString outbox = server.dir.filePath(QStringLiteral("outbox.jsonl"));
        server.auth->setMailer(std::make_shared<RefusingMailer>(std::make_shared<OutboxMailer>(outbox),
                                                                QStringLiteral("cy@example.com")));
        const Signed cy = signUp(server, QStringLiteral("Cy"), QStringLiteral("cy@example.com"));
        const QString token = requestChange(server, outbox, cy.cookie, QStringLiteral("cy2@example.com"));

        const QList<LoggedMessage> logged = captureLog([&] {
            const Response r = server.get(QStringLiteral("/verify-email?token=%1&callbackURL=/done").arg(token), cy.cookie);
            QCOMPARE(r.status(), 302);
            QCOMPARE(r.header("location"), QByteArray("/done"));
            QCOMPARE(server.sessionCookie(r), cy.cookie);
        });
        QCOMPARE(emailOf(server, cy.id), QStringLiteral("cy2@example.com"));
        QCOMPARE(readJsonLines(outbox).size(), 1); // only the link: the notice was refused
        bool warned = false;
        for (const LoggedMessage &message : logged) {
            if (message.type == QtWarningMsg && message.category == QLatin1String("kernia.mail")
                && message.text.contains(QStringLiteral("could not send the email-changed mail"))
                && message.text.contains(QStringLiteral("550 mailbox unavailable")))
                warned = true;
        }
        QVERIFY2(warned, "a kernia.mail warning names the failed notice");
        const QJsonObject session = TestServer::json(server.get(QStringLiteral("/get-session"), cy.cookie));
        QCOMPARE(session.value("user").toObject().value("email").toString(), QStringLiteral("cy2@example.com"));
    }

    // --- password change notice ------------------------------------------------------------

    // change-password mails a notice (no link) to a verified address; nothing for an
    // unverified one or a refused change; a refused mail leaves the change standing.
    void passwordChangeIsNoticed()
    {
        TestServer server;
        const QString outbox = server.dir.filePath(QStringLiteral("outbox.jsonl"));
        server.auth->setMailer(std::make_shared<RefusingMailer>(std::make_shared<OutboxMailer>(outbox),
                                                                QStringLiteral("refused@example.com")));
        const auto verified = [&](const QString &email) {
            const Signed user = signUp(server, QStringLiteral("Pat"), email);
            std::optional<User> row = server.store->userById(user.id);
            row->emailVerified = true;
            server.store->updateUser(*row);
            return user;
        };
        const auto change = [&](const Signed &user, const char *current, const char *next) {
            return server.post(QStringLiteral("/change-password"),
                               {{"currentPassword", current}, {"newPassword", next}, {"revokeOtherSessions", false}}, user.cookie);
        };

        const Signed pat = verified(QStringLiteral("pat@example.com"));
        QCOMPARE(change(pat, "wrong-password", "password456").status(), 400);
        QCOMPARE(readJsonLines(outbox).size(), 0);
        QCOMPARE(change(pat, "password123", "password456").status(), 200);
        QList<QJsonObject> mails = readJsonLines(outbox);
        QCOMPARE(mails.size(), 1);
        const QJsonObject notice = mails.last();
        QCOMPARE(notice.value("kind").toString(), QStringLiteral("password-changed"));
        QCOMPARE(notice.value("email").toString(), QStringLiteral("pat@example.com"));
        QCOMPARE(notice.value("userId").toString(), pat.id);
        QCOMPARE(notice.value("subject").toString(), QStringLiteral("Your password was changed"));
        QVERIFY(notice.value("url").toString().isEmpty());
        QVERIFY(!notice.value("text").toString().contains(QStringLiteral("http")));
        QVERIFY(!notice.value("text").toString().contains(QStringLiteral("password456")));

        const Signed unproven = signUp(server, QStringLiteral("Una"), QStringLiteral("una@example.com"));
        QCOMPARE(change(unproven, "password123", "password456").status(), 200);
        QCOMPARE(readJsonLines(outbox).size(), 1);

        const Signed refused = verified(QStringLiteral("refused@example.com"));
        const QList<LoggedMessage> logged = captureLog([&] {
            QCOMPARE(change(refused, "password123", "password456").status(), 200);
        });
        QCOMPARE(server.post(QStringLiteral("/sign-in/email"), {{"email", "refused@example.com"}, {"password", "password456"}}).status(), 200);
        bool warned = false;
        for (const LoggedMessage &message : logged)
            warned = warned || (message.category == QLatin1String("kernia.mail") && message.text.contains(QStringLiteral("password-changed")));
        QVERIFY2(warned, "a kernia.mail warning names the failed notice");
    }

    // --- password reset -------------------------------------------------------------------

    void passwordResetFlow()
    {
        TestServer server;
        const QString outbox = attachOutbox(server);
        const Response up = server.post(QStringLiteral("/sign-up/email"), {{"name", "Ivo"}, {"email", "ivo@example.com"}, {"password", "password123"}});
        const QString userId = TestServer::json(up).value("user").toObject().value("id").toString();
        const QJsonObject expected{{"status", true}, {"message", "If this email exists in our system, check your email for the reset link"}};

        Response r = server.post(QStringLiteral("/request-password-reset"), {{"email", "nobody@example.com"}});
        QCOMPARE(r.status(), 200);
        QCOMPARE(TestServer::json(r), expected);
        QCOMPARE(readJsonLines(outbox).size(), 0);
        r = server.post(QStringLiteral("/request-password-reset"), {{"email", "IVO@example.com"}, {"redirectTo", "https://evil.example/"}});
        QCOMPARE(r.status(), 403);
        QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("INVALID_REDIRECT_URL"));
        r = server.post(QStringLiteral("/request-password-reset"), {{"email", "IVO@example.com"}, {"redirectTo", "/reset"}});
        QCOMPARE(TestServer::json(r), expected);
        const QList<QJsonObject> mails = readJsonLines(outbox);
        QCOMPARE(mails.size(), 1);
        const QString token = mails.first().value("token").toString();
        QVERIFY(QRegularExpression(QStringLiteral("^[A-Za-z0-9]{24}$")).match(token).hasMatch());
        QCOMPARE(mails.first().value("kind").toString(), QStringLiteral("reset-password"));
        QCOMPARE(mails.first().value("userId").toString(), userId);
        QCOMPARE(mails.first().value("url").toString(),
                 QStringLiteral("http://127.0.0.1:3100/api/auth/reset-password/%1?callbackURL=%2Freset").arg(token));
        QCOMPARE(server.scalar(QStringLiteral("SELECT count(*) FROM verification WHERE identifier = :i AND value = :u"),
                               {{"i", QStringLiteral("reset-password:") + token}, {"u", userId}}), 1);

        // The mailed link: 302 to the app with the token; not consumed.
        r = server.get(QStringLiteral("/reset-password/%1?callbackURL=%2Freset").arg(token));
        QCOMPARE(r.status(), 302);
        QCOMPARE(r.header("location"), QStringLiteral("http://127.0.0.1:3100/reset?token=%1").arg(token).toUtf8());
        QCOMPARE(r.contentType(), QByteArray("application/json"));
        QVERIFY(r.body().isEmpty());
        r = server.get(QStringLiteral("/reset-password/%1?callbackURL=%2Freset").arg(token));
        QCOMPARE(r.status(), 302);
        r = server.get(QStringLiteral("/reset-password/unknown?callbackURL=/reset"));
        QCOMPARE(r.header("location"), QByteArray("http://127.0.0.1:3100/reset?error=INVALID_TOKEN"));
        r = server.get(QStringLiteral("/reset-password/%1").arg(token));
        QCOMPARE(r.status(), 400);
        QCOMPARE(TestServer::json(r).value("message").toString(), QStringLiteral("[query.callbackURL] Invalid input: expected string, received undefined"));
        r = server.get(QStringLiteral("/reset-password/%1?callbackURL=https://evil.example/").arg(token));
        QCOMPARE(r.status(), 403);

        r = server.post(QStringLiteral("/reset-password"), {{"newPassword", "resetpass123"}});
        QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("INVALID_TOKEN"));
        r = server.post(QStringLiteral("/reset-password"), {{"newPassword", "short"}, {"token", token}});
        QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("PASSWORD_TOO_SHORT"));
        r = server.post(QStringLiteral("/reset-password"), {{"newPassword", "resetpass123"}, {"token", token}});
        QCOMPARE(r.status(), 200);
        QCOMPARE(TestServer::json(r), (QJsonObject{{"status", true}}));
        r = server.post(QStringLiteral("/reset-password"), {{"newPassword", "resetpass456"}, {"token", token}});
        QCOMPARE(r.status(), 400);
        QCOMPARE(TestServer::json(r), (QJsonObject{{"message", "Invalid token"}, {"code", "INVALID_TOKEN"}}));
        QCOMPARE(server.post(QStringLiteral("/sign-in/email"), {{"email", "ivo@example.com"}, {"password", "password123"}}).status(), 401);
        QCOMPARE(server.post(QStringLiteral("/sign-in/email"), {{"email", "ivo@example.com"}, {"password", "resetpass123"}}).status(), 200);
    }

    void passwordResetGivesAnAnonymousOrPasswordlessUserAPassword()
    {
        // A user without a credential account (e.g. magic-link only) gets one.
        TestServer server;
        const QString outbox = attachOutbox(server);
        User user;
        user.id = QStringLiteral("Uxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        user.name = QStringLiteral("Jo");
        user.email = QStringLiteral("jo@example.com");
        user.createdAt = user.updatedAt = nowUtc();
        server.store->createUser(user);
        QCOMPARE(server.post(QStringLiteral("/request-password-reset"), {{"email", "jo@example.com"}}).status(), 200);
        const QString token = readJsonLines(outbox).last().value("token").toString();
        QCOMPARE(server.post(QStringLiteral("/reset-password?token=") + token, {{"newPassword", "brandnew123"}}).status(), 200);
        QCOMPARE(server.post(QStringLiteral("/sign-in/email"), {{"email", "jo@example.com"}, {"password", "brandnew123"}}).status(), 200);
    }

    // Account pre-hijacking (review 2026-11-24): someone signs up with the owner's address
    // (unverified; sign-up signs them in) and adds a passkey. The owner's reset link proves
    // the mailbox: every way in opened before it ends, as with a magic link.
    void passwordResetOfAnUnverifiedUserEndsEveryWayInOpenedBeforeIt()
    {
        TestServer server;
        const QString outbox = attachOutbox(server);
        const Response up = server.post(QStringLiteral("/sign-up/email"),
                                        {{"name", "Mallory"}, {"email", "vic@example.com"}, {"password", "attacker123"}});
        const QByteArray attackerCookie = server.sessionCookie(up);
        const QString userId = TestServer::json(up).value("user").toObject().value("id").toString();
        const Passkey planted = storedPasskey(QStringLiteral("pk-planted"), userId, QStringLiteral("planted-credential"));
        server.store->createPasskey(planted);
        Account social;
        social.id = QStringLiteral("acct-social");
        social.accountId = QStringLiteral("attacker-at-provider");
        social.providerId = QStringLiteral("github");
        social.userId = userId;
        social.createdAt = social.updatedAt = nowUtc();
        server.store->createAccount(social);

        QCOMPARE(server.post(QStringLiteral("/request-password-reset"), {{"email", "vic@example.com"}}).status(), 200);
        const QString token = readJsonLines(outbox).last().value("token").toString();
        const Response reset = server.post(QStringLiteral("/reset-password"), {{"newPassword", "owner12345"}, {"token", token}});
        QCOMPARE(reset.status(), 200);
        QCOMPARE(TestServer::json(reset), (QJsonObject{{"status", true}}));

        QCOMPARE(server.get(QStringLiteral("/get-session"), attackerCookie).body(), QByteArray("null"));
        QCOMPARE(server.scalar(QStringLiteral("SELECT count(*) FROM session WHERE \"userId\" = :u"), {{"u", userId}}), 0);
        QCOMPARE(server.scalar(QStringLiteral("SELECT count(*) FROM passkey WHERE \"userId\" = :u"), {{"u", userId}}), 0);
        QCOMPARE(server.scalar(QStringLiteral("SELECT count(*) FROM account WHERE \"userId\" = :u AND \"providerId\" <> 'credential'"),
                               {{"u", userId}}), 0);
        QCOMPARE(server.post(QStringLiteral("/sign-in/email"), {{"email", "vic@example.com"}, {"password", "attacker123"}}).status(), 401);
        const Response owner = server.post(QStringLiteral("/sign-in/email"), {{"email", "vic@example.com"}, {"password", "owner12345"}});
        QCOMPARE(owner.status(), 200);
        const QJsonObject user = TestServer::json(owner).value("user").toObject();
        QCOMPARE(user.value("id").toString(), userId);   // the same user: its data stays
        QCOMPARE(user.value("emailVerified").toBool(), true);
    }

    // Any reset ends the user's sessions (Kernia's default; Better Auth's
    // revokeSessionsOnPasswordReset is off by default) but keeps a verified user's passkeys.
    void passwordResetOfAVerifiedUserRevokesItsSessions()
    {
        for (const bool revoke : {true, false}) {
            AuthOptions options = TestServer::defaultOptions();
            options.revokeSessionsOnPasswordReset = revoke;
            TestServer server({}, options);
            const QString outbox = attachOutbox(server);
            const Response up = server.post(QStringLiteral("/sign-up/email"),
                                            {{"name", "Una"}, {"email", "una@example.com"}, {"password", "password123"}});
            const QString userId = TestServer::json(up).value("user").toObject().value("id").toString();
            std::optional<User> user = server.store->userById(userId);
            user->emailVerified = true;
            server.store->updateUser(*user);
            const Passkey passkey = storedPasskey(QStringLiteral("pk-own"), userId, QStringLiteral("own-credential"));
            server.store->createPasskey(passkey);

            QCOMPARE(server.post(QStringLiteral("/request-password-reset"), {{"email", "una@example.com"}}).status(), 200);
            const QString token = readJsonLines(outbox).last().value("token").toString();
            QCOMPARE(server.post(QStringLiteral("/reset-password"), {{"newPassword", "newpass1234"}, {"token", token}}).status(), 200);
            const QByteArray session = server.get(QStringLiteral("/get-session"), server.sessionCookie(up)).body();
            QCOMPARE(session == "null", revoke);
            QCOMPARE(server.scalar(QStringLiteral("SELECT count(*) FROM passkey WHERE \"userId\" = :u"), {{"u", userId}}), 1);
            QCOMPARE(server.post(QStringLiteral("/sign-in/email"), {{"email", "una@example.com"}, {"password", "newpass1234"}}).status(), 200);
        }
    }
};

QTEST_GUILESS_MAIN(TestMail)
#include "tst_mail.moc"
