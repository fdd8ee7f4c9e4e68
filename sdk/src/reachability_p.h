// Kernia SDK internal: is the auth server reachable? Our own answer, from real requests
// and probes of GET /ok with backoff; QNetworkInformation is only a hint. A bad answer
// (BadResponse) does not decide it: GET /ok does. Not API.
#pragma once

#include "backoff_p.h"

#include <Kernia/error.h>

#include <QtCore/QObject>
#include <QtCore/QTimer>

namespace Kernia {

class Transport;

class Reachability : public QObject
{
    Q_OBJECT

public:
    Reachability(Transport *transport, int retryInitialMs, int retryMaxMs, bool useNetworkInformation,
                 QObject *parent = nullptr);

    bool isOnline() const { return m_online; }

    void start();      // first probe now
    void probeNow();   // probe at once (resets the backoff)

Q_SIGNALS:
    void onlineChanged(bool online);
    void probeFailed(const Kernia::Error &error);

private:
    void setOnline(bool online);
    void onServerAnswered();
    void onServerUnreachable(const Kernia::Error &error);
    void onBadAnswer(const Kernia::Error &error);
    void scheduleProbe();
    void probe();

    Transport *m_transport;
    Backoff m_backoff;
    QTimer m_timer;
    bool m_online = false;
    bool m_started = false;
    bool m_probing = false;
};

} // namespace Kernia
