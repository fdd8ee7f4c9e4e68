// Better Auth's bearer plugin (protocol README §3): `Authorization: Bearer <token>` works
// like the session cookie, and every response that sets a live session cookie also carries
// `set-auth-token`, so native apps never need a cookie jar.
#pragma once

#include "auth/plugin.h"

namespace Kernia::Server {

class BearerPlugin final : public Plugin
{
public:
    QString id() const override { return QStringLiteral("bearer"); }
    void onRequest(EndpointContext &context) override;
    void onResponse(EndpointContext &context, Response &response) override;
};

} // namespace Kernia::Server
