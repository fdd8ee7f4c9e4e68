// Helpers for the SDK tests: a real kernia-server process, a misbehaving TCP server,
// the keychain, and raw HTTP requests. Every wait is bounded.
#pragma once

#include <QtCore/QCoreApplication>
#include <QtCore/QDeadlineTimer>
#include <QtCore/QDir>
#include <QtCore/QEventLoop>
#include <QtCore/QFile>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QProcess>
#include <QtCore/QRegularExpression>
#include <QtCore/QTemporaryDir>
#include <QtCore/QTimer>
#include <QtCore/QUrl>
#include <QtCore/QUuid>
#include <QtNetwork/QNetworkAccessManager>
#include <QtNetwork/QNetworkReply>
#include <QtNetwork/QTcpServer>
#include <QtNetwork/QTcpSocket>

#include <qt6keychain/keychain.h>

#include <memory>

namespace KerniaTest {

inline const QString &secret()
{
    static const QString s = QStringLiteral("kernia-sdk-test-secret-0123456789ABCDEFG");   // 40 chars
    return s;
}

inline QString serverBinary()
{
    return qEnvironmentVariable("KERNIA_SERVER");
}

// A free TCP port on 127.0.0.1 (for "the server comes up later on this port").
inline quint16 freePort()
{
    QTcpServer probe;
    probe.listen(QHostAddress::LocalHost, 0);
    const quint16 port = probe.serverPort();
    probe.close();
    return port;
}

// A kernia-server process on 127.0.0.1 with its own temp data dir.
class TestServer
{
public:
    TestServer() : m_dataDir(std::make_unique<QTemporaryDir>()) { }
    ~TestServer() { kill(); }

    // Starts the server (port 0 = any free port) and waits (bounded) for its
    // "listening on http://HOST:PORT" line.
    bool start(quint16 port = 0, const QStringList &extraArgs = {})
    {
        kill();
        m_output.clear();
        m_process = std::make_unique<QProcess>();
        m_process->setProcessChannelMode(QProcess::MergedChannels);
        QStringList args{ QStringLiteral("--host"), QStringLiteral("127.0.0.1"),
                          QStringLiteral("--port"), QString::number(port),
                          QStringLiteral("--data-dir"), m_dataDir->path(),
                          QStringLiteral("--secret"), secret() };
        if (supportsNoRateLimit())
            args << QStringLiteral("--no-rate-limit");
        args << extraArgs;
        m_process->start(serverBinary(), args);
        if (!m_process->waitForStarted(10000))
            return false;
        static const QRegularExpression re(QStringLiteral("listening on (http://[^\\s]+)"));
        QDeadlineTimer deadline(20000);
        while (!deadline.hasExpired()) {
            m_process->waitForReadyRead(100);
            m_output += m_process->readAll();
            const auto match = re.match(QString::fromUtf8(m_output));
            if (match.hasMatch()) {
                m_url = QUrl(match.captured(1));
                return true;
            }
            if (m_process->state() == QProcess::NotRunning)
                break;
        }
        qWarning() << "kernia-server did not start:" << m_output;
        return false;
    }

    // SIGKILL: no graceful shutdown, connections die mid-request.
    void kill()
    {
        if (m_process && m_process->state() != QProcess::NotRunning) {
            m_process->kill();
            m_process->waitForFinished(10000);
        }
        m_process.reset();
    }

    // Rate limiting (on by default once it exists) is switched off for tests.
    static bool supportsNoRateLimit()
    {
        static int supported = -1;
        if (supported < 0) {
            QProcess help;
            help.setProcessChannelMode(QProcess::MergedChannels);
            help.start(serverBinary(), { QStringLiteral("--help") });
            help.waitForFinished(10000);
            supported = help.readAll().contains("--no-rate-limit") ? 1 : 0;
        }
        return supported == 1;
    }

    bool isRunning() const { return m_process && m_process->state() == QProcess::Running; }
    QUrl url() const { return m_url; }
    quint16 port() const { return quint16(m_url.port()); }
    QString output() const { return QString::fromUtf8(m_output); }

private:
    std::unique_ptr<QTemporaryDir> m_dataDir;
    std::unique_ptr<QProcess> m_process;
    QByteArray m_output;
    QUrl m_url;
};

// A TCP server that answers every connection with something that is not the protocol.
class BadServer : public QTcpServer
{
public:
    enum class Mode {
        Nonsense,   // bytes that are not HTTP, then close
        HtmlOk,     // HTTP 200 with an HTML body where JSON is expected
        Hang        // accept and never answer
    };
    explicit BadServer(Mode mode) : m_mode(mode) { listen(QHostAddress::LocalHost, 0); }
    QUrl url() const { return QUrl(QStringLiteral("http://127.0.0.1:%1").arg(serverPort())); }
    int connections() const { return m_connections; }

protected:
    void incomingConnection(qintptr handle) override
    {
        auto *socket = new QTcpSocket(this);
        socket->setSocketDescriptor(handle);
        ++m_connections;
        if (m_mode == Mode::Hang)
            return;   // keep it open, say nothing
        QObject::connect(socket, &QTcpSocket::readyRead, socket, [this, socket] {
            socket->readAll();
            if (m_mode == Mode::Nonsense) {
                socket->write("SSH-2.0-OpenSSH_9.2 what is this\r\n\x01\x02\x03garbage\r\n\r\n");
            } else {
                const QByteArray body = "<html><body>Welcome to the captive portal</body></html>";
                socket->write("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
                              + QByteArray::number(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
            }
            socket->flush();
            socket->disconnectFromHost();
        });
    }

private:
    Mode m_mode;
    int m_connections = 0;
};

// --- keychain -------------------------------------------------------------------------

struct KeychainEntry
{
    QKeychain::Error error = QKeychain::OtherError;
    QString value;
};

inline void runJob(QKeychain::Job *job)
{
    QEventLoop loop;
    QObject::connect(job, &QKeychain::Job::finished, &loop, &QEventLoop::quit);
    QTimer::singleShot(15000, &loop, &QEventLoop::quit);
    job->start();
    loop.exec();
}

inline KeychainEntry readToken(const QString &service)
{
    QKeychain::ReadPasswordJob job(service);
    job.setAutoDelete(false);
    job.setKey(QStringLiteral("session-token"));
    runJob(&job);
    return { job.error(), job.textData() };
}

inline QKeychain::Error writeToken(const QString &service, const QString &token)
{
    QKeychain::WritePasswordJob job(service);
    job.setAutoDelete(false);
    job.setKey(QStringLiteral("session-token"));
    job.setTextData(token);
    runJob(&job);
    return job.error();
}

// --- raw HTTP ---------------------------------------------------------------------------

struct RawReply
{
    int status = 0;
    QJsonValue body;
    QByteArray setAuthToken;
};

inline RawReply rawRequest(const QByteArray &verb, const QUrl &url, const QJsonObject &body = {},
                           const QByteArray &bearer = {})
{
    QNetworkAccessManager nam;
    QNetworkRequest req(url);
    req.setTransferTimeout(15000);
    req.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    if (!bearer.isEmpty())
        req.setRawHeader("Authorization", "Bearer " + bearer);
    QNetworkReply *reply = verb == "GET" ? nam.get(req)
                                         : nam.post(req, QJsonDocument(body).toJson(QJsonDocument::Compact));
    QEventLoop loop;
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    QTimer::singleShot(20000, &loop, &QEventLoop::quit);
    loop.exec();
    RawReply r;
    r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    const QByteArray data = reply->readAll();
    r.body = data.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonDocument::fromJson(data).object();
    if (data.trimmed() == "null")
        r.body = QJsonValue(QJsonValue::Null);
    r.setAuthToken = reply->rawHeader("set-auth-token");
    delete reply;
    return r;
}

inline QUrl api(const QUrl &server, const QString &path)
{
    QUrl u = server;
    u.setPath(QStringLiteral("/api/auth") + path);
    return u;
}

} // namespace KerniaTest
