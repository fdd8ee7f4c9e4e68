// Rate limiting (protocol README §8, transcript 15) and Kernia's anonymous sign-in cap,
// against a real kernia-server with its limits on (the harness turns them off elsewhere).
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import {
  T, startServer, raw, makeTempDir, expectError, expectOk, describe, signInAnonymous, sqlite,
} from "./harness.mjs";

const TOO_MANY = "Too many requests. Please try again later.";
const WRONG = { email: "x@example.com", password: "password123" };

function signInAttempt(server, headers = {}) {
  return raw(server, "POST", "/sign-in/email", { json: WRONG, origin: true, headers });
}

function expectTooMany(res, retryAfter, server) {
  expectError(res, 429, null, TOO_MANY, server);
  assert.deepEqual(res.json, { message: TOO_MANY }, "429 body has only the message");
  // Seconds left in the window: the full window when the limit is hit at once, a second
  // less when the attempts before it (each an ~100 ms scrypt check) crossed a second boundary.
  const left = Number(res.headers["x-retry-after"]);
  assert.ok(Number.isInteger(left) && left >= retryAfter - 2 && left <= retryAfter,
    `x-retry-after between ${retryAfter - 2} and ${retryAfter}; got ${describe(res)}`);
}

test("transcript 15: the 4th sign-in within 10 s → 429 + X-Retry-After; another X-Forwarded-For has its own bucket", T, async () => {
  const s = await startServer({ tag: "rl-15", rateLimit: true });
  try {
    for (let i = 1; i <= 3; i++) {
      const res = await signInAttempt(s);
      expectError(res, 401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password", s);
      assert.equal(res.headers["x-retry-after"], undefined);
    }
    expectTooMany(await signInAttempt(s), 10, s);
    expectTooMany(await signInAttempt(s), 10, s);   // refused requests do not extend anything
    const other = await signInAttempt(s, { "x-forwarded-for": "10.1.2.3" });
    expectError(other, 401, "INVALID_EMAIL_OR_PASSWORD", undefined, s);
    const gs = await raw(s, "GET", "/get-session");
    expectOk(gs, s);   // another path, its own counter
    assert.equal(gs.text, "null");
    // The counters live in the database (Better Auth's rateLimit model).
    const rows = s.sql(`SELECT "key", "count" FROM "rateLimit" ORDER BY "key"`);
    assert.deepEqual(rows.find((r) => r.key === "127.0.0.1/sign-in/email")?.count, 3, JSON.stringify(rows));
    assert.deepEqual(rows.find((r) => r.key === "10.1.2.3/sign-in/email")?.count, 1, JSON.stringify(rows));
  } finally { await s.stop(); }
});

test("200 distinct unknown paths: one counter row per address, still 429 past 100 per 10 s; real paths keep their rules", T, async () => {
  const s = await startServer({ tag: "rl-unknown", rateLimit: true });
  try {
    const statuses = [];
    for (let i = 0; i < 200; i++) statuses.push((await raw(s, "GET", `/no-such-endpoint-${i}`)).status);
    const rows = s.sql(`SELECT "key", "count" FROM "rateLimit" ORDER BY "key"`);
    assert.ok(rows.length <= 2, `a bounded number of rate-limit rows; got ${rows.length}`);
    assert.deepEqual(rows.map((r) => [r.key, Number(r.count)]), [["unknown-path|127.0.0.1", 100]]);
    assert.deepEqual([statuses.filter((x) => x === 404).length, statuses.filter((x) => x === 429).length], [100, 100],
      "the first 100 → 404, the rest → 429");
    expectTooMany(await raw(s, "GET", "/one-more"), 10, s);
    // The sync mount's unknown paths go to the same counter.
    expectTooMany(await raw(s, "GET", "/api/sync/nothing", { abs: true }), 10, s);
    // Real paths: their own counters, Better Auth's rules.
    const gs = await raw(s, "GET", "/get-session");
    expectOk(gs, s);
    for (let i = 0; i < 3; i++) expectError(await signInAttempt(s), 401, "INVALID_EMAIL_OR_PASSWORD", undefined, s);
    expectTooMany(await signInAttempt(s), 10, s);
    // Another address is not affected.
    assert.equal((await raw(s, "GET", "/no-such-endpoint-0", { headers: { "x-forwarded-for": "10.7.7.7" } })).status, 404);
  } finally { await s.stop(); }
});

test("X-Forwarded-For: first entry of the list; --ip-address-header none ignores it (peer address only)", T, async () => {
  const s = await startServer({ tag: "rl-xff", rateLimit: true });
  try {
    for (let i = 0; i < 3; i++) expectError(await signInAttempt(s, { "x-forwarded-for": "198.51.100.9, 10.0.0.1" }), 401, undefined, undefined, s);
    expectTooMany(await signInAttempt(s, { "x-forwarded-for": "198.51.100.9" }), 10, s);
    expectError(await signInAttempt(s, { "x-forwarded-for": "10.0.0.1" }), 401, undefined, undefined, s);
  } finally { await s.stop(); }

  const p = await startServer({ tag: "rl-peer", rateLimit: true, args: ["--ip-address-header", "none"] });
  try {
    for (let i = 0; i < 3; i++) expectError(await signInAttempt(p, { "x-forwarded-for": `203.0.113.${i}` }), 401, undefined, undefined, p);
    // A forged header does not buy a fresh bucket when the server does not trust it.
    expectTooMany(await signInAttempt(p, { "x-forwarded-for": "203.0.113.99" }), 10, p);
  } finally { await p.stop(); }
});

test("magic-link plugin rule: 5 per 60 s (wins over the /sign-in* rule)", T, async () => {
  const s = await startServer({ tag: "rl-ml", rateLimit: true });
  try {
    for (let i = 0; i < 5; i++) {
      const res = await raw(s, "POST", "/sign-in/magic-link", { json: { email: "m@example.com" }, origin: true });
      assert.notEqual(res.status, 429, describe(res, s));
    }
    const res = await raw(s, "POST", "/sign-in/magic-link", { json: { email: "m@example.com" }, origin: true });
    expectTooMany(res, 60, s);
  } finally { await s.stop(); }
});

test("config file: default window/max and custom rules (a rule can switch a path off)", T, async () => {
  const s = await startServer({
    tag: "rl-cfg", rateLimit: true,
    config: { rate_limit: { window: 30, max: 2, custom_rules: { "/sign-in/email": false, "/ok": { window: 45, max: 1 } } } },
  });
  try {
    expectOk(await raw(s, "GET", "/get-session"), s);
    expectOk(await raw(s, "GET", "/get-session"), s);
    expectTooMany(await raw(s, "GET", "/get-session"), 30, s);
    for (let i = 0; i < 5; i++) expectError(await signInAttempt(s), 401, undefined, undefined, s);
    expectOk(await raw(s, "GET", "/ok"), s);
    expectTooMany(await raw(s, "GET", "/ok"), 45, s);
  } finally { await s.stop(); }
});

test("--rate-limit-window / --rate-limit-max set the default rule; --no-rate-limit turns every limit off", T, async () => {
  const s = await startServer({ tag: "rl-flags", rateLimit: true, args: ["--rate-limit-window", "20", "--rate-limit-max", "1"] });
  try {
    expectOk(await raw(s, "GET", "/ok"), s);
    expectTooMany(await raw(s, "GET", "/ok"), 20, s);
  } finally { await s.stop(); }
  const off = await startServer({ tag: "rl-off", rateLimit: true, args: ["--no-rate-limit", "--anonymous-sign-ins-per-hour", "1"] });
  try {
    for (let i = 0; i < 6; i++) expectError(await signInAttempt(off), 401, undefined, undefined, off);
    await signInAnonymous(off);
    await signInAnonymous(off);
    assert.deepEqual(off.sql(`SELECT COUNT(*) AS n FROM "rateLimit"`), [{ n: 0 }]);
  } finally { await off.stop(); }
});

test("anonymous sign-ins per client address and hour: 429 TOO_MANY_ANONYMOUS_SIGN_INS", T, async () => {
  const s = await startServer({ tag: "rl-anon", rateLimit: true, args: ["--anonymous-sign-ins-per-hour", "2"] });
  try {
    const from = { "x-forwarded-for": "192.0.2.10" };
    for (let i = 0; i < 2; i++) expectOk(await raw(s, "POST", "/sign-in/anonymous", { origin: true, headers: from }), s);
    const capped = await raw(s, "POST", "/sign-in/anonymous", { origin: true, headers: from });
    expectError(capped, 429, "TOO_MANY_ANONYMOUS_SIGN_INS",
      "Too many anonymous sign-ins from this address. Please try again later.", s);
    const retry = Number(capped.headers["x-retry-after"]);
    assert.ok(retry > 3500 && retry <= 3600, `x-retry-after about an hour; got ${capped.headers["x-retry-after"]}`);
    assert.equal(s.sql(`SELECT COUNT(*) AS n FROM "user" WHERE "isAnonymous" = 1`)[0].n, 2, "the capped attempt created nobody");
    // Another address is not affected.
    expectOk(await raw(s, "POST", "/sign-in/anonymous", { origin: true, headers: { "x-forwarded-for": "192.0.2.11" } }), s);
  } finally { await s.stop(); }
});

test("several instances on one database share the counters", T, async () => {
  const dir = makeTempDir("rl-multi");
  const dbPath = path.join(dir, "shared.db");
  const a = await startServer({ tag: "rl-a", rateLimit: true, args: ["--database", `sqlite:${dbPath}`] });
  const b = await startServer({ tag: "rl-b", rateLimit: true, args: ["--database", `sqlite:${dbPath}`] });
  try {
    expectError(await signInAttempt(a), 401, undefined, undefined, a);
    expectError(await signInAttempt(b), 401, undefined, undefined, b);
    expectError(await signInAttempt(a), 401, undefined, undefined, a);
    expectTooMany(await signInAttempt(b), 10, b);
    assert.equal(sqlite(dbPath, `SELECT "count" FROM "rateLimit" WHERE "key" = '127.0.0.1/sign-in/email'`)[0].count, 3);
  } finally {
    await a.stop();
    await b.stop();
  }
});
