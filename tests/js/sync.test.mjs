// Data sync over real HTTP (docs/sync-protocol.md): /api/sync/push and /pull with bearer
// tokens from the anonymous and email endpoints, the guest cart surviving sign-up and
// sign-in (merged on both devices), idempotent retries, bad inputs, and a push cut off by
// SIGKILL whose retry after a restart applies exactly once.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { rmSync } from "node:fs";
import {
  T, startServer, raw, describe, expectError, expectOk, signUp, signIn, signInAnonymous,
  uniqueEmail, sqlite, q, userRow,
} from "./harness.mjs";

let server;
before(async () => {
  server = await startServer({ tag: "sync", args: ["--sync-merge-policy", "prefs=keep-account"] });
});
after(async () => { await server?.stop(); });

const put = (mid, collection, id, data) => ({ mid, op: "put", collection, id, data });
const patch = (mid, collection, id, data) => ({ mid, op: "patch", collection, id, data });
const del = (mid, collection, id) => ({ mid, op: "delete", collection, id });

function push(s, bearer, clientId, mutations, opts = {}) {
  return raw(s, "POST", "/api/sync/push", { abs: true, json: { clientId, mutations }, bearer, ...opts });
}
async function pushOk(s, bearer, clientId, mutations) {
  const res = await push(s, bearer, clientId, mutations);
  expectOk(res, s);
  return res.json;
}
async function pullOk(s, bearer, since = 0, limit = 1000) {
  const res = await raw(s, "GET", `/api/sync/pull?since=${since}&limit=${limit}`, { abs: true, bearer });
  expectOk(res, s);
  return res.json;
}
/** {"collection/id": data} of the live records. */
async function liveRecords(s, bearer) {
  const out = {};
  for (const c of (await pullOk(s, bearer)).changes) if (!c.deleted) out[`${c.collection}/${c.id}`] = c.data;
  return out;
}

test("push/pull shapes: versions, tombstones, since, more", T, async () => {
  const g = await signInAnonymous(server);
  assert.deepEqual(await pullOk(server, g.signed), { changes: [], version: 0, more: false });
  const r = await pushOk(server, g.signed, "dev", [
    put(1, "cart", "apple", { qty: 1 }), put(2, "cart", "pear", { qty: 2 }),
    patch(3, "cart", "apple", { note: "ripe" }), del(4, "cart", "pear"),
  ]);
  assert.deepEqual(r, { applied: 4, skipped: 0, lastMid: 4, version: 4 });
  const all = await pullOk(server, g.signed);
  assert.equal(all.version, 4);
  assert.equal(all.more, false);
  assert.equal(all.changes.length, 2);
  const [apple, pear] = all.changes;
  assert.deepEqual({ ...apple, updatedAt: undefined },
    { collection: "cart", id: "apple", version: 3, deleted: false, data: { qty: 1, note: "ripe" }, updatedAt: undefined });
  assert.match(apple.updatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(pear.deleted, true);
  assert.equal(pear.data, null);
  assert.equal(pear.version, 4);
  const page = await pullOk(server, g.signed, 0, 1);
  assert.deepEqual([page.changes.length, page.version, page.more], [1, 3, true]);
  const rest = await pullOk(server, g.signed, page.version, 1);
  assert.deepEqual([rest.changes.length, rest.version, rest.more], [1, 4, false]);
});

test("guest pushes a cart, signs up: the account pulls the cart; the guest's data is gone", T, async () => {
  const g = await signInAnonymous(server);
  await pushOk(server, g.signed, "phone", [put(1, "cart", "apple", { qty: 2 }), put(2, "cart", "milk", { qty: 1 })]);
  const up = await signUp(server, { bearer: g.signed });
  assert.notEqual(up.user.id, g.user.id);
  assert.deepEqual(await liveRecords(server, up.signed), { "cart/apple": { qty: 2 }, "cart/milk": { qty: 1 } });
  assert.equal(userRow(server, g.user.id), undefined);
  assert.equal(server.sql(`SELECT count(*) AS n FROM sync_record WHERE userId = ${q(g.user.id)}`)[0].n, 0);
  // The old guest token no longer reads anything.
  const dead = await raw(server, "GET", "/api/sync/pull", { abs: true, bearer: g.signed });
  expectError(dead, 401, "UNAUTHORIZED", undefined, server);
  // The phone retries its last push under the account: recognised, nothing doubles.
  const again = await pushOk(server, up.signed, "phone", [put(2, "cart", "milk", { qty: 1 })]);
  assert.deepEqual(again, { applied: 0, skipped: 1, lastMid: 2, version: 2 });
});

test("second device of an existing account + a guest who signs in: merged cart on both devices", T, async () => {
  const email = uniqueEmail("sync");
  const laptop = await signUp(server, { email });
  await pushOk(server, laptop.signed, "laptop", [
    put(1, "cart", "shoe", { qty: 1, color: "red" }), put(2, "cart", "hat", { qty: 1 }),
    put(3, "prefs", "theme", { dark: true }),
  ]);
  const laptopVersion = (await pullOk(server, laptop.signed)).version;
  await new Promise((r) => setTimeout(r, 5));

  const g = await signInAnonymous(server);
  await pushOk(server, g.signed, "phone", [
    put(1, "cart", "shoe", { qty: 3, size: "L" }), put(2, "cart", "sock", { qty: 2 }),
    put(3, "prefs", "theme", { dark: false }),
  ]);
  const phone = await signIn(server, { email, bearer: g.signed });
  assert.equal(phone.user.id, laptop.user.id);

  const expected = {
    "cart/shoe": { qty: 3, color: "red", size: "L" },   // merge-fields: both fields kept, newer wins
    "cart/hat": { qty: 1 },
    "cart/sock": { qty: 2 },
    "prefs/theme": { dark: true },                      // --sync-merge-policy prefs=keep-account
  };
  assert.deepEqual(await liveRecords(server, phone.signed), expected);
  assert.deepEqual(await liveRecords(server, laptop.signed), expected);
  // The laptop's incremental pull brings exactly what changed.
  const news = await pullOk(server, laptop.signed, laptopVersion);
  assert.deepEqual(news.changes.map((c) => c.id).sort(), ["shoe", "sock"]);
});

test("a merge above 64 KiB keeps the account's record and files the guest's under _conflicts; patches go on", T, async () => {
  const email = uniqueEmail("sync-big");
  const laptop = await signUp(server, { email });
  const accountNote = { a: "a".repeat(40_000) };
  const guestNote = { g: "g".repeat(40_000) };
  await pushOk(server, laptop.signed, "laptop", [put(1, "notes", "n1", accountNote)]);
  await new Promise((r) => setTimeout(r, 5));
  const g = await signInAnonymous(server);
  await pushOk(server, g.signed, "phone", [put(1, "notes", "n1", guestNote)]);
  const phone = await signIn(server, { email, bearer: g.signed });
  assert.equal(phone.user.id, laptop.user.id);

  const records = await liveRecords(server, phone.signed);
  const n1 = records["notes/n1"];
  assert.ok(JSON.stringify(n1) === JSON.stringify(accountNote),
    `notes/n1 must stay the account's record; it has ${JSON.stringify(n1).length} bytes`);
  const conflicts = Object.entries(records).filter(([key]) => key.startsWith("_conflicts/"));
  assert.equal(conflicts.length, 1, `one conflict record; got ${Object.keys(records)}`);
  const [, conflict] = conflicts[0];
  assert.deepEqual({ ...conflict, data: undefined, mergedBytes: undefined, updatedAt: undefined },
    { collection: "notes", id: "n1", reason: "RECORD_TOO_LARGE", data: undefined, mergedBytes: undefined, updatedAt: undefined });
  assert.ok(JSON.stringify(conflict.data) === JSON.stringify(guestNote), "the conflict holds the guest's record whole");
  assert.ok(conflict.mergedBytes > 65_536, `mergedBytes ${conflict.mergedBytes}`);
  // The record still takes patches (a merged 80 KB record refused every one with RECORD_TOO_LARGE).
  await pushOk(server, laptop.signed, "laptop", [patch(2, "notes", "n1", { more: "text" })]);
  assert.equal((await liveRecords(server, laptop.signed))["notes/n1"].more, "text");
  // The client removes the conflict once the user has decided.
  await pushOk(server, phone.signed, "phone", [del(2, "_conflicts", conflicts[0][0].slice("_conflicts/".length))]);
  assert.equal(Object.keys(await liveRecords(server, laptop.signed)).filter((k) => k.startsWith("_conflicts/")).length, 0);
});

test("pull pages have a byte budget (4 MiB): 100 records of 60 KB come in several pages, each once", T, async () => {
  const g = await signInAnonymous(server);
  const big = "x".repeat(60_000);
  for (let first = 1; first <= 100; first += 16) {   // 16 x 60 KB per push: below the 1 MiB body limit
    const batch = [];
    for (let i = first; i < first + 16 && i <= 100; i++) batch.push(put(i, "big", `r${String(i).padStart(3, "0")}`, { t: big, n: i }));
    await pushOk(server, g.signed, "c", batch);
  }
  // The SDK's loop (sdk/src/syncengine.cpp): pull from `version` again while `more`.
  const seen = [];
  const pages = [];
  let since = 0;
  for (let more = true; more;) {
    assert.ok(pages.length < 20, "the pull loop must end");
    const res = await raw(server, "GET", `/api/sync/pull?since=${since}&limit=500`, { abs: true, bearer: g.signed });
    expectOk(res, server);
    const bytes = Buffer.byteLength(res.text);
    assert.ok(bytes <= 4 * 1024 * 1024 + 64 * 1024, `page ${pages.length + 1} is ${bytes} bytes`);
    const page = res.json;
    assert.ok(page.changes.length > 0, "a page is never empty");
    pages.push(page.changes.length);
    for (const c of page.changes) seen.push(c.id);
    if (page.more) assert.equal(page.version, page.changes.at(-1).version);
    assert.ok(page.version > since);
    since = page.version;
    more = page.more;
  }
  assert.ok(pages.length >= 2, `several pages; got ${JSON.stringify(pages)}`);
  assert.equal(since, 100);
  assert.equal(seen.length, 100);
  assert.equal(new Set(seen).size, 100, "every record exactly once");
});

test("retried push with the same mids is skipped; the version does not move", T, async () => {
  const g = await signInAnonymous(server);
  const batch = [put(1, "cart", "a", { qty: 1 }), patch(2, "cart", "a", { qty: 2 })];
  assert.deepEqual(await pushOk(server, g.signed, "dev", batch), { applied: 2, skipped: 0, lastMid: 2, version: 2 });
  assert.deepEqual(await pushOk(server, g.signed, "dev", batch), { applied: 0, skipped: 2, lastMid: 2, version: 2 });
  assert.deepEqual(await liveRecords(server, g.signed), { "cart/a": { qty: 2 } });
});

test("cookie clients need a trusted Origin for push; bearer clients need none", T, async () => {
  const g = await signInAnonymous(server);
  const body = { clientId: "c", mutations: [put(1, "c", "x", {})] };
  expectError(await raw(server, "POST", "/api/sync/push", { abs: true, json: body, cookie: g.cookie }), 403, "MISSING_OR_NULL_ORIGIN");
  expectError(await raw(server, "POST", "/api/sync/push", { abs: true, json: body, cookie: g.cookie, origin: "https://evil.example" }),
    403, "INVALID_ORIGIN");
  expectOk(await raw(server, "POST", "/api/sync/push", { abs: true, json: body, cookie: g.cookie, origin: true }), server);
  expectOk(await raw(server, "GET", "/api/sync/pull", { abs: true, cookie: g.cookie }), server);
});

test("bad inputs answer 4xx with a code, never 500", T, async () => {
  const g = await signInAnonymous(server);
  const b = g.signed;
  const P = (json, opts = {}) => raw(server, "POST", "/api/sync/push", { abs: true, json, bearer: b, ...opts });
  expectError(await raw(server, "POST", "/api/sync/push", { abs: true, json: { clientId: "c", mutations: [] } }), 401, "UNAUTHORIZED");
  expectError(await P("{oops"), 400, "BAD_REQUEST");
  expectError(await P({ mutations: [] }), 400, "INVALID_CLIENT_ID");
  expectError(await P({ clientId: "c" }), 400, "INVALID_MUTATIONS");
  expectError(await P({ clientId: "c", mutations: [put(0, "c", "1", {})] }), 400, "INVALID_MID");
  expectError(await P({ clientId: "c", mutations: [put(2, "c", "1", {}), put(2, "c", "2", {})] }), 400, "INVALID_MID");
  expectError(await P({ clientId: "c", mutations: [{ mid: 1, op: "upsert", collection: "c", id: "1", data: {} }] }), 400, "INVALID_OP");
  expectError(await P({ clientId: "c", mutations: [put(1, "a/b", "1", {})] }), 400, "INVALID_COLLECTION");
  expectError(await P({ clientId: "c", mutations: [put(1, "c", "", {})] }), 400, "INVALID_RECORD_ID");
  expectError(await P({ clientId: "c", mutations: [put(1, "c", "1", [1, 2])] }), 400, "INVALID_DATA");
  expectError(await P({ clientId: "c", mutations: [put(1, "c", "1", { t: "x".repeat(70_000) })] }), 400, "RECORD_TOO_LARGE");
  const many = Array.from({ length: 501 }, (_, i) => put(i + 1, "c", `r${i}`, {}));
  expectError(await P({ clientId: "c", mutations: many }), 400, "TOO_MANY_MUTATIONS");
  expectError(await P({ clientId: "c", mutations: [], pad: "p".repeat(1_100_000) }), 413, "PAYLOAD_TOO_LARGE");
  const res = await raw(server, "POST", "/api/sync/push", { abs: true, body: "{}", bearer: b, headers: { "content-type": "text/plain" } });
  assert.equal(res.status, 415, describe(res, server));
  for (const [query, code] of [["since=-1", "INVALID_SINCE"], ["since=x", "INVALID_SINCE"], ["limit=0", "INVALID_LIMIT"], ["limit=5000", "INVALID_LIMIT"]]) {
    expectError(await raw(server, "GET", `/api/sync/pull?${query}`, { abs: true, bearer: b }), 400, code);
  }
  assert.equal((await raw(server, "GET", "/api/sync/push", { abs: true, bearer: b })).status, 404);
  assert.equal((await raw(server, "GET", "/api/sync/nothing", { abs: true, bearer: b })).status, 404);
  assert.deepEqual(await pullOk(server, b), { changes: [], version: 0, more: false }, "nothing was applied");
});

/** Sends the head of a POST and resolves once the server has accepted the connection. */
function partialPush(s, bearer, body, sentBytes) {
  const url = new URL("/api/sync/push", s.origin);
  const req = http.request({
    host: url.hostname, port: url.port, method: "POST", path: url.pathname, agent: false,
    headers: { "content-type": "application/json", "content-length": String(body.length), authorization: `Bearer ${bearer}` },
  });
  req.on("error", () => { /* the server is killed under it */ });
  req.write(body.subarray(0, sentBytes));
  return new Promise((resolve) => { req.on("socket", (sock) => sock.on("connect", () => setTimeout(resolve, 200))); });
}

async function sigkill(s) {
  const exited = new Promise((resolve) => s.child.once("exit", resolve));
  s.child.kill("SIGKILL");
  await exited;
}

test("a push cut off by SIGKILL mid-stream, retried after a restart, applies exactly once", T, async () => {
  let s = await startServer({ tag: "sync-kill" });
  const dir = s.dir;
  try {
    const g = await signInAnonymous(s);
    const mutations = Array.from({ length: 50 }, (_, i) => put(i + 1, "cart", `item${i}`, { qty: i }));
    const body = Buffer.from(JSON.stringify({ clientId: "phone", mutations }));

    // 1. Half the body arrives, then the server dies: nothing applied.
    await partialPush(s, g.signed, body, Math.floor(body.length / 2));
    await sigkill(s);
    s = await startServer({ tag: "sync-kill", dir });
    assert.equal(sqlite(s.dbPath, "SELECT count(*) AS n FROM sync_record")[0].n, 0);
    assert.deepEqual(await pushOk(s, g.signed, "phone", mutations), { applied: 50, skipped: 0, lastMid: 50, version: 50 });

    // 2. A full push whose answer never reaches the client (killed right after): the retry
    //    after the restart is recognised, whether or not the first attempt committed.
    const more = Array.from({ length: 50 }, (_, i) => put(i + 51, "cart", `more${i}`, { qty: i }));
    const second = Buffer.from(JSON.stringify({ clientId: "phone", mutations: more }));
    await partialPush(s, g.signed, second, second.length);
    await sigkill(s);
    s = await startServer({ tag: "sync-kill", dir });
    const retry = await pushOk(s, g.signed, "phone", more);
    assert.equal(retry.applied + retry.skipped, 50);
    assert.ok(retry.applied === 0 || retry.applied === 50, `all or nothing; got ${JSON.stringify(retry)}`);
    assert.deepEqual([retry.lastMid, retry.version], [100, 100]);
    const again = await pushOk(s, g.signed, "phone", more);
    assert.deepEqual(again, { applied: 0, skipped: 50, lastMid: 100, version: 100 });

    const all = await pullOk(s, g.signed);
    assert.equal(all.changes.length, 100);
    assert.deepEqual(all.changes.map((c) => c.version), Array.from({ length: 100 }, (_, i) => i + 1));
  } finally {
    await s.stop({ keep: true });
    if (!process.env.KERNIA_KEEP_TMP) rmSync(dir, { recursive: true, force: true });
  }
});

test("--sync-max-user-bytes: pushes until the quota, then 400 SYNC_QUOTA_EXCEEDED; a delete frees space", T, async () => {
  const s = await startServer({ tag: "sync-quota", args: ["--sync-max-user-bytes", "1000"] });
  try {
    const g = await signInAnonymous(s);
    const sized = (bytes) => ({ t: "x".repeat(bytes - 8) });   // {"t":"..."}: 8 bytes of framing
    assert.equal(JSON.stringify(sized(400)).length, 400);
    assert.deepEqual(await pushOk(s, g.signed, "phone", [put(1, "notes", "a", sized(400)), put(2, "notes", "b", sized(400))]),
      { applied: 2, skipped: 0, lastMid: 2, version: 2 });

    // 800 + 400 > 1000: the whole push is refused, the record before it included.
    const refused = await push(s, g.signed, "phone", [put(3, "notes", "small", {}), put(4, "notes", "c", sized(400))]);
    expectError(refused, 400, "SYNC_QUOTA_EXCEEDED", undefined, s);
    assert.deepEqual(Object.keys(refused.json).sort(), ["code", "message"]);
    assert.match(refused.json.message, /800 are used/);
    assert.match(refused.json.message, /at most 1000/);
    const after = await pullOk(s, g.signed);
    assert.equal(after.version, 2);
    assert.deepEqual(after.changes.map((c) => c.id), ["a", "b"]);
    assert.equal((await pushOk(s, g.signed, "phone", [])).lastMid, 2);

    // Up to the quota exactly: passes; one byte more does not (another client too).
    await pushOk(s, g.signed, "phone", [put(3, "notes", "c", sized(200))]);
    expectError(await push(s, g.signed, "laptop", [put(1, "notes", "d", {})]), 400, "SYNC_QUOTA_EXCEEDED", undefined, s);

    // A delete frees the record's bytes; a push that deletes and adds as much passes at once.
    await pushOk(s, g.signed, "phone", [del(4, "notes", "a")]);
    await pushOk(s, g.signed, "laptop", [put(1, "notes", "d", sized(400))]);
    await pushOk(s, g.signed, "phone", [del(5, "notes", "b"), put(6, "notes", "e", sized(400))]);
    assert.deepEqual(Object.keys(await liveRecords(s, g.signed)).sort(), ["notes/c", "notes/d", "notes/e"]);
    // Another user has a quota of its own.
    const h = await signInAnonymous(s);
    await pushOk(s, h.signed, "tab", [put(1, "notes", "a", sized(1000))]);
  } finally {
    await s.stop();
  }
});
