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
    m_paths.insert(endpoint.path);
    m_endpoints.insert(k, std::move(endpoint));
}

void Router::addPrefix(Endpoint endpoint)
{
    Q_ASSERT_X(endpoint.path.size() > 1 && endpoint.path.endsWith(QLatin1Char('/')), "Router::addPrefix",
               "a prefix route ends with '/'");
    const QString k = key(endpoint.method, endpoint.path);
    Q_ASSERT_X(!m_prefixEndpoints.contains(k), "Router::addPrefix", "endpoint registered twice");
    m_prefixPaths.insert(endpoint.path);
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

QString Router::routeOf(const QString &path) const
{
    if (m_paths.contains(path))
        return path;
    // The same rule as find(): one parameter, always the last, non-empty segment.
    const qsizetype slash = path.lastIndexOf(QLatin1Char('/'));
    if (slash <= 0 || slash == path.size() - 1)
        return {};
    const QString prefix = path.left(slash + 1);
    return m_prefixPaths.contains(prefix) ? prefix : QString();
}

void Router::addMounted(const QString &mount, Endpoint endpoint)
{
    Q_ASSERT_X(mount.size() > 1 && mount.startsWith(QLatin1Char('/')) && !mount.endsWith(QLatin1Char('/')),
               "Router::addMounted", "a mount is an absolute path without a trailing '/'");
    const QString k = key(endpoint.method, mount + endpoint.path);
    Q_ASSERT_X(!m_mounted.contains(k), "Router::addMounted", "endpoint registered twice");
    m_mountedPaths.insert(mount + endpoint.path);
    m_mounted.insert(k, std::move(endpoint));
    if (!m_mounts.contains(mount))
        m_mounts.append(mount);
}

QString Router::mountOf(const QString &absolutePath) const
{
    for (const QString &mount : m_mounts) {
        if (absolutePath.startsWith(mount) && absolutePath.size() > mount.size()
            && absolutePath.at(mount.size()) == QLatin1Char('/'))
            return mount;
    }
    return {};
}

QString Router::mountedRouteOf(const QString &mount, const QString &path) const
{
    return m_mountedPaths.contains(mount + path) ? path : QString();
}

const Endpoint *Router::findMounted(QByteArrayView method, const QString &mount, const QString &path) const
{
    const auto it = m_mounted.constFind(key(method, mount + path));
    return it == m_mounted.constEnd() ? nullptr : &it.value();
}

} // namespace Kernia::Server
