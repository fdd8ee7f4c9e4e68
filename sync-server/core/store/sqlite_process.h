// Process-wide SQLite settings, applied once before SQLite's first use in the process.
#pragma once

namespace Kernia::Server {

// Turns off SQLite's allocation statistics (SQLITE_CONFIG_MEMSTATUS). They are kept under
// one process-wide mutex that every sqlite3_malloc and sqlite3_free takes; with a
// connection per request thread it was the most contended lock in get-session (over half
// of the futex waits in a perf trace at 16 connections), and turning it off saved ~9% of
// get-session's CPU. Kernia reads no statistics. Debian's libsqlite3 keeps them on and
// has no lookaside allocator, so each short-lived value is a malloc.
//
// SQLite accepts this only before it initialises. Returns false, and changes nothing,
// when something in this process used SQLite first. Qt's SQLite driver on Debian uses the
// same shared libsqlite3, so this reaches it; a Qt with SQLite built in would keep its own
// copy's default. Not thread-safe: call before any thread uses SQLite.
bool configureSqliteForThreads();

} // namespace Kernia::Server
