// Test harness for the kernia-server conformance suite.
//
// Starts real kernia-server processes (127.0.0.1, --port 0, fresh temp data dir,
// fixed secret), talks to them with the official better-auth client (cookie jar
// or bearer mode) and with raw node:http requests (exact headers, no fetch
// magic such as undici's automatic `sec-fetch-mode: cors`), and reads the
// SQLite database with the sqlite3 CLI.
//
// Environment:
//   KERNIA_SERVER     path of the kernia-server binary (ctest sets it)
//   KERNIA_KEEP_TMP=1 keep temp dirs (data dir, config, server logs)
//   KERNIA_TEST_VERBOSE=1 echo server stderr live
//   KERNIA_TEST_DATABASE=postgres  every startServer() gets a fresh PostgreSQL database
//                     (CREATE DATABASE via psql on KERNIA_TEST_POSTGRES_URL, dropped on
//                     stop) and `--database postgres://...`; server.sql()/sqlite() then run
//                     the (SQLite-flavoured) test SQL through psql (see pgQuery)

import { spawn, execFileSync, spawnSync } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";

import { createAuthClient } from "better-auth/client";
import { anonymousClient } from "better-auth/client/plugins";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "..", "..");

/** The fixed 40-character secret used by default. */
export const SECRET = "kernia-js-conformance-secret-0123456789A";
assert.equal(SECRET.length, 40);
export const PASSWORD = "password123";
/** Per-test default options: every test gets a hard timeout. */
export const T = { timeout: 60_000 };

export const SESSION_COOKIE = "better-auth.session_token";
export const DATA_COOKIE = "better-auth.session_data";
export const DONT_REMEMBER_COOKIE = "better-auth.dont_remember";
export const CLEARING_COOKIES = [
  `${SESSION_COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax`,
  `${DATA_COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax`,
  `${DONT_REMEMBER_COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax`,
];

// ---------------------------------------------------------------------------
// Server binary + process management
// ---------------------------------------------------------------------------

export function serverBinary() {
  const fromEnv = process.env.KERNIA_SERVER;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`KERNIA_SERVER=${fromEnv} does not exist (build it first)`);
    return fromEnv;
  }
  for (const dir of ["build", "build-debug", "build-release"]) {
    const p = path.join(REPO, dir, "sync-server", "kernia-server");
    if (existsSync(p)) return p;
  }
  throw new Error("kernia-server not found: set KERNIA_SERVER or build into ./build (./scripts/setup.sh)");
}

const live = new Set();
process.on("exit", () => {
  for (const child of live) {
    try { child.kill("SIGKILL"); } catch { /* already gone */ }
  }
});

let tmpCounter = 0;
export function makeTempDir(tag = "srv") {
  const base = process.env.KERNIA_TEST_TMP || os.tmpdir();
  mkdirSync(base, { recursive: true });
  return mkdtempSync(path.join(base, `kernia-js-${tag}-${process.pid}-${tmpCounter++}-`));
}

/**
 * Start a kernia-server. Options:
 *   args        extra CLI args (appended after the defaults)
 *   config      object written to config.json and passed with --config
 *   env         extra environment variables
 *   secret      (default SECRET; null = pass no --secret)
 *   defaults    false = pass none of the default flags (only `args` / --config)
 *   dir         temp dir to use (reuse between runs); default: a fresh one
 *   cwd         working directory of the process (default: dir)
 *   setupDb     (dbPath) => void, called before the server starts (create app tables)
 *   readyTimeoutMs  how long to wait for the listening line (default 20 s)
 *   rateLimit   true = keep kernia-server's rate limits on; by default the harness passes
 *               --no-rate-limit (the suites sign in many times from one address)
 */
export async function startServer(opts = {}) {
  const bin = serverBinary();
  const dir = opts.dir ?? makeTempDir(opts.tag ?? "srv");
  const dataDir = path.join(dir, "data");
  // PostgreSQL mode: "dbPath" is the URL of a fresh database (or opts.database to share one
  // between several servers); sqlite()/server.sql() understand both. A reused `dir` (a
  // restart) keeps its database: the URL is remembered in the dir.
  const pgMode = usePostgres() && opts.defaults !== false && !opts.database;
  const pgUrlFile = path.join(dir, "pg-database-url");
  const reusedPg = pgMode && existsSync(pgUrlFile);
  const ownPgDatabase = pgMode && !opts.dir;   // dropped on stop; with opts.dir the dir's owner decides
  const dbPath = opts.database ?? (pgMode
    ? (reusedPg ? readFileSync(pgUrlFile, "utf8").trim() : createPgDatabase(opts.tag ?? "srv"))
    : path.join(dataDir, "kernia.db"));
  if (pgMode && !reusedPg) writeFileSync(pgUrlFile, `${dbPath}\n`);
  mkdirSync(dataDir, { recursive: true });
  if (opts.setupDb) opts.setupDb(dbPath);

  const args = [];
  if (opts.defaults !== false) {
    const database = isPgUrl(dbPath) ? dbPath : `sqlite:${dbPath}`;
    args.push("--host", "127.0.0.1", "--port", "0", "--database", database, "--data-dir", dataDir);
    const secret = opts.secret === undefined ? SECRET : opts.secret;
    if (secret !== null) args.push("--secret", secret);
  }
  if (opts.config !== undefined) {
    const cfgPath = path.join(dir, `config-${tmpCounter++}.json`);
    writeFileSync(cfgPath, typeof opts.config === "string" ? opts.config : JSON.stringify(opts.config, null, 2));
    args.push("--config", cfgPath);
  }
  if (opts.rateLimit !== true) args.push("--no-rate-limit");
  args.push(...(opts.args ?? []));

  const env = { ...process.env };
  delete env.KERNIA_SECRET;
  delete env.KERNIA_BASE_URL;
  Object.assign(env, opts.env ?? {});

  const child = spawn(bin, args, { cwd: opts.cwd ?? dir, env, stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  let stdout = "";
  let stderr = "";
  let exited = null;
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d) => {
    stderr += d;
    if (process.env.KERNIA_TEST_VERBOSE) process.stderr.write(d);
  });
  const exitPromise = new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      exited = { code, signal };
      live.delete(child);
      resolve(exited);
    });
    child.on("error", (err) => {
      exited = { code: null, signal: null, error: err };
      live.delete(child);
      resolve(exited);
    });
  });

  const readyTimeoutMs = opts.readyTimeoutMs ?? 20_000;
  const origin = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`kernia-server did not print "listening on http://HOST:PORT" within ${readyTimeoutMs} ms\n` +
        `command: ${bin} ${args.join(" ")}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, readyTimeoutMs);
    child.stdout.on("data", (d) => {
      stdout += d;
      const m = /^listening on (http:\/\/[^\s/]+)\s*$/m.exec(stdout);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    exitPromise.then((e) => {
      clearTimeout(timer);
      reject(new Error(`kernia-server exited before listening (code ${e.code}, signal ${e.signal}${e.error ? ", " + e.error.message : ""})\n` +
        `command: ${bin} ${args.join(" ")}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    });
  }).catch(async (err) => {
    await killChild(child, exitPromise);
    if (!opts.dir && !process.env.KERNIA_KEEP_TMP) rmSync(dir, { recursive: true, force: true });
    if (ownPgDatabase && !process.env.KERNIA_KEEP_TMP) dropPgDatabase(dbPath);
    throw err;
  });

  const server = {
    origin,
    port: Number(new URL(origin).port),
    base: `${origin}/api/auth`,
    dir,
    dataDir,
    dbPath,
    /** The --database value: sqlite:PATH or the postgres:// URL. */
    database: isPgUrl(dbPath) ? dbPath : `sqlite:${dbPath}`,
    args,
    child,
    url: (p) => `${origin}/api/auth${p}`,
    stdout: () => stdout,
    stderr: () => stderr,
    exited: () => exited,
    /** Run SQL against the server's SQLite file; returns rows (objects). */
    sql: (query) => sqlite(dbPath, query),
    async stop({ keep = false } = {}) {
      await killChild(child, exitPromise);
      if (!keep && !opts.dir && !process.env.KERNIA_KEEP_TMP) {
        rmSync(dir, { recursive: true, force: true });
      }
      if (ownPgDatabase && !keep && !process.env.KERNIA_KEEP_TMP) dropPgDatabase(dbPath);
    },
    /** Appends server logs to an assertion message. */
    logs() { return `\n--- kernia-server stderr ---\n${stderr.slice(-4000)}`; },
  };
  return server;
}

async function killChild(child, exitPromise) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try { child.kill("SIGTERM"); } catch { return; }
  const t = setTimeout(() => { try { child.kill("SIGKILL"); } catch { /* gone */ } }, 5_000);
  await exitPromise;
  clearTimeout(t);
}

/**
 * Run kernia-server to completion (for CLI tests: --help, bad secret, ...).
 * Kills it after timeoutMs. Resolves {code, signal, stdout, stderr, timedOut}.
 */
export function runServerToExit(args, { env = {}, cwd, timeoutMs = 15_000 } = {}) {
  const bin = serverBinary();
  const fullEnv = { ...process.env };
  delete fullEnv.KERNIA_SECRET;
  delete fullEnv.KERNIA_BASE_URL;
  Object.assign(fullEnv, env);
  return new Promise((resolve) => {
    const child = spawn(bin, args, { cwd: cwd ?? os.tmpdir(), env: fullEnv, stdio: ["ignore", "pipe", "pipe"] });
    live.add(child);
    let stdout = "", stderr = "", timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (d) => { stdout += d; });
    child.stderr.setEncoding("utf8").on("data", (d) => { stderr += d; });
    const timer = setTimeout(() => { timedOut = true; child.kill("SIGKILL"); }, timeoutMs);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
    child.on("error", (err) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code: null, signal: null, stdout, stderr: stderr + String(err), timedOut });
    });
  });
}

// ---------------------------------------------------------------------------
// SQLite (sqlite3 CLI)
// ---------------------------------------------------------------------------

export function sqlite(dbPath, query) {
  if (isPgUrl(dbPath)) return pgQuery(dbPath, query);
  const out = execFileSync("sqlite3", ["-json", "-cmd", ".timeout 5000", dbPath, query], {
    encoding: "utf8",
    timeout: 15_000,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const text = out.trim();
  if (!text) return [];
  return JSON.parse(text);
}

// ---------------------------------------------------------------------------
// PostgreSQL (KERNIA_TEST_DATABASE=postgres; psql client)
// ---------------------------------------------------------------------------

/** True when the suite runs kernia-server on PostgreSQL. */
export function usePostgres() {
  const mode = (process.env.KERNIA_TEST_DATABASE ?? "sqlite").toLowerCase();
  if (mode !== "postgres" && mode !== "postgresql") return false;
  if (!process.env.KERNIA_TEST_POSTGRES_URL) {
    throw new Error("KERNIA_TEST_DATABASE=postgres needs KERNIA_TEST_POSTGRES_URL (scripts/test.sh starts a throwaway server)");
  }
  return true;
}

export function isPgUrl(s) {
  return typeof s === "string" && /^postgres(ql)?:\/\//.test(s);
}

function psql(url, sql) {
  const r = spawnSync("psql", ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql], {
    encoding: "utf8", timeout: 15_000, env: { ...process.env, PGCONNECT_TIMEOUT: "10" },
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`psql failed (${r.status}): ${r.stderr.trim()}\nSQL: ${sql}`);
  return r.stdout;
}

let pgCounter = 0;
/** Creates a fresh database on KERNIA_TEST_POSTGRES_URL's server; returns its URL. */
export function createPgDatabase(tag = "srv") {
  const base = new URL(process.env.KERNIA_TEST_POSTGRES_URL);
  const name = `kernia_js_${tag.replace(/[^a-z0-9]/gi, "_").toLowerCase()}_${process.pid}_${pgCounter++}_${randomBytes(3).toString("hex")}`;
  psql(base.href, `CREATE DATABASE ${name}`);
  base.pathname = `/${name}`;
  return base.href;
}

export function dropPgDatabase(url) {
  const u = new URL(url);
  const name = u.pathname.slice(1);
  const base = new URL(process.env.KERNIA_TEST_POSTGRES_URL);
  try { psql(base.href, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); } catch (e) { console.error(`# ${e.message}`); }
}

/**
 * Runs test SQL written for SQLite on PostgreSQL: camelCase identifiers outside string
 * literals get double quotes, 0/1 compared with the boolean columns become FALSE/TRUE,
 * sqlite_master becomes information_schema.tables. A single SELECT returns its rows as
 * objects (like sqlite3 -json); anything else runs as is and returns [].
 */
export function pgQuery(url, query) {
  const parts = query.split(/('(?:[^']|'')*')/);
  for (let i = 0; i < parts.length; i += 2) {
    parts[i] = parts[i]
      .replace(/\bsqlite_master\b/g, "(SELECT table_name AS name, 'table' AS type FROM information_schema.tables WHERE table_schema = current_schema()) AS sqlite_master")
      .replace(/(?<!["\w])([a-z][a-z0-9]*[A-Z][A-Za-z0-9]*)(?![\w"])/g, '"$1"')
      .replace(/("(?:isAnonymous|emailVerified|backedUp|deleted)")\s*(=|<>|!=)\s*([01])\b/g,
        (_, col, op, v) => `${col} ${op} ${v === "1" ? "TRUE" : "FALSE"}`);
  }
  const sql = parts.join("").trim().replace(/;\s*$/, "");
  if (/^(SELECT|WITH)\b/i.test(sql) && !sql.includes(";")) {
    const out = psql(url, `SELECT coalesce(json_agg(t), '[]'::json) FROM (${sql}) t`).trim();
    return out ? JSON.parse(out) : [];
  }
  psql(url, sql);
  return [];
}

/** Single-quote a value for SQL. */
export function q(value) {
  return `'${String(value).replaceAll("'", "''")}'`;
}

export function asBool(v) {
  return v === true || v === 1 || v === "1" || v === "true" || v === "t";
}

// ---------------------------------------------------------------------------
// Cookies + signing
// ---------------------------------------------------------------------------

/** Better Auth's cookie signature: base64(HMAC-SHA256(secret, value)) */
export function sign(value, secret = SECRET) {
  return `${value}.${createHmac("sha256", secret).update(value, "utf8").digest("base64")}`;
}

/** The session-token cookie value as it appears on the wire. */
export function signedCookieValue(token, secret = SECRET) {
  return encodeURIComponent(sign(token, secret));
}

export function parseSetCookie(str) {
  const parts = str.split(";").map((s) => s.trim());
  const first = parts.shift();
  const eq = first.indexOf("=");
  const name = first.slice(0, eq);
  const value = first.slice(eq + 1);
  const attrs = {};
  for (const p of parts) {
    const i = p.indexOf("=");
    if (i < 0) attrs[p.toLowerCase()] = true;
    else attrs[p.slice(0, i).toLowerCase()] = p.slice(i + 1);
  }
  return { name, value, attrs, raw: str };
}

export class CookieJar {
  constructor() { this.cookies = new Map(); }
  store(setCookieHeaders) {
    for (const sc of setCookieHeaders ?? []) {
      const c = parseSetCookie(sc);
      const maxAge = c.attrs["max-age"];
      const expired = (maxAge !== undefined && Number(maxAge) <= 0) ||
        (c.attrs.expires && Date.parse(c.attrs.expires) < Date.now());
      if (expired) this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
  }
  get(name) { return this.cookies.get(name); }
  set(name, value) { this.cookies.set(name, value); }
  delete(name) { this.cookies.delete(name); }
  clear() { this.cookies.clear(); }
  get size() { return this.cookies.size; }
  header() { return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "); }
  clone() { const j = new CookieJar(); for (const [k, v] of this.cookies) j.set(k, v); return j; }
}

/** Cookie header carrying just this session cookie value (as received). */
export function sessionCookieHeader(value) {
  return `${SESSION_COOKIE}=${value}`;
}

// ---------------------------------------------------------------------------
// Raw HTTP (node:http: exact headers, nothing added but Host/Content-Length/Connection)
// ---------------------------------------------------------------------------

/**
 * raw(server, "POST", "/sign-in/email", {json, form, body, headers, origin, cookie, bearer})
 *   path: relative to /api/auth unless it starts with "http" or "//" (then use `abs`)
 *   origin: true → server origin, string → that, undefined/false → no Origin header
 * Resolves {status, headers, setCookies, text, json}.
 */
export function raw(server, method, p, opts = {}) {
  const url = new URL(opts.abs ? p : `${server.base}${p}`, server.origin);
  const headers = {};
  for (const [k, v] of Object.entries(opts.headers ?? {})) headers[k.toLowerCase()] = v;
  let body = opts.body;
  if (opts.json !== undefined) {
    body = typeof opts.json === "string" ? opts.json : JSON.stringify(opts.json);
    if (!("content-type" in headers)) headers["content-type"] = "application/json";
  }
  if (opts.form !== undefined) {
    body = new URLSearchParams(opts.form).toString();
    if (!("content-type" in headers)) headers["content-type"] = "application/x-www-form-urlencoded";
  }
  if (opts.origin === true) headers.origin = server.origin;
  else if (typeof opts.origin === "string") headers.origin = opts.origin;
  if (opts.cookie) headers.cookie = opts.cookie;
  if (opts.bearer) headers.authorization = `Bearer ${opts.bearer}`;
  if (body !== undefined && !Buffer.isBuffer(body)) body = Buffer.from(body, "utf8");
  if (body !== undefined) headers["content-length"] = String(body.length);
  const timeoutMs = opts.timeoutMs ?? 20_000;

  return new Promise((resolve, reject) => {
    let settled = false;
    const req = http.request({
      host: url.hostname, port: url.port, method, path: url.pathname + url.search,
      headers, agent: false,
    }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        settled = true;
        const text = Buffer.concat(chunks).toString("utf8");
        let json;
        try { json = text.length ? JSON.parse(text) : undefined; } catch { json = undefined; }
        resolve({
          status: res.statusCode,
          headers: res.headers,
          setCookies: res.headers["set-cookie"] ?? [],
          text,
          json,
        });
      });
      res.on("error", (e) => { if (!settled) { settled = true; reject(e); } });
    });
    req.setTimeout(timeoutMs, () => {
      req.destroy(new Error(`${method} ${url} timed out after ${timeoutMs} ms`));
    });
    req.on("error", (e) => {
      if (!settled) { settled = true; reject(new Error(`${method} ${url}: ${e.message}`)); }
    });
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** Describe a raw response for assertion messages. */
export function describe(res, server) {
  return `HTTP ${res.status}\n${JSON.stringify(res.headers)}\n${res.text.slice(0, 2000)}${server ? server.logs() : ""}`;
}

/** Assert a Better Auth error response {message, code}. */
export function expectError(res, status, code, message, server) {
  assert.equal(res.status, status, `expected HTTP ${status} ${code ?? ""}; got ${describe(res, server)}`);
  assert.match(String(res.headers["content-type"] ?? ""), /^application\/json/, `content-type; got ${describe(res)}`);
  assert.equal(typeof res.json, "object", `JSON error body; got ${describe(res)}`);
  assert.notEqual(res.json, null);
  if (code === null) assert.equal(res.json.code, undefined, `no code expected; got ${describe(res)}`);
  else if (code !== undefined) assert.equal(res.json.code, code, `code; got ${describe(res, server)}`);
  if (message !== undefined) assert.equal(res.json.message, message, `message; got ${describe(res)}`);
  else assert.equal(typeof res.json.message, "string", `message string; got ${describe(res)}`);
  assert.equal(res.headers["set-auth-token"], undefined, "an error must not carry set-auth-token");
}

export function expectOk(res, server) {
  assert.equal(res.status, 200, `expected 200; got ${describe(res, server)}`);
  assert.match(String(res.headers["content-type"] ?? ""), /^application\/json/, `content-type; got ${describe(res)}`);
}

/** The session_token Set-Cookie of a response (parsed), or undefined. */
export function sessionSetCookie(res) {
  const list = res.setCookies ?? res.headers?.getSetCookie?.() ?? [];
  return list.map(parseSetCookie).find((c) => c.name === SESSION_COOKIE);
}

/** Assert the response sets a live session cookie for `token`; returns the cookie value. */
export function expectSessionCookie(res, token, { maxAge = "604800", secret = SECRET } = {}) {
  const c = sessionSetCookie(res);
  assert.ok(c, `expected a ${SESSION_COOKIE} Set-Cookie; got ${JSON.stringify(res.setCookies)}`);
  const expectedValue = signedCookieValue(token, secret);
  const maxAgePart = maxAge === null ? "" : ` Max-Age=${maxAge};`;
  assert.equal(c.raw, `${SESSION_COOKIE}=${expectedValue};${maxAgePart} Path=/; HttpOnly; SameSite=Lax`,
    "exact session Set-Cookie serialisation (value = encodeURIComponent(token.base64(HMAC)))");
  // bearer plugin: set-auth-token = signed token, not percent-encoded
  assert.equal(res.headers["set-auth-token"], sign(token, secret), "set-auth-token = token.signature");
  const expose = String(res.headers["access-control-expose-headers"] ?? "");
  assert.ok(expose.split(",").map((s) => s.trim().toLowerCase()).includes("set-auth-token"),
    `access-control-expose-headers must list set-auth-token; got ${JSON.stringify(expose)}`);
  return c.value;
}

/** Assert the response carries exactly the three clearing cookies. */
export function expectClearingCookies(res, { ordered = false } = {}) {
  const got = ordered ? res.setCookies : [...res.setCookies].sort();
  const want = ordered ? CLEARING_COOKIES : [...CLEARING_COOKIES].sort();
  assert.deepEqual(got, want, `expected the 3 clearing Set-Cookie headers; got ${JSON.stringify(res.setCookies)}`);
  assert.equal(res.headers["set-auth-token"], undefined, "clearing responses never carry set-auth-token");
}

export function expectNoCookies(res) {
  assert.deepEqual(res.setCookies, [], `expected no Set-Cookie; got ${JSON.stringify(res.setCookies)}`);
}

// ---------------------------------------------------------------------------
// Official client: cookie-jar mode and bearer mode
// ---------------------------------------------------------------------------

function cleanInit(init, headers) {
  return { method: init?.method ?? "GET", headers, body: init?.body ?? undefined, signal: init?.signal, redirect: "manual" };
}

/**
 * The official client with a cookie jar (what a browser does):
 * stores Set-Cookie, honours Max-Age=0, sends Cookie + Origin.
 * Returns {client, jar, log}; log has one entry per HTTP exchange.
 */
export function cookieClient(server, { origin = server.origin, jar = new CookieJar(), headers: extra = {} } = {}) {
  const log = [];
  const customFetchImpl = async (input, init) => {
    const headers = new Headers(init?.headers ?? {});
    for (const [k, v] of Object.entries(extra)) headers.set(k, v);
    const cookie = jar.header();
    if (cookie) headers.set("cookie", cookie); else headers.delete("cookie");
    if (origin) headers.set("origin", origin);
    const url = typeof input === "string" ? input : input.toString();
    const res = await fetch(url, cleanInit(init, headers));
    const setCookies = res.headers.getSetCookie();
    jar.store(setCookies);
    log.push({ method: init?.method ?? "GET", url, status: res.status, setCookies, sentCookie: cookie });
    return res;
  };
  const client = createAuthClient({
    baseURL: server.base,
    plugins: [anonymousClient()],
    fetchOptions: { customFetchImpl },
  });
  return { client, jar, log, last: () => log[log.length - 1] };
}

/**
 * The official client in bearer mode (what a native app does): no cookies,
 * token from `set-auth-token`, sent as Authorization: Bearer.
 * `origin` (default none) adds an Origin header.
 */
export function bearerClient(server, { token = null, origin = null } = {}) {
  const state = { token, log: [] };
  const customFetchImpl = async (input, init) => {
    const headers = new Headers(init?.headers ?? {});
    headers.delete("cookie");
    if (origin) headers.set("origin", origin);
    const url = typeof input === "string" ? input : input.toString();
    const res = await fetch(url, cleanInit(init, headers));
    state.log.push({ method: init?.method ?? "GET", url, status: res.status, setCookies: res.headers.getSetCookie(),
      authorization: headers.get("authorization") });
    return res;
  };
  state.client = createAuthClient({
    baseURL: server.base,
    plugins: [anonymousClient()],
    fetchOptions: {
      customFetchImpl,
      auth: { type: "Bearer", token: () => state.token ?? undefined },
      onSuccess: (ctx) => {
        const t = ctx.response.headers.get("set-auth-token");
        if (t) state.token = t;
      },
    },
  });
  return state;
}

/** Assert a client call failed with status + code. */
export function expectClientError(result, status, code, message) {
  assert.equal(result.data, null, `expected an error, got data ${JSON.stringify(result.data)}`);
  assert.ok(result.error, "expected result.error");
  assert.equal(result.error.status, status, `status; error=${JSON.stringify(result.error)}`);
  if (code !== undefined) assert.equal(result.error.code, code, `code; error=${JSON.stringify(result.error)}`);
  if (message !== undefined) assert.equal(result.error.message, message, `message; error=${JSON.stringify(result.error)}`);
}

export function expectClientOk(result, server) {
  assert.equal(result.error, null, `unexpected error ${JSON.stringify(result.error)}${server ? server.logs() : ""}`);
  return result.data;
}

// ---------------------------------------------------------------------------
// Shapes
// ---------------------------------------------------------------------------

export const ID_RE = /^[A-Za-z0-9]{32}$/;
export const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** A timestamp: ISO-8601 with ms on the wire; the official client revives it into a Date. */
export function expectTimestamp(v, what) {
  if (v instanceof Date) assert.ok(!Number.isNaN(v.getTime()), `${what}: valid Date`);
  else assert.match(String(v), ISO_RE, `${what}: ISO-8601 UTC with milliseconds; got ${JSON.stringify(v)}`);
}
export const ANON_EMAIL_RE = /^[a-z0-9]{32}@anonymous\.placeholder\.invalid$/;

export function expectUser(user, expected = {}) {
  assert.equal(typeof user, "object", `user object; got ${JSON.stringify(user)}`);
  assert.notEqual(user, null);
  assert.match(String(user.id), ID_RE, `user.id; got ${JSON.stringify(user)}`);
  assert.equal(typeof user.name, "string");
  assert.equal(typeof user.email, "string");
  assert.equal(typeof user.emailVerified, "boolean", `emailVerified boolean; got ${JSON.stringify(user)}`);
  assert.equal(typeof user.isAnonymous, "boolean", `isAnonymous boolean; got ${JSON.stringify(user)}`);
  expectTimestamp(user.createdAt, "user.createdAt");
  expectTimestamp(user.updatedAt, "user.updatedAt");
  assert.ok(user.image === undefined || user.image === null || typeof user.image === "string");
  assert.equal(user.password, undefined, "user must not expose password");
  for (const [k, v] of Object.entries(expected)) assert.deepEqual(user[k], v, `user.${k}; got ${JSON.stringify(user)}`);
}

export function expectSession(session, expected = {}) {
  assert.equal(typeof session, "object");
  assert.notEqual(session, null);
  assert.match(String(session.id), ID_RE, `session.id; got ${JSON.stringify(session)}`);
  assert.match(String(session.token), ID_RE, `session.token; got ${JSON.stringify(session)}`);
  assert.match(String(session.userId), ID_RE);
  for (const k of ["expiresAt", "createdAt", "updatedAt"]) expectTimestamp(session[k], `session.${k}`);
  for (const [k, v] of Object.entries(expected)) assert.deepEqual(session[k], v, `session.${k}; got ${JSON.stringify(session)}`);
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

let emailCounter = 0;
export function uniqueEmail(tag = "user") {
  return `${tag}-${process.pid}-${Date.now().toString(36)}-${emailCounter++}-${randomBytes(3).toString("hex")}@example.com`;
}

/** Sign up via raw HTTP; returns {res, token, user, cookie (header string), signed}. */
export async function signUp(server, { email = uniqueEmail(), password = PASSWORD, name = "Test User", cookie, bearer, extra = {} } = {}) {
  const res = await raw(server, "POST", "/sign-up/email", {
    json: { name, email, password, ...extra }, origin: true, cookie, bearer,
  });
  expectOk(res, server);
  const c = sessionSetCookie(res);
  assert.ok(c, `sign-up must set the session cookie; got ${describe(res, server)}`);
  return { res, token: res.json.token, user: res.json.user, email, password, cookie: sessionCookieHeader(c.value), signed: res.headers["set-auth-token"] };
}

/** Sign in via raw HTTP; returns {res, token, user, cookie, signed}. */
export async function signIn(server, { email, password = PASSWORD, cookie, bearer, extra = {} }) {
  const res = await raw(server, "POST", "/sign-in/email", { json: { email, password, ...extra }, origin: true, cookie, bearer });
  expectOk(res, server);
  const c = sessionSetCookie(res);
  assert.ok(c, `sign-in must set the session cookie; got ${describe(res, server)}`);
  return { res, token: res.json.token, user: res.json.user, cookie: sessionCookieHeader(c.value), signed: res.headers["set-auth-token"] };
}

/** Anonymous sign-in via raw HTTP; returns {res, token, user, cookie, signed}. */
export async function signInAnonymous(server, { cookie, bearer, origin = true } = {}) {
  const res = await raw(server, "POST", "/sign-in/anonymous", { origin, cookie, bearer });
  expectOk(res, server);
  const c = sessionSetCookie(res);
  assert.ok(c, `anonymous sign-in must set the session cookie; got ${describe(res, server)}`);
  return { res, token: res.json.token, user: res.json.user, cookie: sessionCookieHeader(c.value), signed: res.headers["set-auth-token"] };
}

/** GET /get-session with a cookie header or bearer. */
export function getSession(server, { cookie, bearer, query = "" } = {}) {
  return raw(server, "GET", `/get-session${query}`, { cookie, bearer });
}

export function userRow(server, id) {
  return server.sql(`SELECT * FROM "user" WHERE id = ${q(id)}`)[0];
}
export function userByEmail(server, email) {
  return server.sql(`SELECT * FROM "user" WHERE email = ${q(email.toLowerCase())}`)[0];
}
export function sessionsOf(server, userId) {
  return server.sql(`SELECT * FROM "session" WHERE userId = ${q(userId)}`);
}
export function accountsOf(server, userId) {
  return server.sql(`SELECT * FROM "account" WHERE userId = ${q(userId)}`);
}

export function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }
