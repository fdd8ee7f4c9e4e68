#include "reachability_p.h"

#include "logging_p.h"
#include "transport_p.h"

#include <QtNetwork/QNetworkInformation>

namespace Kernia {

Reachability::Reachability(Transport *transport, int retryInitialMs, int retryMaxMs, bool useNetworkInformation,
                           QObject *parent)
    : QObject(parent), m_transport(transport), m_backoff(retryInitialMs, retryMaxMs)
{
    m_timer.setSingleShot(true);
    connect(&m_timer, &QTimer::timeout, this, &Reachability::probe);
    connect(transport, &Transport::serverAnswered, this, &Reachability::onServerAnswered);
    connect(transport, &Transport::serverUnreachable, this, &Reachability::onServerUnreachable);
    connect(transport, &Transport::badAnswer, this, &Reachability::onBadAnswer);

    if (useNetworkInformation) {
        // Hint only: on Linux without NetworkManager the default backend is missing
        // (qt-notes §8), and "Online" just means "a default route exists".
        if (!QNetworkInformation::instance()
            && !QNetworkInformation::loadBackendByFeatures(QNetworkInformation::Feature::Reachability))
            qCDebug(lcReachability) << "no QNetworkInformation backend; relying on probes only";
        if (auto *info = QNetworkInformation::instance()) {
            connect(info, &QNetworkInformation::reachabilityChanged, this,
                    [this](QNetworkInformation::Reachability r) {
                        qCDebug(lcReachability) << "system network hint:" << int(r);
                        if (r == QNetworkInformation::Reachability::Online && !m_online && m_started)
                            probeNow();
                    });
        }
    }
}

void Reachability::start()
{
    m_started = true;
    probeNow();
}

void Reachability::probeNow()
{
    m_backoff.reset();
    m_timer.stop();
    probe();
}

void Reachability::setOnline(bool online)
{
    if (m_online == online)
        return;
    m_online = online;
    qCInfo(lcReachability) << (online ? "server reachable" : "server unreachable");
    Q_EMIT onlineChanged(online);
}

void Reachability::onServerAnswered()
{
    m_backoff.reset();
    m_timer.stop();
    setOnline(true);
}

void Reachability::onServerUnreachable(const Error &error)
{
    Q_UNUSED(error);
    setOnline(false);
    if (m_started && !m_probing)
        scheduleProbe();
}

void Reachability::onBadAnswer(const Error &error)
{
    // Not "offline" by itself: a proxy that breaks one endpoint while the server is
    // reachable would take the client offline, the probe would bring it back at once, and
    // the reconnect would rerun the failing request at once, again and again. The request's
    // own retry backs off instead; the probe tells a captive portal (GET /ok fails too,
    // offline) from a broken endpoint (GET /ok works, still online).
    if (!m_online || !m_started || m_probing)
        return;   // offline: a probe is already scheduled; probing: it will tell
    qCInfo(lcReachability).nospace().noquote() << "bad answer (" << error.toString() << "); checking GET /ok";
    probe();
}

void Reachability::scheduleProbe()
{
    if (m_timer.isActive())
        return;
    const int delay = m_backoff.next();
    qCDebug(lcReachability) << "next probe in" << delay << "ms";
    m_timer.start(delay);
}

void Reachability::probe()
{
    if (m_probing)
        return;
    m_probing = true;
    m_transport->get(QStringLiteral("/ok"), QUrlQuery(), QByteArray(), [this](const HttpResult &r) {
        m_probing = false;
        const bool ok = r.status == 200 && r.body.toObject().value(QLatin1String("ok")).toBool();
        if (ok) {
            onServerAnswered();
            return;
        }
        Error error = r.error;
        if (!error.isError())
            error = Error(Error::Kind::BadResponse, QString(),
                          QStringLiteral("GET /ok did not answer {\"ok\":true} (HTTP %1)").arg(r.status), r.status);
        setOnline(false);
        Q_EMIT probeFailed(error);
        scheduleProbe();
    });
}

} // namespace Kernia
