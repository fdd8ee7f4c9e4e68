// The only place that knows Qt HttpServer: turns QHttpServerRequest into a Request value,
// runs AuthServer::handle on a worker pool (scrypt and database work never block the event
// loop), and writes the Response back on the server's thread.
#pragma once

#include <QHttpServer>
#include <QObject>
#include <QThreadPool>

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

private:
    void dispatch(const QHttpServerRequest &request, QHttpServerResponder &&responder);

    AuthServer *m_auth = nullptr;
    QHttpServer m_server;
    QThreadPool m_workers;
};

} // namespace Kernia::Server
