// Lets a request loop keep polling its sockets for a short while after it answers a
// request instead of going to sleep at once.
//
// Why: a client that sends its next request right after reading the answer (a
// one-connection client, a chain of calls) finds the loop asleep, and waking a sleeping
// thread on another CPU is the largest single cost of a small request on a virtual
// machine (an inter-processor interrupt and a VM exit). Polling for the window saves that
// wake-up: on the benchmark machine it doubled /api/auth/ok at one connection and took
// get-session there from ~6,300 to ~8,100 req/s (docs/benchmarks-side-by-side.md).
//
// The cost is CPU time, so the policy spins only when it is otherwise free: one loop at a
// time, never while any request is being handled anywhere in the server (another loop,
// or a password hash on its pool), and yielding the CPU on every turn (RequestLoop). An
// idle server stops within the window; a busy one never spins.
//
// Shared by the loops of one server; every method is thread-safe. No Qt HttpServer here,
// so the policy is unit-tested on its own (tst_pipeline).
#pragma once

#include <QtGlobal>
#include <atomic>

namespace Kernia::Server {

class IdleSpin
{
public:
    // A window of 0 turns spinning off.
    explicit IdleSpin(qint64 windowMicroseconds) : m_windowNs(qMax<qint64>(0, windowMicroseconds) * 1000) {}

    bool enabled() const { return m_windowNs > 0; }
    qint64 windowMicroseconds() const { return m_windowNs / 1000; }

    // Around every request, on whichever thread handles it.
    void requestStarted() { m_busy.fetch_add(1, std::memory_order_relaxed); }
    void requestFinished() { m_busy.fetch_sub(1, std::memory_order_relaxed); }
    int requestsInProgress() const { return m_busy.load(std::memory_order_relaxed); }

    // A loop that has just answered asks to spin. True when it may (it then holds the one
    // spinning slot until release()); false when spinning is off, another loop spins, or
    // a request is in progress.
    bool tryClaim();
    // While holding the slot, on every turn: false once the window since the loop's last
    // answer has passed or another request is in progress; the loop then releases.
    bool keepSpinning(qint64 nanosecondsSinceLastAnswer) const;
    void release();

private:
    const qint64 m_windowNs;
    std::atomic<int> m_busy{0};
    std::atomic<bool> m_claimed{false};
};

} // namespace Kernia::Server
