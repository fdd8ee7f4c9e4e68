#include "router.h"

#include <QtGlobal>

namespace Kernia::Server {

QString Router::key(QByteArrayView method, const QString &path)
{
    return QString::fromLatin1(method) + QLatin1Char(' ') + path;
}

void Router::add(Endpoint endpoint)
{
    const QString k = key(endpoint.method, endpoint.path);
    Q_ASSERT_X(!m_endpoints.contains(k), "Router::add", "endpoint registered twice");
    m_endpoints.insert(k, std::move(endpoint));
}

const Endpoint *Router::find(QByteArrayView method, const QString &path) const
{
    const auto it = m_endpoints.constFind(key(method, path));
    return it == m_endpoints.constEnd() ? nullptr : &it.value();
}

} // namespace Kernia::Server
