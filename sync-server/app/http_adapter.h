// The only place that knows Qt HttpServer. It listens once and lets several RequestLoops
// (each an event loop on its own thread) accept from that socket; a loop turns each
// QHttpServerRequest into a Request value, runs AuthServer::handle on its own thread and
// writes the Response. Password endpoints (scrypt) and those that send mail each run on a
// small pool of their own so they never hold up a loop. Also: GET /health, one key=value
// log line per request (category kernia.http, with the x-request-id it returns), and
// draining on shutdown
// (docs/operations.md, docs/architecture.md).
#pragma once

#include "http/idle_spin.h"
#include "request_loop.h"

#include <QHostAddress>
#include <QObject>
#include <QStringList>
#include <QThreadPool>
#include <QTimer>
#include <functional>
#include <memory>
#include <vector>

namespace Kernia::Server {

class AuthServer;

class HttpAdapter : public QObject
{
    Q_OBJECT
public:
    // requestThreads event loops serve the connections. Password endpoints get their own
    // pool of passwordThreads: give it as many threads as scrypt hashes may run at once, so
    // that waiting requests queue in arrival order in the pool rather than racing for the
    // hasher's semaphore (which favours no one and stretches the slowest wait).
    // After answering, a loop may poll for idleSpinMicroseconds instead of sleeping, when
    // nothing else runs (http/idle_spin.h); 0 turns that off. Endpoints that send mail run
    // on kMailThreads threads: SMTP may wait for the mail server up to its timeout.
    HttpAdapter(int requestThreads, int passwordThreads, int idleSpinMicroseconds, QObject *parent = nullptr);
    ~HttpAdapter() override;

    // Returns the bound port, or 0 when listening failed. Requests are answered with 503
    // until setEngine(), so the engine may be attached after listening (its base URL can
    // depend on the bound port).
    quint16 listen(const QHostAddress &address, quint16 port);
    // Call before the first request arrives and do not change afterwards.
    void setClientAddressHeaders(const QStringList &headers) { m_shared.clientAddressHeaders = headers; }
    void setEngine(AuthServer *auth) { m_shared.auth.store(auth, std::memory_order_release); }

    // Graceful shutdown: stops accepting connections, closes idle ones, lets requests in
    // progress finish and their responses reach the client, then calls done(true); after
    // timeoutMs, done(false) with requests still running. Call once.
    void shutdown(int timeoutMs, std::function<void(bool drained)> done);
    int requestsInFlight() const;
    // After shutdown: ends the request threads and the worker pools; false if some still
    // run a request after timeoutMs.
    bool waitForWorkers(int timeoutMs);

private:
    IdleSpin m_idleSpin;
    RequestLoop::Shared m_shared;
    int m_requestThreads;
    static constexpr int kMailThreads = 4;
    QThreadPool m_passwordWorkers;   // sign-ups, sign-ins, ...: scrypt-bound, kept apart
    QThreadPool m_mailWorkers;       // reset and verification mails, magic links
    std::vector<std::unique_ptr<RequestLoop>> m_loops;
    QTimer m_drainTimer;
};

} // namespace Kernia::Server
