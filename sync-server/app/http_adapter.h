// The only place that knows Qt HttpServer: turns QHttpServerRequest into a Request value,
// runs AuthServer::handle on a worker pool (scrypt and database work never block the event
// loop), and writes the Response back on the server's thread. It also answers GET /health,
// logs one key=value line per request (category kernia.http, with the x-request-id it
// returns) and drains connections on shutdown (docs/operations.md).
#pragma once

#include <QHash>
#include <QHttpServer>
#include <QObject>
#include <QStringList>
#include <QDeadlineTimer>
#include <QThreadPool>
#include <QTimer>
#include <functional>

class QTcpSocket;

namespace Kernia::Server {

class AuthServer;

class HttpAdapter : public QObject
{
    Q_OBJECT
public:
    explicit HttpAdapter(int workerThreads, QObject *parent = nullptr);

    // Returns the bound port, or 0 when listening failed. Requests are served once the
    // event loop runs, so the engine may be attached after listening (its base URL can
    // depend on the bound port).
    quint16 listen(const QHostAddress &address, quint16 port);
    void setEngine(AuthServer *auth) { m_auth = auth; }
    // The request log's client address comes from these headers, as the rate limiter's does.
    void setClientAddressHeaders(const QStringList &headers) { m_clientAddressHeaders = headers; }

    // Graceful shutdown: stops accepting connections, closes idle ones, lets requests in
    // progress finish and their responses reach the client, then calls done(true); after
    // timeoutMs, done(false) with requests still running. Call once.
    void shutdown(int timeoutMs, std::function<void(bool drained)> done);
    int requestsInFlight() const { return m_inFlight; }
    // After shutdown: waits for the worker threads; false if some still run after timeoutMs.
    bool waitForWorkers(int timeoutMs)
    {
        QDeadlineTimer deadline(timeoutMs);
        return m_workers.waitForDone(int(deadline.remainingTime()))
               && m_passwordWorkers.waitForDone(int(deadline.remainingTime()));
    }

private:
    void dispatch(const QHttpServerRequest &request, QHttpServerResponder &&responder);
    void finished(QTcpSocket *socket);
    bool drainStep();   // closes what is idle; true once nothing is left to wait for

    AuthServer *m_auth = nullptr;
    QStringList m_clientAddressHeaders;
    int m_inFlight = 0;                     // server thread only
    QHash<QTcpSocket *, int> m_pending;     // responses not yet written, per connection
    QTimer m_drainTimer;
    QHttpServer m_server;
    QThreadPool m_workers;
    QThreadPool m_passwordWorkers;   // sign-ups, sign-ins, ...: scrypt-bound, kept apart

};

} // namespace Kernia::Server
