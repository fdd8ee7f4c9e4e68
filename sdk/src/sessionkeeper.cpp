#include "sessionkeeper_p.h"

#include "logging_p.h"
#include "transport_p.h"

#include <QtCore/QJsonObject>

namespace Kernia {

SessionKeeper::SessionKeeper(Transport *transport, int intervalMs, QObject *parent)
    : QObject(parent), m_transport(transport)
{
    m_timer.setInterval(intervalMs);
    connect(&m_timer, &QTimer::timeout, this, [this] {
        m_due = true;
        Q_EMIT due();
    });
}

void SessionKeeper::setActive(bool active)
{
    if (active && !m_timer.isActive())
        m_timer.start();
    else if (!active)
        m_timer.stop();
}

void SessionKeeper::check(const QByteArray &token, std::function<void(const Outcome &)> callback)
{
    m_transport->get(QStringLiteral("/get-session"), QUrlQuery(), token, [this, callback](const HttpResult &r) {
        Outcome out;
        if (r.error.isError()) {
            out.kind = Outcome::Kind::Failed;
            out.error = r.error;
        } else if (r.status == 200 && r.body.isNull()) {
            // The one definite answer: the server does not know this session any more. Only
            // its literal `null` gets here; an empty or non-JSON 200 (a proxy) is an error
            // from the transport and changes nothing.
            out.kind = Outcome::Kind::Gone;
            out.error = Error(Error::Kind::SessionGone, QString(),
                              QStringLiteral("The server no longer knows this session"), r.status);
        } else if (r.status == 200 && r.body.isObject()
                   && r.body.toObject().value(QLatin1String("user")).isObject()
                   && r.body.toObject().value(QLatin1String("session")).isObject()) {
            const QJsonObject obj = r.body.toObject();
            out.kind = Outcome::Kind::Valid;
            out.user = obj.value(QLatin1String("user")).toObject();
            out.expiresAt = QDateTime::fromString(
                    obj.value(QLatin1String("session")).toObject().value(QLatin1String("expiresAt")).toString(),
                    Qt::ISODateWithMs);
            out.refreshedToken = r.setAuthToken;
            m_due = false;
        } else {
            out.kind = Outcome::Kind::Failed;
            out.error = Error(Error::Kind::BadResponse, QString(),
                              QStringLiteral("Unexpected answer from GET /get-session (HTTP %1)").arg(r.status),
                              r.status);
        }
        qCDebug(lcSession) << "get-session:" << int(out.kind) << out.error.toString();
        callback(out);
    });
}

} // namespace Kernia
