// Operations: GET /health, request logs with x-request-id, graceful shutdown on SIGTERM,
// and the maintenance commands `migrate` and `prune-anonymous` end to end.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import path from "node:path";
import {
  T, PASSWORD, startServer, runServerToExit, raw, makeTempDir, expectOk, describe, signUp, signInAnonymous,
  getSession, uniqueEmail, sqlite, q, sleep, isPgUrl, dropPgDatabase,
} from "./harness.mjs";

const keep = () => !!process.env.KERNIA_KEEP_TMP;

// stderr arrives on its own pipe, possibly after the HTTP response: poll (bounded).
// `what` may be a function, to describe the state seen at the deadline.
async function eventually(predicate, what, server, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`${typeof what === "function" ? what() : what}${server.logs()}`);
    await sleep(20);
  }
}

function waitForExit(server, timeoutMs) {
  return new Promise((resolve) => {
    if (server.exited()) return resolve(server.exited());
    const timer = setTimeout(() => resolve(null), timeoutMs);
    server.child.once("exit", (code, signal) => { clearTimeout(timer); resolve({ code, signal }); });
  });
}

test("GET /health: 200 {status, database} while the database answers, 503 when it does not", T, async () => {
  const s = await startServer({ tag: "ops-health" });
  try {
    const ok = await raw(s, "GET", `${s.origin}/health`, { abs: true });
    assert.equal(ok.status, 200, describe(ok, s));
    assert.deepEqual(ok.json, { status: "ok", database: "ok" });
    assert.match(String(ok.headers["content-type"]), /^application\/json/);
    assert.equal(ok.headers["cache-control"], "no-store");
    assert.match(String(ok.headers["x-request-id"]), /^[A-Za-z0-9]{20}$/);
    const post = await raw(s, "POST", `${s.origin}/health`, { abs: true, json: {} });
    assert.equal(post.status, 404, "only GET");
    // Break the schema under the running server: the check must notice.
    s.sql(`DROP TABLE "kernia_migrations"`);
    const down = await raw(s, "GET", `${s.origin}/health`, { abs: true });
    assert.equal(down.status, 503, describe(down, s));
    assert.deepEqual(down.json, { status: "error", database: "error" });
    await eventually(() => /kernia\.health: database check failed/.test(s.stderr()), "the failure is logged", s);
  } finally { await s.stop(); }
});

test("request logs: one key=value line per request with the x-request-id; no secrets", T, async () => {
  const s = await startServer({ tag: "ops-log", env: { KERNIA_LOG_RULES: "kernia.http.info=true" } });
  try {
    const email = uniqueEmail("log");
    const up = await signUp(s, { email, password: "Sup3r-Secret-Pw!" });
    const id = up.res.headers["x-request-id"];
    assert.match(String(id), /^[A-Za-z0-9]{20}$/);
    const mine = await raw(s, "GET", "/get-session", { cookie: up.cookie, headers: { "x-request-id": "lb-42.abc" } });
    assert.equal(mine.headers["x-request-id"], "lb-42.abc", "a proxy's request id is kept");
    const bogus = await raw(s, "GET", "/get-session", { headers: { "x-request-id": "no spaces=allowed" } });
    assert.match(String(bogus.headers["x-request-id"]), /^[A-Za-z0-9]{20}$/);
    await raw(s, "GET", "/reset-password/VERY-SECRET-TOKEN?callbackURL=%2Fnew", {});
    await raw(s, "GET", "/magic-link/verify?token=ANOTHER-SECRET", {});
    await eventually(() => s.stderr().includes("/magic-link/verify"), "the last request is logged", s);
    const log = s.stderr();
    const line = log.split("\n").find((l) => l.includes(`request_id=${id}`));
    assert.ok(line, `a log line for ${id}\n${log}`);
    assert.match(line, new RegExp(`^kernia\\.http: method=POST path=/api/auth/sign-up/email status=200 duration_ms=\\d+\\.\\d client=127\\.0\\.0\\.1 request_id=${id}$`));
    assert.ok(log.includes("request_id=lb-42.abc"));
    assert.ok(log.includes("path=/api/auth/reset-password/[redacted] status="), log);
    assert.ok(log.includes("path=/api/auth/magic-link/verify status="), "no query string in the log");
    for (const secret of ["Sup3r-Secret-Pw!", "VERY-SECRET-TOKEN", "ANOTHER-SECRET", up.token, email, up.cookie.split("=")[1]])
      assert.ok(!log.includes(secret), `the log must not contain ${secret}`);
  } finally { await s.stop(); }
});

// CPU time (user + system, every thread) the process has used so far, in seconds.
const clockTicksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
}

test("idle spin: after a chain of requests the server stops polling and uses no CPU while idle", T, async () => {
  // A loop polls up to --idle-spin-us (200 µs) after each answer; one that never stopped
  // would use a whole core here.
  const s = await startServer({ tag: "ops-spin" });
  try {
    const guest = await signInAnonymous(s);
    for (let i = 0; i < 300; i++) {
      const res = await raw(s, "GET", "/get-session", { headers: { authorization: `Bearer ${guest.token}` } });
      assert.equal(res.status, 200, describe(res, s));
    }
    await sleep(300);
    const before = cpuSeconds(s.child.pid);
    await sleep(1500);
    const idle = cpuSeconds(s.child.pid) - before;
    assert.ok(idle < 0.15, `an idle server used ${idle.toFixed(2)} s of CPU in 1.5 s`);
  } finally { await s.stop(); }
});

// The server's children (the scrypt helpers) across all its threads: a helper started again
// after a failure is a child of the thread that started it.
function childPids(pid) {
  const pids = new Set();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const list = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim();
    for (const child of list ? list.split(" ") : []) pids.add(Number(child));
  }
  return [...pids].sort((a, b) => a - b);
}
const SCHED_IDLE = 5;
function schedulingPolicy(pid) {   // -1 once the process is gone
  try { return Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")[38]); }   // field 41
  catch { return -1; }
}
function helperCommandLine(pid) {
  try { return readFileSync(`/proc/${pid}/cmdline`, "utf8"); } catch { return "(gone)"; }
}
function isZombie(pid) {   // exited, not yet reaped
  try { return readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z "); } catch { return false; }
}
function isRunning(pid) {
  try { process.kill(pid, 0); return true; } catch (e) { if (e.code === "ESRCH") return false; throw e; }
}

test("scrypt helpers: two idle-priority helper processes hash; killed ones are replaced; they end with the server", T, async () => {
  const s = await startServer({ tag: "ops-helpers" });
  let helpers = [];
  try {
    helpers = childPids(s.child.pid);
    assert.equal(helpers.length, 2, `two helpers${s.logs()}`);
    // A helper shows its command line only once execve has set up its new memory (until then
    // /proc/<pid>/cmdline is empty), and takes its priority once it has loaded: poll for both.
    const isIdleHelper = (pid) => /\/kernia-scrypt-helper\0--priority\0idle\0$/.test(helperCommandLine(pid))
      && schedulingPolicy(pid) === SCHED_IDLE;
    const idleHelpers = (pids) => eventually(() => pids.every(isIdleHelper),
      () => `helpers ${pids} run kernia-scrypt-helper --priority idle at SCHED_IDLE; seen: `
        + pids.map((pid) => `${pid} ${JSON.stringify(helperCommandLine(pid))} policy ${schedulingPolicy(pid)}`).join(", "), s);
    await idleHelpers(helpers);
    const email = uniqueEmail("helpers");
    expectOk((await signUp(s, { email })).res, s);

    // Both die between two hashes: the next sign-in and sign-up start new ones and succeed.
    for (const pid of helpers) process.kill(pid, "SIGKILL");
    await eventually(() => helpers.every((pid) => !isRunning(pid) || isZombie(pid)),
      "the killed helpers are gone", s);
    const signIn = await raw(s, "POST", "/sign-in/email", { json: { email, password: PASSWORD }, origin: true });
    expectOk(signIn, s);
    const wrong = await raw(s, "POST", "/sign-in/email", { json: { email, password: PASSWORD + "x" }, origin: true });
    assert.equal(wrong.status, 401, describe(wrong, s));
    expectOk((await signUp(s, { email: uniqueEmail("helpers2") })).res, s);
    await eventually(() => /scrypt helper \d+ failed; starting another/.test(s.stderr()), "the replacement is logged", s);
    assert.doesNotMatch(s.stderr(), /hashing in the server process/, "the helpers were replaced, not bypassed");
    const replaced = childPids(s.child.pid);
    assert.equal(replaced.length, 2, `two new helpers${s.logs()}`);
    assert.ok(replaced.every((pid) => !helpers.includes(pid)), `${replaced} are new`);
    helpers = replaced;
    await idleHelpers(helpers);
  } finally { await s.stop(); }
  // Closing their sockets ends them, and the server waits for them.
  for (const pid of helpers) assert.ok(!isRunning(pid), `helper ${pid} ended with the server`);
});

test("SIGTERM: in-flight requests complete, new connections are refused, exit code 0", T, async () => {
  const s = await startServer({ tag: "ops-term" });
  try {
    // Four sign-ups: scrypt (~100 ms each, at most two at once) keeps them in flight a while.
    const emails = [0, 1, 2, 3].map(() => uniqueEmail("term"));
    const inFlight = emails.map((email) =>
      raw(s, "POST", "/sign-up/email", { json: { name: "T", email, password: PASSWORD }, origin: true }));
    let settled = 0;
    for (const request of inFlight) request.then(() => ++settled, () => ++settled);
    await sleep(40);
    s.child.kill("SIGTERM");
    // The loops close their listeners as soon as they see the signal: from then on a new
    // connection is refused, while the sign-ups are still being answered.
    const deadline = Date.now() + 5000;
    let late;
    for (;;) {
      late = await raw(s, "GET", "/ok").then((r) => r, (e) => e);
      if (late instanceof Error || Date.now() > deadline) break;
      await sleep(10);
    }
    assert.ok(late instanceof Error, `a new connection after SIGTERM must be refused; got ${late.status}${s.logs()}`);
    assert.ok(settled < inFlight.length, "refused while sign-ups were still in flight, not after the server had gone");
    const results = await Promise.all(inFlight);
    for (const res of results) {
      expectOk(res, s);
      assert.equal(typeof res.json.token, "string", describe(res, s));
    }
    const exit = await waitForExit(s, 15_000);
    assert.deepEqual(exit, { code: 0, signal: null }, `exit status${s.logs()}`);
    assert.match(s.stderr(), /kernia\.server: SIGTERM: shutting down/);
    assert.match(s.stderr(), /kernia\.server: shutdown complete/);
    for (const email of emails)
      assert.equal(s.sql(`SELECT COUNT(*) AS n FROM "user" WHERE email = ${q(email)}`)[0].n, 1);
  } finally { await s.stop(); }
});

test("SIGINT on an idle server: exits 0 at once", T, async () => {
  const s = await startServer({ tag: "ops-int" });
  try {
    const t0 = Date.now();
    s.child.kill("SIGINT");
    const exit = await waitForExit(s, 10_000);
    assert.deepEqual(exit, { code: 0, signal: null }, s.logs());
    assert.ok(Date.now() - t0 < 2000, "no waiting without requests");
  } finally { await s.stop(); }
});

test("kernia-server migrate: applies the migrations, prints them, exits 0; a second run has nothing to do", T, async () => {
  const dir = makeTempDir("ops-migrate");
  try {
    const dataDir = path.join(dir, "data");
    const db = path.join(dir, "m.db");
    const args = ["migrate", "--database", `sqlite:${db}`, "--data-dir", dataDir];
    const first = await runServerToExit(args, { cwd: dir });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^applied 0001_core \(core\)$/m);
    assert.match(first.stdout, /^applied 0006_rate_limit \(rate-limit\)$/m);
    assert.ok(!first.stdout.includes("listening on"), "migrate does not serve");
    assert.ok(!existsSync(path.join(dataDir, "secret")), "migrate does not generate a secret");
    assert.equal(sqlite(db, `SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'rateLimit'`)[0].n, 1);
    const second = await runServerToExit(args, { cwd: dir });
    assert.equal(second.code, 0, second.stderr);
    assert.doesNotMatch(second.stdout, /^applied /m);
    assert.match(second.stdout, /is up to date \(0 migrations applied now/);
    const bad = await runServerToExit(["migrat"], { cwd: dir });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unexpected argument "migrat"/);
  } finally { if (!keep()) rmSync(dir, { recursive: true, force: true }); }
});

test("kernia-server prune-anonymous --older-than: removes inactive guests with their sessions and data, keeps the rest", T, async () => {
  const s = await startServer({ tag: "ops-prune" });
  try {
    const day = 86_400_000;
    const old = Date.now() - 40 * day;
    const stale = await signInAnonymous(s);          // last activity 40 days ago → pruned
    const sessionless = await signInAnonymous(s);    // no session left, user row 40 days old → pruned
    const active = await signInAnonymous(s);         // user row old, session fresh → kept
    const fresh = await signInAnonymous(s);          // new → kept
    const account = await signUp(s);                 // not anonymous, old → kept
    s.sql(`UPDATE "session" SET "updatedAt" = ${old}, "createdAt" = ${old} WHERE "userId" IN (${q(stale.user.id)}, ${q(account.user.id)})`);
    s.sql(`DELETE FROM "session" WHERE "userId" = ${q(sessionless.user.id)}`);
    s.sql(`UPDATE "user" SET "updatedAt" = ${old}, "createdAt" = ${old} WHERE "id" IN (${q(stale.user.id)}, ${q(sessionless.user.id)}, ${q(active.user.id)}, ${q(account.user.id)})`);
    const hasSync = s.sql(`SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'sync_record'`)[0].n === 1;
    let syncRow = false;
    if (hasSync) {
      try {
        s.sql(`INSERT INTO "sync_record" ("userId", "collection", "recordId", "version", "data", "updatedAt") VALUES (${q(stale.user.id)}, 'cart', 'r1', 1, '{}', ${old})`);
        syncRow = true;
      } catch { /* the sync schema changed shape: the deletion is still covered by the FK cascade */ }
    }

    const base = ["prune-anonymous", "--database", s.database, "--data-dir", s.dataDir];
    const dry = await runServerToExit([...base, "--older-than", "30d", "--dry-run"], { cwd: s.dir });
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^would delete 2 anonymous user\(s\) inactive since \d{4}-\d\d-\d\dT/m);
    assert.equal(s.sql(`SELECT COUNT(*) AS n FROM "user"`)[0].n, 5, "a dry run deletes nothing");

    // The server keeps running while the command prunes the same database.
    const run = await runServerToExit([...base, "--older-than", "30d"], { cwd: s.dir });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^deleted 2 anonymous user\(s\) inactive since /m);
    const ids = s.sql(`SELECT "id" FROM "user"`).map((r) => r.id).sort();
    assert.deepEqual(ids, [active.user.id, fresh.user.id, account.user.id].sort());
    assert.equal(s.sql(`SELECT COUNT(*) AS n FROM "session" WHERE "userId" = ${q(stale.user.id)}`)[0].n, 0);
    if (syncRow) assert.equal(s.sql(`SELECT COUNT(*) AS n FROM "sync_record" WHERE "userId" = ${q(stale.user.id)}`)[0].n, 0);
    assert.equal((await getSession(s, { cookie: stale.cookie })).text, "null", "the pruned guest's session is gone");
    assert.equal((await getSession(s, { cookie: active.cookie })).json?.user?.id, active.user.id);
    assert.equal((await getSession(s, { cookie: account.cookie })).json?.user?.id, account.user.id);

    const again = await runServerToExit([...base, "--older-than", "36h"], { cwd: s.dir });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^deleted 0 anonymous user\(s\)/m);
    // Below a session's daily refresh, guests in use would look idle: refused, nothing deleted.
    const tooShort = await runServerToExit([...base, "--older-than", "60"], { cwd: s.dir });
    assert.equal(tooShort.code, 2, tooShort.stderr);
    assert.match(tooShort.stderr, /at least 24h/);
    assert.equal((await getSession(s, { cookie: fresh.cookie })).json?.user?.id, fresh.user.id);

    const missing = await runServerToExit(base, { cwd: s.dir });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--older-than/);
    const wrong = await runServerToExit([...base, "--older-than", "a while"], { cwd: s.dir });
    assert.equal(wrong.code, 2);
  } finally { await s.stop(); }
});

test("housekeeping: expired verification rows are deleted at start-up (and about once a minute), live ones kept", T, async () => {
  const first = await startServer({ tag: "ops-verification" });
  const dir = first.dir;
  let second;
  try {
    // Each unauthenticated passkey ceremony start stores a challenge row (valid 5 minutes).
    for (let i = 0; i < 3; i++) expectOk(await raw(first, "GET", "/passkey/generate-authenticate-options"), first);
    const now = Date.now();
    first.sql(`INSERT INTO verification (id, identifier, value, expiresAt, createdAt, updatedAt) VALUES
      ('expired-1', 'passkey-old-1', '{}', ${now - 1000}, ${now - 301000}, ${now - 301000}),
      ('expired-2', 'reset-password:old', 'u', ${now - 60000}, ${now - 3660000}, ${now - 3660000})`);
    assert.equal(first.sql("SELECT count(*) AS n FROM verification")[0].n, 5);
    await first.stop({ keep: true });
    second = await startServer({ tag: "ops-verification", dir });
    const expired = () => second.sql("SELECT count(*) AS n FROM verification WHERE id LIKE 'expired-%'")[0].n;
    await eventually(() => expired() === 0, () => `expired rows still there: ${expired()}`, second);
    assert.equal(second.sql("SELECT count(*) AS n FROM verification")[0].n, 3, "the live challenges stay");
  } finally {
    await second?.stop({ keep: true });
    await first.stop({ keep: true });
    if (!keep()) {
      rmSync(dir, { recursive: true, force: true });
      if (isPgUrl(first.dbPath)) dropPgDatabase(first.dbPath);
    }
  }
});

test("housekeeping: a backlog of expired verification rows goes in bounded passes a second apart, not a minute", T, async () => {
  const first = await startServer({ tag: "ops-backlog" });
  const dir = first.dir;
  let second;
  try {
    await first.stop({ keep: true });
    // 45,000 expired rows: more than two passes of 20,000 (ops/maintenance.h).
    const now = Date.now();
    sqlite(first.dbPath, `INSERT INTO verification (id, identifier, value, expiresAt, createdAt, updatedAt)
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 45000)
      SELECT 'backlog-' || i, 'passkey-backlog-' || i, '{}', ${now - 60000}, ${now - 360000}, ${now - 360000} FROM n`);
    assert.equal(sqlite(first.dbPath, "SELECT count(*) AS n FROM verification")[0].n, 45000);
    second = await startServer({
      tag: "ops-backlog", dir,
      env: { KERNIA_LOG_RULES: "kernia.http.info=false\nkernia.ratelimit.info=false\nkernia.server.debug=true" },
    });
    const left = () => second.sql("SELECT count(*) AS n FROM verification")[0].n;
    // Three passes (start-up, +1 s, +2 s); with a minute between passes this times out.
    await eventually(() => left() === 0, () => `rows still there: ${left()}`, second, 15000);
    const passes = () => [...second.stderr().matchAll(/deleted (\d+) expired verification row\(s\)(, more left)?/g)]
      .map((m) => `${m[1]}${m[2] ? "+" : ""}`);
    await eventually(() => passes().length >= 3, () => `passes logged: ${passes()}`, second);
    assert.deepEqual(passes(), ["20000+", "20000+", "5000"]);
  } finally {
    await second?.stop({ keep: true });
    await first.stop({ keep: true });
    if (!keep()) {
      rmSync(dir, { recursive: true, force: true });
      if (isPgUrl(first.dbPath)) dropPgDatabase(first.dbPath);
    }
  }
});

test("--help lists the commands and the new options", T, async () => {
  const r = await runServerToExit(["--help"]);
  assert.equal(r.code, 0);
  for (const word of ["migrate", "prune-anonymous", "--older-than", "--dry-run", "--no-rate-limit", "--rate-limit-window",
    "--rate-limit-max", "--ip-address-header", "--anonymous-sign-ins-per-hour", "--shutdown-timeout"])
    assert.ok(r.stdout.includes(word), `--help mentions ${word}`);
  void mkdirSync;
});
