#include "sqlite_process.h"

#include <sqlite3.h>

namespace Kernia::Server {

bool configureSqliteForThreads()
{
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK;
}

} // namespace Kernia::Server
