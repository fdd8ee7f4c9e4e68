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

void Router::addPrefix(Endpoint endpoint)
{
    Q_ASSERT_X(endpoint.path.size() > 1 && endpoint.path.endsWith(QLatin1Char('/')), "Router::addPrefix",
               "a prefix route ends with '/'");
    const QString k = key(endpoint.method, endpoint.path);
    Q_ASSERT_X(!m_prefixEndpoints.contains(k), "Router::addPrefix", "endpoint registered twice");
    m_prefixEndpoints.insert(k, std::move(endpoint));
}

QString Router::pathParameter(const QString &prefix, const QString &path)
{
    if (!path.startsWith(prefix))
        return {};
    const QString rest = path.mid(prefix.size());
    return rest.contains(QLatin1Char('/')) ? QString() : rest;
}

const Endpoint *Router::find(QByteArrayView method, const QString &path) const
{
    const auto it = m_endpoints.constFind(key(method, path));
    if (it != m_endpoints.constEnd())
        return &it.value();
    if (m_prefixEndpoints.isEmpty())
        return nullptr;
    // "/a/b/token" -> try the prefix "/a/b/" (one parameter, always the last segment).
    const qsizetype slash = path.lastIndexOf(QLatin1Char('/'));
    if (slash <= 0 || slash == path.size() - 1)
        return nullptr;
    const auto prefix = m_prefixEndpoints.constFind(key(method, path.left(slash + 1)));
    return prefix == m_prefixEndpoints.constEnd() ? nullptr : &prefix.value();
}

} // namespace Kernia::Server
