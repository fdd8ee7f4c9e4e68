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
