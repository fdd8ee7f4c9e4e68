#include "http_adapter.h"

#include "auth/auth_server.h"
#include "http/request.h"
#include "http/response.h"

#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QPointer>
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
    auto held = std::make_shared<QHttpServerResponder>(std::move(responder));
    QPointer<QTcpSocket> socket(held->socket());
    Request request = toRequest(source);
    m_workers.start([this, held, socket, request = std::move(request)]() mutable {
        QElapsedTimer timer;
        timer.start();
        Response response = m_auth ? m_auth->handle(request) : Response::empty(503);
        qCInfo(lcHttp).noquote() << request.method << request.path << response.status()
                                 << QStringLiteral("%1ms").arg(timer.elapsed());
        // Back on the server thread: the responder and its socket live there.
        QMetaObject::invokeMethod(this, [held = std::move(held), socket, response = std::move(response)] {
            if (!socket)
                return; // the client went away; nothing to write to
            toHttpResponse(response).write(std::move(*held));
        }, Qt::QueuedConnection);
    });
}

} // namespace Kernia::Server
