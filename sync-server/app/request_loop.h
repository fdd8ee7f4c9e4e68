// One HTTP event loop on its own thread. Every loop accepts from the same listening socket
// (a dup of it), parses requests with Qt HttpServer and runs AuthServer::handle right there,
// so a request costs no thread hand-off: the thread that read it answers it. Only the
// endpoints that block their thread for long (scrypt, ~60 ms; sending mail) go to a pool
// of their own, so they never hold up the loop's other connections; their response comes
// back to this thread. A response held back (Response::heldUntil) waits on a timer here,
// not in a thread. After an answer the loop may poll briefly for the next request instead
// of sleeping (IdleSpin).
//
// Created and started by HttpAdapter; all public methods are for the owning thread unless
// they say otherwise.
#pragma once

#include "auth/router.h"
#include "http/response.h"

#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QObject>
#include <QPointer>
#include <QHash>
#include <QStringList>
#include <QTimer>
#include <atomic>
#include <memory>

class QHttpServer;
class QHttpServerRequest;
class QHttpServerResponder;
class QTcpServer;
class QTcpSocket;
class QThread;
class QThreadPool;

namespace Kernia::Server {

class AuthServer;
class IdleSpin;

class RequestLoop : public QObject
{
    Q_OBJECT
public:
    struct Shared
    {
        std::atomic<AuthServer *> auth{nullptr};   // null until the engine is attached: 503
        QStringList clientAddressHeaders;           // set before the first request
        QThreadPool *passwordWorkers = nullptr;     // Endpoint::Work::HashesPassword
        QThreadPool *mailWorkers = nullptr;         // Endpoint::Work::SendsMail
        IdleSpin *idleSpin = nullptr;               // polling after an answer
    };

    // Starts the thread; the loop listens on `listeningSocket` (it takes ownership of the
    // descriptor). Blocks until the loop accepts, returns false (and logs) if it cannot.
    RequestLoop(int index, qintptr listeningSocket, const Shared &shared);
    ~RequestLoop() override;   // stops the thread; connections still open are closed
    bool isServing() const { return m_serving; }

    // Any thread: stops accepting, closes idle keep-alive connections, and keeps closing
    // connections as their last response is written. drained() turns true once nothing
    // is in flight and no response is still on its way out.
    void beginDrain();
    bool drained() const { return m_drained.load(); }
    // Any thread but the loop's: closes what is left and ends the thread. False when the
    // loop is still inside a request at the deadline (its thread then keeps running).
    bool waitForStop(QDeadlineTimer deadline);

private:
    void serve(qintptr listeningSocket);   // loop thread
    void dispatch(const QHttpServerRequest &request, QHttpServerResponder &&responder);
    QThreadPool *poolFor(Endpoint::Work work) const;   // null: run on the loop
    // Writes `response` once its hold is over, unless `socket` (the connection) went away.
    void answerLater(Response response, std::shared_ptr<QHttpServerResponder> responder,
                     QPointer<QTcpSocket> socket, QTcpSocket *connection);
    void finished(QTcpSocket *connection);
    void spinAfterAnswer();
    void spinTurn();
    void stopSpinning();
    void drainStep();
    void stop();

    const int m_index;
    const Shared &m_shared;
    QThread *m_thread = nullptr;
    bool m_serving = false;
    // Loop thread only:
    QHttpServer *m_server = nullptr;
    QTcpServer *m_listener = nullptr;
    QHash<QTcpSocket *, int> m_pending;   // responses not yet written, per connection
    QTimer *m_drainTimer = nullptr;
    QTimer *m_spinTimer = nullptr;        // a zero timer: while it runs, the loop polls instead of sleeping
    QElapsedTimer m_sinceLastAnswer;
    // Read from any thread:
    std::atomic<bool> m_drained{false};
};

} // namespace Kernia::Server
