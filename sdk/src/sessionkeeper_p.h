// Kernia SDK internal: keeps the server session alive. While online with a session it
// asks GET /get-session every ClientOptions::sessionRefreshInterval (the server slides
// the expiry), and classifies the answer: valid, definitely gone (200 null), or failed
// (transient). Not API.
#pragma once

#include <Kernia/error.h>
#include <Kernia/user.h>

#include <QtCore/QDateTime>
#include <QtCore/QObject>
#include <QtCore/QTimer>

#include <functional>

namespace Kernia {

class Transport;

class SessionKeeper : public QObject
{
    Q_OBJECT

public:
    struct Outcome
    {
        enum class Kind { Valid, Gone, Failed };
        Kind kind = Kind::Failed;
        QJsonObject user;          // Valid: the server's user object
        QByteArray refreshedToken; // Valid: set-auth-token when the server re-issued it
        QDateTime expiresAt;       // Valid: session expiry
        Error error;               // Gone: SESSION_GONE; Failed: the failure
    };

    SessionKeeper(Transport *transport, int intervalMs, QObject *parent = nullptr);

    // The periodic timer runs only while active (online and holding a session).
    void setActive(bool active);
    bool isDue() const { return m_due; }
    void markDue() { m_due = true; }

    void check(const QByteArray &token, std::function<void(const Outcome &)> callback);

Q_SIGNALS:
    void due();

private:
    Transport *m_transport;
    QTimer m_timer;
    bool m_due = true;   // validate once at start-up
};

} // namespace Kernia
