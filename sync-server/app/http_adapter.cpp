#include "http_adapter.h"

#include "auth/auth_server.h"
#include "http/request.h"
#include "http/response.h"
#include "ops/health.h"
#include "ops/request_log.h"
#include "ratelimit/rate_limiter.h"

#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <memory>

Q_LOGGING_CATEGORY(lcHttp, "kernia.http")

namespace Kernia::Server {

namespace {

QByteArray methodName(QHttpServerRequest::Method method)
{
    switch (method) {
    case QHttpServerRequest::Method::Get: return "GET";
    case QHttpServerRequest::Method::Put: return "PUT";
    case QHttpServerRequest::Method::Delete: return "DELETE";
    case QHttpServerRequest::Method::Post: return "POST";
    case QHttpServerRequest::Method::Head: return "HEAD";
    case QHttpServerRequest::Method::Options: return "OPTIONS";
    case QHttpServerRequest::Method::Patch: return "PATCH";
    case QHttpServerRequest::Method::Connect: return "CONNECT";
    case QHttpServerRequest::Method::Trace: return "TRACE";
    default: return "UNKNOWN";
    }
}

Request toRequest(const QHttpServerRequest &source)
{
    Request request;
    request.method = methodName(source.method());
    request.path = source.url().path(QUrl::FullyDecoded);
    request.query = source.query();
    for (const auto &[name, value] : source.headers())
        request.headers.append({name.toLower(), value});
    request.body = source.body();
    request.peerAddress = source.remoteAddress().toString();
    return request;
}

QHttpServerResponse toHttpResponse(const Response &response)
{
    const auto status = QHttpServerResponse::StatusCode(response.status());
    QHttpServerResponse http(response.contentType(), response.body(), status);
    if (response.contentType().isEmpty())
        http.clearHeader("Content-Type"); // Better Auth's empty 404s carry no content type
    // Qt HttpServer 6.4 writes headers in reverse order of addHeader(); add them backwards
    // so Set-Cookie lines keep Better Auth's order.
    const auto lines = response.wireHeaders();
    for (auto it = lines.crbegin(); it != lines.crend(); ++it) {
        if (it->first != "content-type")
            http.addHeader(it->first, it->second);
    }
    return http;
}

} // namespace

HttpAdapter::HttpAdapter(int workerThreads, QObject *parent)
    : QObject(parent)
{
    m_workers.setMaxThreadCount(workerThreads);
    // Password endpoints wait for one of the few scrypt slots; in the shared pool a burst
    // of sign-ups would occupy every worker and stall get-session behind them.
    m_passwordWorkers.setMaxThreadCount(4);
    // Every path goes through the missing handler: it is the one handler type of Qt
    // HttpServer 6.4 that hands us the responder to finish asynchronously (QFuture
    // handlers crash when the client disconnects, see docs/qt-notes.md).
    m_server.setMissingHandler([this](const QHttpServerRequest &request, QHttpServerResponder &&responder) {
        dispatch(request, std::move(responder));
    });
}

quint16 HttpAdapter::listen(const QHostAddress &address, quint16 port)
{
    return m_server.listen(address, port);
}

void HttpAdapter::dispatch(const QHttpServerRequest &source, QHttpServerResponder &&responder)
{
    QElapsedTimer timer;
    timer.start();
    auto held = std::make_shared<QHttpServerResponder>(std::move(responder));
    QTcpSocket *const connection = held->socket();
    QPointer<QTcpSocket> socket(connection);
    Request request = toRequest(source);
    const QByteArray requestId = requestIdFor(request);
    const QString client = RateLimiter::clientAddress(request, m_clientAddressHeaders);
    ++m_inFlight;
    ++m_pending[connection];
    QThreadPool &pool = m_auth && m_auth->hashesPassword(request) ? m_passwordWorkers : m_workers;
    pool.start([this, held, socket, connection, timer, requestId, client, request = std::move(request)]() mutable {
        Response response;
        if (!m_auth)
            response = Response::empty(503);
        else if (request.method == "GET" && request.path == QLatin1String(kHealthPath))
            response = healthResponse(m_auth->store());
        else
            response = m_auth->handle(request);
        response.setHeader("x-request-id", requestId);
        qCInfo(lcHttp).noquote() << formatRequestLog({request.method, request.path, response.status(),
                                                      double(timer.nsecsElapsed()) / 1e6, client, requestId});
        // Back on the server thread: the responder and its socket live there.
        QMetaObject::invokeMethod(this, [this, held = std::move(held), socket, connection,
                                         response = std::move(response)] {
            if (socket) // else the client went away; nothing to write to
                toHttpResponse(response).write(std::move(*held));
            finished(connection);
        }, Qt::QueuedConnection);
    });
}

void HttpAdapter::finished(QTcpSocket *connection)
{
    --m_inFlight;
    const auto it = m_pending.find(connection);
    if (it != m_pending.end() && --it.value() <= 0)
        m_pending.erase(it);
}

void HttpAdapter::shutdown(int timeoutMs, std::function<void(bool drained)> done)
{
    for (QTcpServer *listener : m_server.servers())
        listener->close();   // no new connections from here on
    QElapsedTimer elapsed;
    elapsed.start();
    m_drainTimer.setInterval(10);
    connect(&m_drainTimer, &QTimer::timeout, this, [this, elapsed, timeoutMs, done = std::move(done)] {
        const bool drained = drainStep();
        if (drained || elapsed.hasExpired(timeoutMs)) {
            m_drainTimer.stop();
            done(drained);
        }
    });
    drainStep();
    m_drainTimer.start();
}

bool HttpAdapter::drainStep()
{
    bool waiting = m_inFlight > 0;
    // Connections are children of the listeners, which are children of the server.
    for (QTcpSocket *socket : m_server.findChildren<QTcpSocket *>()) {
        if (socket->state() == QAbstractSocket::UnconnectedState)
            continue;
        if (m_pending.contains(socket) || socket->bytesToWrite() > 0) {
            waiting = true;   // a response is being made or is still on its way out
            continue;
        }
        socket->disconnectFromHost();   // idle keep-alive connection
    }
    return !waiting;
}

} // namespace Kernia::Server
