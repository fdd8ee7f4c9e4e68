#include "bearer_plugin.h"

#include "auth/auth_server.h"
#include "auth/endpoint_context.h"

namespace Kernia::Server {

void BearerPlugin::onRequest(EndpointContext &context)
{
    const QByteArray authorization = context.request().header("authorization");
    if (authorization.isEmpty())
        return;
    const AuthOptions &options = context.options();
    // An invalid bearer is ignored, not an error (transcript 12). It only changes the
    // endpoints' cookie view: the origin check still reads the raw headers, which is why
    // bearer clients need no Origin header.
    if (const auto signedToken = Cookies::signedTokenFromBearer(authorization, options.secret,
                                                                options.requireBearerSignature))
        context.cookies().insert(context.sessions().sessionTokenCookie(), *signedToken);
}

void BearerPlugin::onResponse(EndpointContext &context, Response &response)
{
    const auto cookie = response.cookie(context.sessions().sessionTokenCookie());
    if (!cookie || cookie->value.isEmpty() || cookie->attributes.maxAge == 0)
        return;
    response.setHeader("set-auth-token", Cookies::decodeURIComponent(cookie->value));
    QByteArray exposed = response.header("access-control-expose-headers");
    if (!exposed.split(',').contains("set-auth-token") && !exposed.contains("set-auth-token"))
        exposed = exposed.isEmpty() ? QByteArray("set-auth-token") : exposed + ", set-auth-token";
    response.setHeader("access-control-expose-headers", exposed);
}

} // namespace Kernia::Server
