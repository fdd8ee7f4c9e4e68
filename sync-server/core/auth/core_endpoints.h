// Better Auth's core endpoints (protocol endpoints.md §1–17), registered by AuthServer.
#pragma once

namespace Kernia::Server {

class Router;

void registerCoreEndpoints(Router &router);
void registerSessionEndpoints(Router &router);
void registerUserEndpoints(Router &router);
void registerEmailPasswordEndpoints(Router &router);
void registerMailEndpoints(Router &router); // verification, change-email, password reset (endpoints/mail_endpoints.cpp)

} // namespace Kernia::Server
