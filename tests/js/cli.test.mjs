// kernia-server command line: secrets, defaults, --help, config file, env vars.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, rmSync, mkdirSync } from "node:fs";
import path from "node:path";
import {
  T, SECRET, SESSION_COOKIE, startServer, runServerToExit, raw, makeTempDir, sign, signedCookieValue,
  expectOk, expectError, expectSessionCookie, signInAnonymous, getSession, describe,
} from "./harness.mjs";

const keep = () => !!process.env.KERNIA_KEEP_TMP;

test("--help prints usage (listing the main flags) and exits 0", T, async () => {
  const r = await runServerToExit(["--help"]);
  assert.equal(r.timedOut, false, "--help must not start the server");
  assert.equal(r.code, 0, `exit code; stderr=${r.stderr}`);
  const out = r.stdout + r.stderr;
  for (const flag of ["--port", "--host", "--database", "--secret", "--trusted-origin", "--config"]) {
    assert.ok(out.includes(flag), `--help mentions ${flag}:\n${out}`);
  }
});

test("secret shorter than 32 characters → exits non-zero with a clear message (flag and env)", T, async () => {
  const dir = makeTempDir("cli-short");
  try {
    const r = await runServerToExit(["--port", "0", "--data-dir", path.join(dir, "data"), "--database", `sqlite:${path.join(dir, "k.db")}`, "--secret", "too-short-secret"], { cwd: dir });
    assert.equal(r.timedOut, false, `server must exit, not serve; stdout=${r.stdout}`);
    assert.notEqual(r.code, 0, "non-zero exit");
    assert.match(r.stdout + r.stderr, /at least 32 characters/);
    assert.doesNotMatch(r.stdout, /listening on/);
    const r2 = await runServerToExit(["--port", "0", "--data-dir", path.join(dir, "data"), "--database", `sqlite:${path.join(dir, "k.db")}`],
      { cwd: dir, env: { KERNIA_SECRET: "x".repeat(31) } });
    assert.equal(r2.timedOut, false);
    assert.notEqual(r2.code, 0);
    assert.match(r2.stdout + r2.stderr, /at least 32 characters/);
  } finally { if (!keep()) rmSync(dir, { recursive: true, force: true }); }
});

test("exactly 32 characters is accepted; KERNIA_SECRET env is used to sign cookies", T, async () => {
  const secret32 = "s".repeat(16) + "0123456789abcdef";
  assert.equal(secret32.length, 32);
  const s = await startServer({ tag: "cli-32", secret: null, env: { KERNIA_SECRET: secret32 } });
  try {
    const anon = await signInAnonymous(s);
    assert.equal(anon.signed, sign(anon.token, secret32), "cookie signed with KERNIA_SECRET");
    expectSessionCookie(anon.res, anon.token, { secret: secret32 });
  } finally { await s.stop(); }
});

test("--secret flag wins over KERNIA_SECRET", T, async () => {
  const envSecret = "e".repeat(40);
  const s = await startServer({ tag: "cli-prec", env: { KERNIA_SECRET: envSecret } }); // passes --secret SECRET
  try {
    const anon = await signInAnonymous(s);
    assert.equal(anon.signed, sign(anon.token, SECRET));
  } finally { await s.stop(); }
});

test("no flags: defaults to ./data/kernia.db, generates + persists a secret (warns); a restart reuses it", T, async () => {
  const dir = makeTempDir("cli-default");
  try {
    // Only --port 0 (the default 3000 may be taken on a CI box); cwd is the temp dir.
    const s1 = await startServer({ tag: "cli-default", dir, cwd: dir, defaults: false, args: ["--port", "0"] });
    let anon;
    try {
      assert.match(s1.origin, /^http:\/\/127\.0\.0\.1:\d+$/, "default host 127.0.0.1");
      assert.match(s1.stderr(), /secret/i, "warns about the generated secret");
      anon = await signInAnonymous(s1);
      const gs = await getSession(s1, { cookie: anon.cookie });
      assert.equal(gs.json?.user?.id, anon.user.id);
    } finally { await s1.stop(); }
    const dataDir = path.join(dir, "data");
    assert.ok(existsSync(path.join(dataDir, "kernia.db")), "database at ./data/kernia.db");
    const files = readdirSync(dataDir).filter((f) => !/^kernia\.db(-wal|-shm|-journal|-writer\.lock)?$/.test(f));
    assert.ok(files.length >= 1, `a secret file persisted in the data dir; found ${readdirSync(dataDir)}`);

    const s2 = await startServer({ tag: "cli-default2", dir, cwd: dir, defaults: false, args: ["--port", "0"] });
    try {
      const gs = await getSession(s2, { cookie: anon.cookie });
      expectOk(gs, s2);
      assert.equal(gs.json?.user?.id, anon.user.id, `cookie from run 1 still valid in run 2 (same secret, same DB); got ${describe(gs, s2)}`);
    } finally { await s2.stop(); }
  } finally { if (!keep()) rmSync(dir, { recursive: true, force: true }); }
});

test("a different secret invalidates old cookies (treated as absent)", T, async () => {
  const dir = makeTempDir("cli-rotate");
  try {
    const s1 = await startServer({ tag: "cli-rotate", dir });
    const anon = await signInAnonymous(s1);
    await s1.stop();
    const s2 = await startServer({ tag: "cli-rotate2", dir, secret: "z".repeat(40) });
    try {
      const gs = await getSession(s2, { cookie: anon.cookie });
      expectOk(gs, s2);
      assert.equal(gs.text.trim(), "null");
      assert.deepEqual(gs.setCookies, []);
      // the raw token still works as bearer (server signs it itself)
      const gs2 = await getSession(s2, { bearer: anon.token });
      assert.equal(gs2.json?.user?.id, anon.user.id);
    } finally { await s2.stop(); }
  } finally { if (!keep()) rmSync(dir, { recursive: true, force: true }); }
});

test("config file: port/host/secret/trusted_origins/max_body_bytes from JSON; flags override", T, async () => {
  const dir = makeTempDir("cli-config");
  const cfgSecret = "c".repeat(36);
  try {
    mkdirSync(path.join(dir, "data"), { recursive: true });
    const s = await startServer({
      tag: "cli-config", dir, defaults: false,
      config: {
        host: "127.0.0.1", port: 0, database: `sqlite:${path.join(dir, "data", "kernia.db")}`, data_dir: path.join(dir, "data"),
        secret: cfgSecret, trusted_origins: ["http://cfg.kernia.test"], max_body_bytes: 2048,
      },
    });
    try {
      const anon = await signInAnonymous(s);
      assert.equal(anon.signed, sign(anon.token, cfgSecret), "secret from config");
      const res = await raw(s, "POST", "/update-user", { json: { name: "n" }, cookie: anon.cookie, origin: "http://cfg.kernia.test" });
      expectOk(res, s);
      const big = await raw(s, "POST", "/update-user", { json: { name: "n".repeat(3000) }, cookie: anon.cookie, origin: true });
      assert.equal(big.status, 413, describe(big, s));
      assert.equal(big.json?.code, "PAYLOAD_TOO_LARGE");
    } finally { await s.stop(); }
    // flags override the config file
    const s2 = await startServer({
      tag: "cli-config2", dir, defaults: false,
      config: { port: 0, database: `sqlite:${path.join(dir, "data", "kernia.db")}`, data_dir: path.join(dir, "data"), secret: cfgSecret },
      args: ["--secret", SECRET],
    });
    try {
      const anon = await signInAnonymous(s2);
      assert.equal(anon.signed, sign(anon.token, SECRET), "--secret overrides config secret");
    } finally { await s2.stop(); }
  } finally { if (!keep()) rmSync(dir, { recursive: true, force: true }); }
});

test("--base-url: its origin is trusted; KERNIA_BASE_URL env works too", T, async () => {
  const base = "http://kernia.example.test:9999";
  const s = await startServer({ tag: "cli-base", args: ["--base-url", base] });
  try {
    // the bound address is not the base URL here, so send no Origin (no cookie → no check)
    const up = await signInAnonymous(s, { origin: false });
    const res = await raw(s, "POST", "/update-user", { json: { name: "b" }, cookie: up.cookie, origin: base });
    expectOk(res, s);
    const bad = await raw(s, "POST", "/update-user", { json: { name: "b" }, cookie: up.cookie, origin: "http://other.example.test:9999" });
    expectError(bad, 403, "INVALID_ORIGIN", "Invalid origin", s);
  } finally { await s.stop(); }
  const s2 = await startServer({ tag: "cli-base-env", env: { KERNIA_BASE_URL: base } });
  try {
    const anon = await signInAnonymous(s2, { origin: false });
    const res = await raw(s2, "POST", "/update-user", { json: { name: "b" }, cookie: anon.cookie, origin: base });
    expectOk(res, s2);
  } finally { await s2.stop(); }
});

test("SIGTERM stops the server promptly", T, async () => {
  const s = await startServer({ tag: "cli-term" });
  const t0 = Date.now();
  s.child.kill("SIGTERM");
  await new Promise((resolve) => {
    if (s.exited()) return resolve();
    s.child.once("exit", resolve);
    setTimeout(resolve, 6000);
  });
  assert.ok(s.exited() || s.child.exitCode !== null || s.child.signalCode !== null, "exited after SIGTERM");
  assert.ok(Date.now() - t0 < 5000, "within 5 s");
  await s.stop();
  void SESSION_COOKIE; void signedCookieValue;
});
