#include "auth_server.h"

#include "auth/core_endpoints.h"
#include "auth/endpoint_context.h"
#include "auth/error_codes.h"
#include "auth/plugin.h"
#include "auth/validation.h"
#include "ratelimit/rate_limiter.h"
#include "store/store.h"

#include <QJsonArray>
#include <QJsonDocument>

Q_LOGGING_CATEGORY(lcAuth, "kernia.auth")

namespace Kernia::Server {

namespace {

QByteArray mediaType(const Request &request)
{
    return request.header("content-type").split(';').value(0).trimmed().toLower();
}

QJsonObject parseForm(const QByteArray &body)
{
    QJsonObject object;
    const QUrlQuery form(QString::fromUtf8(QByteArray(body).replace('+', ' ')));
    for (const auto &[key, value] : form.queryItems(QUrl::FullyDecoded)) {
        if (object.contains(key))
            continue;
        // HTML forms carry only strings; map the one boolean field the login forms have.
        if (key == QLatin1String("rememberMe") && (value == QLatin1String("true") || value == QLatin1String("false")))
            object.insert(key, value == QLatin1String("true"));
        else
            object.insert(key, value);
    }
    return object;
}

// Any JSON text, scalars included (QJsonDocument only takes objects and arrays): a body
// like `"text"` is valid JSON and gets Better Auth's "expected object" answer, not "bad JSON".
std::optional<QJsonValue> parseJsonValue(const QByteArray &text)
{
    QJsonParseError error;
    const QJsonDocument wrapped = QJsonDocument::fromJson('[' + text + ']', &error);
    if (error.error != QJsonParseError::NoError || wrapped.array().size() != 1)
        return std::nullopt;
    return wrapped.array().first();
}

} // namespace

AuthServer::AuthServer(AuthOptions options, std::shared_ptr<Store> store)
    : m_options(std::move(options)),
      m_store(std::move(store)),
      m_sessions(m_options, *m_store),
      m_passwords(m_options.scrypt, m_options.maxConcurrentHashes, m_options.runScrypt),
      m_origins(m_options)
{
    registerCoreEndpoints(m_router);
}

AuthServer::~AuthServer() = default;

void AuthServer::addPlugin(std::unique_ptr<Plugin> plugin)
{
    plugin->registerEndpoints(m_router);
    m_pluginView.append(plugin.get());
    m_plugins.push_back(std::move(plugin));
}

Response AuthServer::errorResponse(const ApiError &error)
{
    QJsonObject body{{QStringLiteral("message"), error.message()}};
    if (!error.code().isEmpty())
        body.insert(QStringLiteral("code"), error.code());
    return Response::json(body, error.status());
}

AuthServer::Route AuthServer::route(const Request &request) const
{
    const QString &basePath = m_options.basePath;
    // Under the base path (/api/auth) or under a mount a unit registered (/api/sync).
    Route route;
    if (!request.path.startsWith(basePath + QLatin1Char('/'))) {
        route.mount = m_router.mountOf(request.path);
        if (route.mount.isEmpty())
            return route;
    }
    route.path = request.path.mid(route.mount.isEmpty() ? basePath.size() : route.mount.size());
    route.endpoint = route.mount.isEmpty() ? m_router.find(request.method, route.path)
                                           : m_router.findMounted(request.method, route.mount, route.path);
    return route;
}

Response AuthServer::handle(const Request &request, const Route &route)
{
    const Endpoint *const endpoint = route.endpoint;
    const QString &mount = route.mount;
    const QString &path = route.path;
    if (!endpoint && mount.isEmpty() && !request.path.startsWith(m_options.basePath + QLatin1Char('/')))
        return Response::empty(404);

    // Better Auth limits before routing: unknown paths count too (on one counter per
    // address, see rate_limiter.h). Mounted paths are keyed by their full path so they
    // never share a counter with an auth path.
    if (m_rateLimiter) {
        const QString routed = mount.isEmpty() ? m_router.routeOf(path) : m_router.mountedRouteOf(mount, path);
        const QString route = routed.isNull() ? QString() : mount + routed;
        if (std::optional<Response> limited = m_rateLimiter->check(request, mount + path, route, m_pluginView))
            return *limited;
    }

    if (request.body.size() > m_options.maxBodyBytes) {
        return errorResponse(ApiError(413, QString::fromLatin1(CoreErrors::PAYLOAD_TOO_LARGE.code),
                                      QStringLiteral("Request body exceeds the limit of %1 bytes")
                                          .arg(m_options.maxBodyBytes)));
    }

    if (!endpoint) {
        if (mount.isEmpty() && request.method == "POST" && path == QLatin1String("/get-session")) {
            // Better Auth's get-session endpoint answers it, with its no-cache headers (transcript 12)
            Response response = errorResponse(ApiError(405, CoreErrors::METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED));
            response.setHeader("cache-control", "no-store");
            response.setHeader("pragma", "no-cache");
            return response;
        }
        return Response::empty(404); // Better Auth: unknown path and wrong method alike
    }

    EndpointContext context(*this, request, path);
    Response response = dispatch(*endpoint, context);
    for (Plugin *plugin : std::as_const(m_pluginView)) {
        try {
            plugin->onResponse(context, response);
        } catch (const std::exception &e) {
            qCWarning(lcAuth) << "plugin" << plugin->id() << "failed after" << path << ':' << e.what();
        }
    }
    return response;
}

Response AuthServer::dispatch(const Endpoint &endpoint, EndpointContext &context)
{
    const Request &request = context.request();
    try {
        for (Plugin *plugin : std::as_const(m_pluginView))
            plugin->onRequest(context);
        m_origins.checkCookieRequest(request);
        parseBody(endpoint, context);
        if (request.method != "GET")
            m_origins.checkRedirectFields(context.body, request.query);
        if (endpoint.formCsrfCheck)
            m_origins.checkLoginCsrf(request);
        return endpoint.handler(context);
    } catch (const ApiError &error) {
        return errorResponse(error);
    } catch (const StoreError &error) {
        qCCritical(lcAuth) << "storage failure in" << request.method << context.path() << ':' << error.what();
        return errorResponse(ApiError(500, CoreErrors::INTERNAL_SERVER_ERROR));
    } catch (const std::exception &error) {
        qCCritical(lcAuth) << "unexpected failure in" << request.method << context.path() << ':' << error.what();
        return errorResponse(ApiError(500, CoreErrors::INTERNAL_SERVER_ERROR));
    }
}

void AuthServer::parseBody(const Endpoint &endpoint, EndpointContext &context) const
{
    const Request &request = context.request();
    const QByteArray type = mediaType(request);
    // Like Better Auth, a body without a Content-Type is not read at all.
    if (request.body.trimmed().isEmpty() || type.isEmpty()) {
        if (endpoint.body == Endpoint::Body::Required)
            throwValidationError({QStringLiteral("[body] Invalid input: expected object, received undefined")});
        return;
    }

    const bool isForm = type == "application/x-www-form-urlencoded";
    const bool isJson = type == "application/json";
    if (endpoint.body != Endpoint::Body::Ignored && !isJson && !(isForm && endpoint.acceptsForm)) {
        const QString allowed = endpoint.acceptsForm
            ? QStringLiteral("application/x-www-form-urlencoded, application/json")
            : QStringLiteral("application/json");
        throw ApiError(415, QStringLiteral("UNSUPPORTED_MEDIA_TYPE"),
                       QStringLiteral("Content-Type \"%1\" is not allowed. Allowed types: %2")
                           .arg(QString::fromUtf8(type), allowed));
    }
    if (isForm && endpoint.acceptsForm) {
        context.body = parseForm(request.body);
        context.hasBody = true;
        return;
    }
    if (!isJson)
        return; // an endpoint without a body schema ignores bodies it cannot read

    const std::optional<QJsonValue> value = parseJsonValue(request.body);
    if (!value)
        throw ApiError(400, CoreErrors::BAD_JSON);
    if (!value->isObject()) {
        if (endpoint.body == Endpoint::Body::Ignored)
            return;
        throwValidationError({QStringLiteral("[body] Invalid input: expected object, received %1").arg(jsTypeName(*value))});
    }
    context.body = value->toObject();
    context.hasBody = true;
}

} // namespace Kernia::Server
