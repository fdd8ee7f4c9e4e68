#include "request_loop.h"

#include "auth/auth_server.h"
#include "http/idle_spin.h"
#include "http/request.h"
#include "http/response.h"
#include "ops/health.h"
#include "ops/request_log.h"
#include "ratelimit/rate_limiter.h"

#include <QElapsedTimer>
#include <QHttpServer>
#include <QLoggingCategory>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QThread>
#include <QThreadPool>

#include <unistd.h>

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

void writeResponse(const Response &response, QHttpServerResponder &&responder)
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
    http.write(std::move(responder));
}

// What the request gets, on whichever thread runs it; logs one line (kernia.http).
Response respond(AuthServer *auth, const Request &request, const AuthServer::Route &route,
                 const QByteArray &requestId, const QString &client, const QElapsedTimer &timer)
{
    Response response;
    if (!auth)
        response = Response::empty(503);
    else if (request.method == "GET" && request.path == QLatin1String(kHealthPath))
        response = healthResponse(auth->store());
    else
        response = auth->handle(request, route);
    response.setHeader("x-request-id", requestId);
    qCInfo(lcHttp).noquote() << formatRequestLog({request.method, request.path, response.status(),
                                                  double(timer.nsecsElapsed()) / 1e6, client, requestId});
    return response;
}

} // namespace

RequestLoop::RequestLoop(int index, qintptr listeningSocket, const Shared &shared)
    : m_index(index), m_shared(shared), m_thread(new QThread)
{
    m_thread->setObjectName(QStringLiteral("kernia-http-%1").arg(index));
    moveToThread(m_thread);
    m_thread->start();
    QMetaObject::invokeMethod(this, [this, listeningSocket] { serve(listeningSocket); },
                              Qt::BlockingQueuedConnection);
}

RequestLoop::~RequestLoop()
{
    if (m_thread->isRunning()) {
        QMetaObject::invokeMethod(this, [this] { stop(); }, Qt::BlockingQueuedConnection);
        m_thread->quit();
        m_thread->wait();
    }
    delete m_thread;
}

void RequestLoop::serve(qintptr listeningSocket)
{
    m_server = new QHttpServer(this);
    // Every path goes through the missing handler: it is the one handler type of Qt
    // HttpServer 6.4 that hands us the responder to finish asynchronously (QFuture
    // handlers crash when the client disconnects, see docs/qt-notes.md).
    m_server->setMissingHandler([this](const QHttpServerRequest &request, QHttpServerResponder &&responder) {
        dispatch(request, std::move(responder));
    });
    m_listener = new QTcpServer;
    if (!m_listener->setSocketDescriptor(listeningSocket)) {
        qCCritical(lcHttp, "request loop %d cannot use the listening socket: %s", m_index,
                   qPrintable(m_listener->errorString()));
        ::close(int(listeningSocket));
        delete m_listener;
        m_listener = nullptr;
        return;
    }
    // Every loop waits on the same socket; the ones that lose the race for a connection
    // get EAGAIN, which QTcpServer ignores. Anything else stops this loop's accepting.
    connect(m_listener, &QTcpServer::acceptError, this, [this](QAbstractSocket::SocketError) {
        qCWarning(lcHttp, "request loop %d: accept failed (%s); it no longer takes new connections",
                  m_index, qPrintable(m_listener->errorString()));
    });
    m_server->bind(m_listener);   // the server becomes the listener's parent
    if (m_shared.idleSpin->enabled()) {
        m_spinTimer = new QTimer(this);
        m_spinTimer->setInterval(0);
        connect(m_spinTimer, &QTimer::timeout, this, &RequestLoop::spinTurn);
    }
    m_serving = true;
}

void RequestLoop::dispatch(const QHttpServerRequest &source, QHttpServerResponder &&responder)
{
    QElapsedTimer timer;
    timer.start();
    QTcpSocket *const connection = responder.socket();
    Request request = toRequest(source);
    const QByteArray requestId = requestIdFor(request);
    const QString client = RateLimiter::clientAddress(request, m_shared.clientAddressHeaders);
    AuthServer *const auth = m_shared.auth.load(std::memory_order_acquire);
    m_shared.idleSpin->requestStarted();
    ++m_pending[connection];

    const AuthServer::Route route = auth ? auth->route(request) : AuthServer::Route();
    QThreadPool *const pool = poolFor(route.work());
    if (!pool) {
        Response response = respond(auth, request, route, requestId, client, timer);
        if (response.isHeld()) {
            answerLater(std::move(response), std::make_shared<QHttpServerResponder>(std::move(responder)),
                        connection, connection);
            return;
        }
        writeResponse(response, std::move(responder));
        finished(connection);
        spinAfterAnswer();
        return;
    }

    // Off this loop, so its other connections keep being answered meanwhile.
    auto held = std::make_shared<QHttpServerResponder>(std::move(responder));
    QPointer<QTcpSocket> socket(connection);
    pool->start([this, auth, held, socket, connection, timer, requestId, client, route,
                 request = std::move(request)]() mutable {
        Response response = respond(auth, request, route, requestId, client, timer);
        // Back on the loop's thread: the responder and its socket live there.
        QMetaObject::invokeMethod(this, [this, held = std::move(held), socket, connection,
                                         response = std::move(response)]() mutable {
            answerLater(std::move(response), std::move(held), socket, connection);
        }, Qt::QueuedConnection);
    });
}

QThreadPool *RequestLoop::poolFor(Endpoint::Work work) const
{
    switch (work) {
    case Endpoint::Work::Quick:
        return nullptr;
    case Endpoint::Work::HashesPassword:
        return m_shared.passwordWorkers;
    case Endpoint::Work::SendsMail:
        return m_shared.mailWorkers;
    }
    return nullptr;
}

void RequestLoop::answerLater(Response response, std::shared_ptr<QHttpServerResponder> responder,
                              QPointer<QTcpSocket> socket, QTcpSocket *connection)
{
    if (socket && response.isHeld()) {
        const qint64 wait = response.heldUntil().remainingTime();
        // A precise timer: a coarse one may fire up to 5% early, and the hold is a floor.
        QTimer::singleShot(std::chrono::milliseconds(wait), Qt::PreciseTimer, this,
                           [this, response = std::move(response), responder = std::move(responder), socket,
                            connection]() mutable {
                               answerLater(std::move(response), std::move(responder), socket, connection);
                           });
        return;
    }
    if (socket) // else the client went away; nothing to write to
        writeResponse(response, std::move(*responder));
    finished(connection);
}

void RequestLoop::finished(QTcpSocket *connection)
{
    m_shared.idleSpin->requestFinished();
    const auto it = m_pending.find(connection);
    if (it != m_pending.end() && --it.value() <= 0)
        m_pending.erase(it);
}

// The client is likely to send its next request within the window: poll for it rather than
// sleep and be woken (http/idle_spin.h). A zero timer keeps the event loop from blocking.
void RequestLoop::spinAfterAnswer()
{
    if (!m_spinTimer)
        return;
    m_sinceLastAnswer.start();
    if (!m_spinTimer->isActive() && m_shared.idleSpin->tryClaim())
        m_spinTimer->start();
}

void RequestLoop::spinTurn()
{
    if (!m_shared.idleSpin->keepSpinning(m_sinceLastAnswer.nsecsElapsed())) {
        stopSpinning();
        return;
    }
    QThread::yieldCurrentThread();   // any runnable thread goes first
}

void RequestLoop::stopSpinning()
{
    if (m_spinTimer && m_spinTimer->isActive()) {
        m_spinTimer->stop();
        m_shared.idleSpin->release();
    }
}

void RequestLoop::beginDrain()
{
    QMetaObject::invokeMethod(this, [this] {
        stopSpinning();
        if (m_listener)
            m_listener->close();   // no new connections from here on
        if (!m_drainTimer) {
            m_drainTimer = new QTimer(this);
            m_drainTimer->setInterval(10);
            connect(m_drainTimer, &QTimer::timeout, this, &RequestLoop::drainStep);
            m_drainTimer->start();
        }
        drainStep();
    }, Qt::QueuedConnection);
}

void RequestLoop::drainStep()
{
    bool waiting = !m_pending.isEmpty();   // a request of this loop is still being answered
    if (m_server) {
        // Connections are children of the listener, which is a child of the server.
        for (QTcpSocket *socket : m_server->findChildren<QTcpSocket *>()) {
            if (socket->state() == QAbstractSocket::UnconnectedState)
                continue;
            if (m_pending.contains(socket) || socket->bytesToWrite() > 0) {
                waiting = true;   // a response is being made or is still on its way out
                continue;
            }
            socket->disconnectFromHost();   // idle keep-alive connection
        }
    }
    if (!waiting && m_drainTimer)
        m_drainTimer->stop();
    m_drained = !waiting;
}

void RequestLoop::stop()
{
    stopSpinning();
    delete m_drainTimer;
    m_drainTimer = nullptr;
    delete m_server;   // with the listener and every connection
    m_server = nullptr;
    m_listener = nullptr;
    m_pending.clear();
}

bool RequestLoop::waitForStop(QDeadlineTimer deadline)
{
    if (!m_thread->isRunning())
        return true;
    // Queued, not blocking: a loop still inside a request past the deadline must not hang us.
    QMetaObject::invokeMethod(this, [this] {
        stop();
        thread()->quit();
    }, Qt::QueuedConnection);
    return m_thread->wait(deadline);
}

} // namespace Kernia::Server
