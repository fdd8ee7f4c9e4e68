// GET /health (outside /api/auth) for load balancers and orchestrators:
//   200 {"status":"ok","database":"ok"}        the database answered a query
//   503 {"status":"error","database":"error"}  it did not (the cause is logged, not sent)
#pragma once

#include "http/response.h"

namespace Kernia::Server {

class Store;

inline constexpr auto kHealthPath = "/health";

// Runs one short read in a write transaction (so a PostgreSQL connection that broke is
// reopened and a locked SQLite file shows up) and answers as above; never throws.
Response healthResponse(Store &store);

} // namespace Kernia::Server
