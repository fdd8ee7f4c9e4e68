// Helpers for the mail-based conformance tests (magic-link.test.mjs, mail.test.mjs):
// reading the --mail-outbox file, the official client with magicLinkClient(), and a local
// SMTP server (tests/tools/smtp_sink.py over Debian's python3-aiosmtpd).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";

import { createAuthClient } from "better-auth/client";
import { anonymousClient, magicLinkClient } from "better-auth/client/plugins";
import { CookieJar, startServer } from "./harness.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const SMTP_SINK = path.resolve(HERE, "..", "tools", "smtp_sink.py");

/** Start a kernia-server that writes mail to <dir>/outbox.jsonl; server.mails() reads it. */
export async function startMailServer(opts = {}) {
  const server = await startServer({ ...opts, args: ["--mail-outbox", "outbox.jsonl", ...(opts.args ?? [])] });
  server.outbox = path.join(server.dir, "outbox.jsonl");
  server.mails = () => readMails(server.outbox);
  server.lastMail = (kind) => {
    const list = server.mails().filter((m) => !kind || m.kind === kind);
    assert.ok(list.length > 0, `expected a ${kind ?? ""} mail in ${server.outbox}`);
    return list[list.length - 1];
  };
  return server;
}

export function readMails(file) {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line));
}

/** Path + query of a mailed URL, relative to /api/auth (for raw()). */
export function relative(url) {
  const u = new URL(url);
  return u.pathname.replace(/^\/api\/auth/, "") + u.search;
}

function cleanInit(init, headers) {
  return { method: init?.method ?? "GET", headers, body: init?.body ?? undefined, signal: init?.signal, redirect: "manual" };
}

/** The official client (cookie jar, Origin) with magicLinkClient() and anonymousClient(). */
export function mlCookieClient(server, { origin = server.origin, jar = new CookieJar() } = {}) {
  const customFetchImpl = async (input, init) => {
    const headers = new Headers(init?.headers ?? {});
    const cookie = jar.header();
    if (cookie) headers.set("cookie", cookie); else headers.delete("cookie");
    if (origin) headers.set("origin", origin);
    const res = await fetch(typeof input === "string" ? input : input.toString(), cleanInit(init, headers));
    jar.store(res.headers.getSetCookie());
    return res;
  };
  const client = createAuthClient({
    baseURL: server.base,
    plugins: [anonymousClient(), magicLinkClient()],
    fetchOptions: { customFetchImpl },
  });
  return { client, jar };
}

/**
 * The official client in bearer mode (a native app) with magicLinkClient(). Node's fetch
 * adds `sec-fetch-mode: cors`, so the login-CSRF rule of /sign-in/magic-link wants an
 * Origin from it (a Qt app sends no fetch metadata and needs none): pass `origin`.
 */
export function mlBearerClient(server, { token = null, origin = null } = {}) {
  const state = { token };
  const customFetchImpl = async (input, init) => {
    const headers = new Headers(init?.headers ?? {});
    headers.delete("cookie");
    if (origin) headers.set("origin", origin);
    return fetch(typeof input === "string" ? input : input.toString(), cleanInit(init, headers));
  };
  state.client = createAuthClient({
    baseURL: server.base,
    plugins: [anonymousClient(), magicLinkClient()],
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

/** Debian's python3 with aiosmtpd (a pyenv python3 may come first in PATH), or null. */
export function pythonWithAiosmtpd() {
  for (const candidate of ["/usr/bin/python3", "python3"]) {
    const r = spawnSync(candidate, ["-c", "import aiosmtpd"], { stdio: "ignore" });
    if (r.status === 0) return candidate;
  }
  return null;
}

/** Start smtp_sink.py; resolves {port, mails(), stop()}. */
export async function startSmtpSink(dir, args = []) {
  const python = pythonWithAiosmtpd();
  assert.ok(python, "python3-aiosmtpd is required (apt-get install python3-aiosmtpd; scripts/setup.sh does)");
  const out = path.join(dir, `smtp-${Date.now()}.jsonl`);
  const child = spawn(python, [SMTP_SINK, "--out", out, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "", stderr = "";
  child.stderr.on("data", (d) => { stderr += d; });
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`smtp_sink.py did not start: ${stderr}`)), 15_000);
    child.stdout.on("data", (d) => {
      stdout += d;
      const m = /listening (\d+)/.exec(stdout);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    child.on("exit", (code) => { clearTimeout(timer); reject(new Error(`smtp_sink.py exited (${code}): ${stderr}`)); });
  });
  return {
    port,
    mails: () => readMails(out),
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once("exit", resolve);
      child.kill("SIGTERM");
    }),
  };
}
