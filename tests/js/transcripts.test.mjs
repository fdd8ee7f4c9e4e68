// Transcript replay: every exchange recorded against the Better Auth reference server
// (tests/js/transcripts/*.txt, better-auth 1.7.25; see the README there) is sent again, as
// recorded, to a fresh kernia-server configured like the reference, and the answers are
// compared on what the official client depends on:
//
//   * the status code, exactly;
//   * the JSON body: the same keys at every level, the same JSON types, equal values for
//     everything stable (codes, messages, booleans, names, request-chosen emails, nulls,
//     urls…); timestamps by their ISO-8601 format only; random values (ids, tokens,
//     guest emails, passkey challenges…) by their shape, and consistently: once a
//     reference value has been paired with Kernia's, it must stay paired;
//   * headers: content-type, cache-control, pragma, location (exactly, after mapping),
//     set-auth-token (shape + pairing), access-control-expose-headers (same names),
//     x-retry-after (a number) and set-cookie (same cookie names in the same order, same
//     attributes in the same order, values by shape; signed values must verify).
//     Date/Connection/Keep-Alive/Transfer-Encoding/Content-Length are ignored; any other
//     header Kernia adds must be a documented extra listed in KERNIA_EXTRA_HEADERS.
//
// Dynamic values: a substitution map (reference string → Kernia string) grows as the
// answers are compared (JSON leaves at the same path, set-cookie values by name, both the
// signed value and its URL-encoded form, set-auth-token, mailed tokens) and is applied to
// every later request (URL, headers incl. Cookie/Authorization, body). Kernia runs with the
// reference's secret, so a signed value derives from its token: pairing a token also pairs
// its signed forms. Mail the reference only shows in a `>>> NOTE` (magic links, reset and
// verification tokens) comes from Kernia's --mail-outbox; WebAuthn bodies (recorded from a
// software authenticator for the reference's challenge) are made again by a software
// authenticator for Kernia's challenge.
//
// The recorder's notes are checked too: a mail the reference sent must have a Kernia
// counterpart of the same kind, and where the reference's onLinkAccount log shows a link
// (or none), Kernia's kernia-linked-guest header must name the same guest (or be absent /
// `none`). Pauses ("waited N seconds") are waited.
//
// Where Kernia differs on purpose, the difference is an entry of ADJUSTMENTS (the expected
// answer is changed, naming the document that says so), CHECKS (the same for the notes) or
// SKIPS (the exchange is not replayed, with the reason). An exchange that cannot be
// replayed and is not listed fails the test, and so does an entry that no longer matches
// an exchange.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac, generateKeyPairSync, randomBytes, sign as cryptoSign } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { raw, sleep } from "./harness.mjs";
import { startMailServer, readMails } from "./mail-helpers.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DIR = path.join(HERE, "transcripts");

/** The reference's secret (protocol README): Kernia signs with it too, so signatures of equal values agree. */
const REFERENCE_SECRET = "kernia-reference-secret-0123456789ABCDEF";
/** curl 7.88.1 sends these with every request (the sessions' userAgent shows it). */
const CURL_HEADERS = [["user-agent", "curl/7.88.1"], ["accept", "*/*"]];

const BOB = ["03-email-password-and-errors.txt", "sign-up/email (no cookie) -> new user, auto sign-in"];
const CAROL = [
  ["05-username.txt", "sign-up/email with username (mixed case) -> username lower-cased, displayUsername keeps original"],
  ["05-username.txt", "sign-in/username correct (different case)"],
  ["05-username.txt", "update-user change own username"],
];
const ALICE = [
  ["02-anonymous-link-signup-email.txt", "Anonymous sign-in"],
  ["02-anonymous-link-signup-email.txt", "sign-up/email WHILE holding the anonymous cookie -> link (onLinkAccount fires, anonymous user deleted)"],
];

/**
 * One entry per transcript file. The reference recorded 01–09, 12 and 13 on one server in
 * that order, so later files use users made in earlier ones: `prelude` replays those
 * exchanges first (compared like the others). `config`: extra kernia-server config (the
 * variant the file header names); `rateLimit`: keep Kernia's rate limits on.
 */
const TRANSCRIPTS = {
  "01-anonymous.txt": {},
  "02-anonymous-link-signup-email.txt": {},
  "03-email-password-and-errors.txt": {},
  "04-anonymous-link-signin-existing.txt": { prelude: [BOB] },
  "05-username.txt": {},
  "06-magic-link.txt": { prelude: [BOB] },
  // change-email: the reference has no sendChangeEmailConfirmation step. Kernia's (on by
  // default) applies only to a verified address, and gina's is not verified when she
  // changes it, so the default server gives the recorded answers and mails the link
  // straight to the new address: no --disable-change-email-confirmation needed. The
  // notice Kernia mails the old address afterwards (kind email-changed) has no reference
  // counterpart; only the reference's mails must have Kernia's (checkNotes).
  "07-account-management.txt": { prelude: ALICE },
  "08-passkey-options.txt": { prelude: CAROL },
  "09-anonymous-edge-cases.txt": {},
  // anonymous({ disableDeleteAnonymousUser: true })
  "10-anonymous-disableDeleteAnonymousUser.txt": { config: { anonymous: { disable_delete_anonymous_user: true } } },
  // baseURL https://127.0.0.1:3102 served over plain http (taken from the file header)
  "11-secure-cookies-https-baseURL.txt": {},
  "12-misc-http.txt": { prelude: CAROL },
  "13-passkey-ceremony.txt": {},
  // session { expiresIn: 60, updateAge: 3, freshAge: 5 }
  "14-session-refresh-and-freshness.txt": { config: { session: { expires_in: 60, update_age: 3, fresh_age: 5 } } },
  // RATE_LIMIT=1: Better Auth's default rules (Kernia's defaults are the same)
  "15-rate-limit.txt": { rateLimit: true },
};

/**
 * Documented Kernia differences: `apply` turns the recorded reference answer into the one
 * Kernia is documented to give; the comparison then runs as usual. Keyed by file + title.
 */
const ADJUSTMENTS = [
  {
    file: "03-email-password-and-errors.txt", titles: ["sign-up/email no body at all"],
    doc: "docs/server.md, “What Kernia does beyond Better Auth” (POST /sign-up/email with no body); protocol README §1",
    why: "the reference answers 500 with an empty body (its username plugin dereferences the missing body); Kernia answers the validation error every other body-less endpoint gives",
    apply(ref) {
      ref.status = 400;
      ref.headers = [["content-type", "application/json"]];
      ref.json = { message: "[body] Invalid input: expected object, received undefined", code: "VALIDATION_ERROR" };
      ref.text = JSON.stringify(ref.json);
    },
  },
  {
    file: "07-account-management.txt",
    titles: ["sign-in with reset password", "get-session with disableRefresh / disableCookieCache query", "sign-in again"],
    doc: "docs/mail.md, “Password reset” and “Differences from Better Auth”",
    why: "a password reset for a user whose email was not verified proves the mailbox: Kernia marks the email verified (Better Auth changes only the password)",
    apply(ref) { ref.json.user.emailVerified = true; },
  },
];

/**
 * Documented Kernia differences in what the recorder's notes show: `noMail` (Kernia sends
 * no such mail), `linkedGuest` (the kernia-linked-guest value Kernia is documented to send
 * where the reference's onLinkAccount log differs).
 */
const CHECKS = [
  {
    file: "06-magic-link.txt", title: "verify bob's magic link WHILE holding the anonymous cookie (GET, no Origin)",
    linkedGuest: "none",
    doc: "docs/methods/magic-link.md, “Guests (anonymous users)”; docs/anonymous.md",
    why: "the link was asked for without the guest's cookie: Kernia signs the browser in without linking that guest (login-CSRF protection), Better Auth links any guest the click carries",
  },
];

/**
 * Exchanges that are not replayed, each with its reason. `instead` (optional) brings the
 * Kernia server into the state the exchange left the reference in, the Kernia way, so that
 * the later exchanges stay meaningful.
 */
const SKIPS = [];

/** Kernia-only response headers, tolerated by name (with the shape of their value). */
const KERNIA_EXTRA_HEADERS = {
  // docs/anonymous.md, "When a guest is linked": a sign-in from a guest's session says
  // whether it linked that guest (its id) or not (`none`); also listed in
  // access-control-expose-headers.
  "kernia-linked-guest": /^([A-Za-z0-9]{32}|none)$/,
  // docs/operations.md, "Logs": every answer carries its request id (20 random characters,
  // or the caller's own x-request-id).
  "x-request-id": /^[A-Za-z0-9._:-]{1,64}$/,
};

/**
 * Fields the reference (memory adapter) omits when they were never set and Kernia (SQL)
 * sends as `null`; both are accepted by the client.
 */
const NULL_FOR_ABSENT = {
  // protocol README §1 ("Fields that were never set are omitted by the reference … Kernia
  // may emit null (recommended for SQL storage) or omit"): user.image
  image: "protocol README §1",
};

const titlesOf = (entry) => entry.titles ?? [entry.title];
const matches = (entry, file, title) => entry.file === file && titlesOf(entry).includes(title);
/** "file ### title" of every allow-list entry that met its exchange. */
const usedEntries = new Set();
const useEntry = (file, title) => usedEntries.add(`${file} ### ${title}`);

const IGNORED_HEADERS = new Set(["date", "connection", "keep-alive", "transfer-encoding", "content-length"]);

// ---------------------------------------------------------------------------
// Parsing the transcripts
// ---------------------------------------------------------------------------

/** Splits a `$ curl …` line into words ('…' quoting, as the recorder wrote it). */
export function shellWords(s) {
  const out = [];
  let i = 0;
  while (i < s.length) {
    while (s[i] === " ") i++;
    if (i >= s.length) break;
    let w = "";
    while (i < s.length && s[i] !== " ") {
      if (s[i] === "'") {
        const j = s.indexOf("'", i + 1);
        if (j < 0) throw new Error(`unterminated quote in ${s}`);
        w += s.slice(i + 1, j);
        i = j + 1;
      } else if (s[i] === "\\") {
        w += s[i + 1];
        i += 2;
      } else {
        w += s[i++];
      }
    }
    out.push(w);
  }
  return out;
}

/** The request a curl command line sends (what curl 7.88.1 adds by itself included). */
export function parseCurl(line) {
  const words = shellWords(line.replace(/^\$ /, ""));
  assert.equal(words.shift(), "curl", `not a curl line: ${line}`);
  let method = null;
  let url = null;
  let body;
  const headers = [...CURL_HEADERS];
  const removed = new Set();
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w === "-i" || w === "-s") continue;
    if (w === "-X") method = words[++i];
    else if (w === "-H") {
      const h = words[++i];
      const colon = h.indexOf(":");
      const name = h.slice(0, colon).trim().toLowerCase();
      const value = h.slice(colon + 1).trim();
      if (value === "") removed.add(name); // curl: `-H 'Name:'` removes the header
      else headers.push([name, value]);
    } else if (w === "-d") body = words[++i];
    else if (!w.startsWith("-") && url === null) url = w;
    else throw new Error(`unsupported curl argument ${w} in ${line}`);
  }
  method ??= body !== undefined ? "POST" : "GET";
  // curl -d sends Content-Type: application/x-www-form-urlencoded unless told otherwise
  if (body !== undefined && !headers.some(([n]) => n === "content-type") && !removed.has("content-type")) {
    headers.push(["content-type", "application/x-www-form-urlencoded"]);
  }
  const m = /^(https?:\/\/[^/]+)(\/.*)$/.exec(url);
  assert.ok(m, `bad URL in ${line}`);
  return { method, target: m[2], headers, body };
}

function parseExchange(lines, file) {
  const title = lines[0].replace(/^### /, "");
  assert.match(lines[0], /^### /, `${file}: exchange without a ### title`);
  assert.match(lines[1], /^\$ curl /, `${file} ${title}: no curl line`);
  assert.match(lines[2], /^-{20,}$/, `${file} ${title}: no dashes after the curl line`);
  const request = parseCurl(lines[1]);
  const statusMatch = /^HTTP\/1\.1 (\d{3})/.exec(lines[3]);
  assert.ok(statusMatch, `${file} ${title}: no status line`);
  const headers = [];
  let i = 4;
  for (; i < lines.length && lines[i] !== ""; i++) {
    const colon = lines[i].indexOf(":");
    headers.push([lines[i].slice(0, colon).toLowerCase(), lines[i].slice(colon + 1).trim()]);
  }
  const bodyLines = [];
  const notes = [];
  for (i++; i < lines.length; i++) {
    const n = /^>>> NOTE: ?(.*)$/.exec(lines[i]);
    if (n) notes.push({ text: n[1], payload: [] });
    else if (notes.length) { if (lines[i].trim()) notes[notes.length - 1].payload.push(lines[i].trim()); }
    else bodyLines.push(lines[i]);
  }
  const text = bodyLines.join("\n").trim();
  let json;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  return { title, request, response: { status: Number(statusMatch[1]), headers, text, json }, notes };
}

export function parseTranscript(file) {
  const text = readFileSync(path.join(DIR, file), "utf8").replace(/\r/g, "");
  const blocks = [[]];
  for (const line of text.split("\n")) {
    if (/^={20,}$/.test(line)) blocks.push([]);
    else blocks[blocks.length - 1].push(line);
  }
  const header = blocks.shift().join("\n");
  const baseURL = /baseURL (https?:\/\/[^\s,]+)/.exec(header)?.[1];
  assert.ok(baseURL, `${file}: no baseURL in the header`);
  return { file, header, baseURL, exchanges: blocks.map((b) => parseExchange(b, file)) };
}

// ---------------------------------------------------------------------------
// Shapes
// ---------------------------------------------------------------------------

const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const ID_RE = /^[A-Za-z0-9]{32}$/;
const ANON_EMAIL_RE = /^[a-z0-9]{32}@anonymous\.placeholder\.invalid$/;
const B64URL_RE = /^[A-Za-z0-9_-]{16,}$/;
const B64_RE = /^[A-Za-z0-9+/]{16,}={0,2}$/;
const SIGNED_RE = /^([^.]+)\.([A-Za-z0-9+/]{43}=)$/;
/** JSON keys whose (non-id) values are random in both servers: WebAuthn material. */
const RANDOM_KEYS = new Set(["challenge", "id", "credentialID", "publicKey"]);

function signature(value) {
  return createHmac("sha256", REFERENCE_SECRET).update(value, "utf8").digest("base64");
}
function signed(value) { return `${value}.${signature(value)}`; }

/** The class a random reference string belongs to (its counterpart must match it), or null if it is stable. */
function randomClass(value, key) {
  if (ANON_EMAIL_RE.test(value)) return ANON_EMAIL_RE;
  if (ID_RE.test(value)) return ID_RE;
  if (RANDOM_KEYS.has(key)) return [B64URL_RE, B64_RE].find((re) => re.test(value)) ?? null;
  return null;
}

function typeOf(v) {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

const show = (v) => (v === undefined ? "(absent)" : JSON.stringify(v));

// ---------------------------------------------------------------------------
// Replay
// ---------------------------------------------------------------------------

class Replay {
  constructor(server, transcript) {
    this.server = server;
    this.transcript = transcript;
    this.map = new Map();          // reference string → Kernia string
    this.reverse = new Map();      // Kernia string → reference string (pairs are one-to-one)
    this.substRe = null;
    this.mailsSeen = 0;
    this.pendingMails = [];        // Kernia mails not yet paired with a reference token
    this.lastJson = new Map();     // path → Kernia's last JSON answer there
    this.bodies = new Map();       // generated request bodies (`-d @file`)
    this.authenticator = new SoftAuthenticator();
    this.failures = [];
  }

  // --- the substitution map ---

  /** Pairs a reference value with Kernia's; returns an error text if it was paired differently before. */
  bind(ref, got) {
    if (this.map.has(ref)) {
      return this.map.get(ref) === got ? null : `${show(ref)} was paired with ${show(this.map.get(ref))} before, now ${show(got)}`;
    }
    if (this.reverse.has(got) && ref !== got) {
      return `${show(got)} already stands for the reference's ${show(this.reverse.get(got))}, now also for ${show(ref)}`;
    }
    this.map.set(ref, got);
    this.reverse.set(got, ref);
    this.substRe = null;
    if (ID_RE.test(ref) && ID_RE.test(got) && ref !== got) {
      // a token's signed forms (set-auth-token, bearer, cookie value)
      const pairs = [[signed(ref), signed(got)], [encodeURIComponent(signed(ref)), encodeURIComponent(signed(got))]];
      for (const [r, g] of pairs) if (!this.map.has(r)) { this.map.set(r, g); this.reverse.set(g, r); }
    }
    return null;
  }

  subst(s) {
    if (typeof s !== "string" || this.map.size === 0) return s;
    if (!this.substRe) {
      const keys = [...this.map.keys()].filter((k) => k.length >= 8 && this.map.get(k) !== k)
        .sort((a, b) => b.length - a.length);
      if (keys.length === 0) return s;
      this.substRe = new RegExp(keys.map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "g");
    }
    return s.replace(this.substRe, (m) => this.map.get(m));
  }

  // --- one exchange ---

  async run(ex, where, checks = {}) {
    const failures = [];
    const fail = (what) => failures.push(what);
    const skip = SKIPS.find((s) => matches(s, where.file, ex.title));
    if (skip) {
      useEntry(where.file, ex.title);
      if (skip.instead) await skip.instead(this);
      return;
    }
    let reference = structuredClone(ex.response);
    for (const adj of ADJUSTMENTS.filter((a) => matches(a, where.file, ex.title))) {
      useEntry(where.file, ex.title);
      reference = adj.apply(reference) ?? reference;
    }

    // the request, with everything known substituted
    this.pairMailTokens(ex.request.target);
    const target = this.subst(ex.request.target);
    const headers = {};
    for (const [name, value] of ex.request.headers) headers[name] = this.subst(value);
    let body = ex.request.body;
    if (body?.startsWith("@")) {
      const make = BODY_MAKERS[body];
      if (!make) {
        fail(`cannot replay: request body ${body} is a file of the recording and no maker is known for it`);
        this.report(where, ex, failures);
        return;
      }
      if (!this.bodies.has(body)) this.bodies.set(body, make(this));
      body = this.bodies.get(body);
    } else {
      body = this.subst(body);
    }
    let res;
    try {
      res = await raw(this.server, ex.request.method, target, { abs: true, headers, body });
    } catch (e) {
      fail(`request failed: ${e.message}`);
      this.report(where, ex, failures);
      return;
    }
    const apiPath = new URL(target, "http://x").pathname.replace(/^\/api\/auth/, "");
    if (res.json !== undefined) this.lastJson.set(apiPath, res.json);
    const mails = readMails(this.server.outbox);
    this.pendingMails.push(...mails.slice(this.mailsSeen));
    this.mailsSeen = mails.length;

    this.compare(reference, res, fail);
    this.checkNotes(ex, res, fail, checks);
    for (const note of ex.notes) {
      const waited = /waited (\d+) seconds/.exec(note.text);
      if (waited) await sleep(Number(waited[1]) * 1000);
    }
    this.report(where, ex, failures, res);
  }

  report(where, ex, failures, res) {
    if (failures.length === 0) return;
    const label = `${where.file}${where.prelude ? ` (prelude of ${where.prelude})` : ""} ### ${ex.title}`;
    let text = `${label}\n    ${ex.request.method} ${ex.request.target}\n${failures.map((f) => `  - ${f}`).join("\n")}`;
    if (res) text += `\n    kernia answered ${res.status}: ${res.text.slice(0, 400)}`;
    this.failures.push(text);
  }

  /** A reference token in a URL that only came by mail (no NOTE showed it): the latest Kernia mail with a token of its shape. */
  pairMailTokens(target) {
    const tokens = [...target.matchAll(/[?&]token=([A-Za-z0-9._-]+)/g), ...target.matchAll(/\/reset-password\/([A-Za-z0-9]+)/g)];
    for (const [, token] of tokens) {
      if (this.map.has(token)) continue;
      const shape = (t) => `${t.length}:${/^[A-Za-z]+$/.test(t) ? "letters" : "alnum"}`;
      const i = this.pendingMails.findLastIndex((m) => shape(m.token) === shape(token));
      if (i < 0) continue;
      this.bind(token, this.pendingMails[i].token);
      this.pendingMails.splice(i, 1);
    }
  }

  // --- comparing ---

  compare(ref, res, fail) {
    if (ref.status !== res.status) {
      fail(`status: reference ${ref.status}, kernia ${res.status}`);
      return; // the rest would only repeat it
    }
    this.compareHeaders(ref, res, fail);
    if (ref.json !== undefined) {
      if (res.json === undefined && res.text.trim() !== "null") fail(`body: reference JSON ${ref.text.slice(0, 200)}, kernia ${show(res.text.slice(0, 200))}`);
      else this.compareJson(ref.json, res.json ?? null, "body", null, fail);
    } else if (ref.text === "") {
      if (res.text.trim() !== "") fail(`body: reference empty, kernia ${show(res.text.slice(0, 200))}`);
    } else if (/^<!DOCTYPE html>/i.test(ref.text)) {
      // the reference's HTML error page is trimmed in the recording: an HTML page is all we can ask for
      if (!/^<!DOCTYPE html>/i.test(res.text.trim())) fail(`body: reference an HTML page, kernia ${show(res.text.slice(0, 200))}`);
    } else if (this.subst(ref.text) !== res.text.trim()) {
      fail(`body: reference ${show(ref.text)}, kernia ${show(res.text)}`);
    }
  }

  compareHeaders(ref, res, fail) {
    const refNames = new Set(ref.headers.map(([n]) => n).filter((n) => !IGNORED_HEADERS.has(n)));
    for (const name of refNames) {
      const refValue = ref.headers.find(([n]) => n === name)[1];
      const got = res.headers[name];
      if (got === undefined) { fail(`header ${name}: reference ${show(refValue)}, kernia (absent)`); continue; }
      switch (name) {
        case "set-cookie":
          this.compareCookies(ref.headers.filter(([n]) => n === name).map(([, v]) => v), got, fail);
          break;
        case "set-auth-token": {
          const r = SIGNED_RE.exec(refValue);
          const g = SIGNED_RE.exec(got);
          if (!g || !ID_RE.test(g[1])) { fail(`header set-auth-token: not <token>.<signature>: ${show(got)}`); break; }
          if (g[2] !== signature(g[1])) fail(`header set-auth-token: signature does not verify: ${show(got)}`);
          for (const e of [this.bind(r[1], g[1]), this.bind(refValue, got)]) if (e) fail(`header set-auth-token: ${e}`);
          break;
        }
        case "access-control-expose-headers": {
          const list = (v) => v.split(",").map((s) => s.trim().toLowerCase()).filter((s) => s && !(s in KERNIA_EXTRA_HEADERS));
          if (list(refValue).join(", ") !== list(got).join(", ")) fail(`header ${name}: reference ${show(refValue)}, kernia ${show(got)}`);
          break;
        }
        case "x-retry-after":
          if (!/^\d+$/.test(got)) fail(`header ${name}: reference ${show(refValue)} (seconds), kernia ${show(got)}`);
          break;
        default: {
          const want = this.subst(refValue);
          if (want !== got) fail(`header ${name}: reference ${show(refValue)}${want !== refValue ? ` (mapped: ${show(want)})` : ""}, kernia ${show(got)}`);
        }
      }
    }
    for (const [name, value] of Object.entries(res.headers)) {
      if (IGNORED_HEADERS.has(name) || refNames.has(name)) continue;
      const extra = KERNIA_EXTRA_HEADERS[name];
      if (!extra) fail(`header ${name}: reference (absent), kernia ${show(value)}`);
      else if (!extra.test(value)) fail(`header ${name}: Kernia extra with an unexpected value ${show(value)}`);
    }
  }

  compareCookies(refList, gotList, fail) {
    const parse = (s) => {
      const parts = s.split(";").map((p) => p.trim());
      const eq = parts[0].indexOf("=");
      return { name: parts[0].slice(0, eq), value: parts[0].slice(eq + 1), attrs: parts.slice(1) };
    };
    const refs = refList.map(parse);
    const gots = gotList.map(parse);
    const names = (l) => l.map((c) => c.name).join(", ");
    if (names(refs) !== names(gots)) {
      fail(`set-cookie names: reference [${names(refs)}], kernia [${names(gots)}]`);
      return;
    }
    refs.forEach((r, i) => {
      const g = gots[i];
      const what = `set-cookie ${r.name}`;
      if (r.attrs.join("; ") !== g.attrs.join("; ")) fail(`${what} attributes: reference "${r.attrs.join("; ")}", kernia "${g.attrs.join("; ")}"`);
      if (r.value === "" || g.value === "") {
        if (r.value !== g.value) fail(`${what} value: reference ${show(r.value)}, kernia ${show(g.value)}`);
        return;
      }
      const rs = SIGNED_RE.exec(decodeURIComponent(r.value));
      const gs = SIGNED_RE.exec(safeDecode(g.value));
      if (rs) {
        if (!gs) { fail(`${what} value: reference a signed value, kernia ${show(g.value)}`); return; }
        if (encodeURIComponent(safeDecode(g.value)) !== g.value) fail(`${what} value: not encodeURIComponent(value.signature): ${show(g.value)}`);
        if (gs[2] !== signature(gs[1])) fail(`${what} value: signature does not verify: ${show(g.value)}`);
        if (randomClass(rs[1]) && !randomClass(rs[1]).test(gs[1]) && !(B64URL_RE.test(rs[1]) && B64URL_RE.test(gs[1]))) {
          fail(`${what} value: reference ${show(rs[1])}, kernia ${show(gs[1])} (another shape)`);
        }
        for (const e of [this.bind(rs[1], gs[1]), this.bind(r.value, g.value), this.bind(decodeURIComponent(r.value), gs[0])]) {
          if (e) fail(`${what} value: ${e}`);
        }
      } else if (this.subst(r.value) !== g.value) {
        fail(`${what} value: reference ${show(r.value)}, kernia ${show(g.value)}`);
      }
    });
  }

  compareJson(ref, got, where, key, fail) {
    const rt = typeOf(ref);
    const gt = typeOf(got);
    if (rt !== gt) { fail(`${where}: reference ${show(ref)} (${rt}), kernia ${show(got)} (${gt})`); return; }
    if (rt === "object") {
      const refKeys = Object.keys(ref);
      const gotKeys = Object.keys(got);
      const missing = refKeys.filter((k) => !(k in got));
      const extra = gotKeys.filter((k) => !(k in ref) && !(k in NULL_FOR_ABSENT && got[k] === null));
      if (missing.length) fail(`${where}: kernia lacks ${missing.map((k) => `${k} (reference ${show(ref[k])})`).join(", ")}`);
      if (extra.length) fail(`${where}: kernia has extra ${extra.map((k) => `${k}: ${show(got[k])}`).join(", ")}`);
      for (const k of refKeys) if (k in got) this.compareJson(ref[k], got[k], `${where}.${k}`, k, fail);
    } else if (rt === "array") {
      if (ref.length !== got.length) fail(`${where}: reference ${ref.length} elements, kernia ${got.length}`);
      for (let i = 0; i < Math.min(ref.length, got.length); i++) this.compareJson(ref[i], got[i], `${where}[${i}]`, key, fail);
    } else if (rt === "string") {
      const want = this.subst(ref);
      if (want === got) return;
      if (ISO_RE.test(ref)) {
        if (!ISO_RE.test(got)) fail(`${where}: reference an ISO-8601 timestamp (${ref}), kernia ${show(got)}`);
        return;
      }
      const cls = randomClass(ref, key);
      if (cls && !this.map.has(ref) && cls.test(got)) {
        const e = this.bind(ref, got);
        if (e) fail(`${where}: ${e}`);
        return;
      }
      fail(`${where}: reference ${show(ref)}${want !== ref ? ` (mapped: ${show(want)})` : ""}, kernia ${show(got)}`);
    } else if (ref !== got) {
      fail(`${where}: reference ${show(ref)}, kernia ${show(got)}`);
    }
  }

  /** The recorder's notes: mails (pair their tokens), onLinkAccount calls (Kernia says so in kernia-linked-guest). */
  checkNotes(ex, res, fail, checks) {
    for (const note of ex.notes) {
      if (/outbox/.test(note.text)) {
        const mail = JSON.parse(note.payload.join(""));
        const i = this.pendingMails.findLastIndex((m) => m.kind === mail.kind);
        if (i < 0) {
          if (!checks.noMail) fail(`mail: the reference sent a ${mail.kind} mail (NOTE), kernia none`);
          continue;
        }
        const got = this.pendingMails.splice(i, 1)[0];
        const want = this.subst(mail.email);
        if (got.email !== want && got.email !== want.toLowerCase()) fail(`mail: reference to ${show(mail.email)}, kernia to ${show(got.email)}`);
        for (const e of [this.bind(mail.token, got.token), this.bind(mail.url, got.url)]) if (e) fail(`mail: ${e}`);
        const wantUrl = this.subst(mail.url);
        if (wantUrl !== got.url) fail(`mail url: reference ${show(mail.url)} (mapped: ${show(wantUrl)}), kernia ${show(got.url)}`);
      } else if (/link-log/.test(note.text)) {
        const header = res.headers["kernia-linked-guest"];
        if (note.payload.length === 0) {
          if (header !== undefined && header !== "none") fail(`link: the reference did not link (empty onLinkAccount log), kernia-linked-guest: ${header}`);
        } else {
          const entry = JSON.parse(note.payload.join(""));
          const guest = this.subst(entry.anonymousUser.user.id);
          if (checks.linkedGuest !== undefined) {
            if (header !== checks.linkedGuest) fail(`link: expected kernia-linked-guest: ${checks.linkedGuest}, kernia ${show(header)}`);
          } else if (header !== guest) {
            fail(`link: the reference linked guest ${entry.anonymousUser.user.id} (kernia's ${guest}), kernia-linked-guest: ${show(header)}`);
          }
        }
      }
    }
  }
}

function safeDecode(s) {
  try { return decodeURIComponent(s); } catch { return s; }
}

// ---------------------------------------------------------------------------
// WebAuthn: the recording's request bodies were made by a software authenticator (ES256,
// attestation "none", flags UP+UV) for the reference's challenge; this one makes them for
// Kernia's.
// ---------------------------------------------------------------------------

function cborHead(major, n) {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  const b = Buffer.alloc(3); b[0] = (major << 5) | 25; b.writeUInt16BE(n, 1); return b;
}
const cbor = {
  int: (v) => (v >= 0 ? cborHead(0, v) : cborHead(1, -1 - v)),
  bytes: (b) => Buffer.concat([cborHead(2, b.length), Buffer.from(b)]),
  text: (s) => { const b = Buffer.from(s, "utf8"); return Buffer.concat([cborHead(3, b.length), b]); },
  map: (entries) => Buffer.concat([cborHead(5, entries.length), ...entries.flat()]),
};
const b64url = (b) => Buffer.from(b).toString("base64url");
const sha256 = (b) => createHash("sha256").update(b).digest();

class SoftAuthenticator {
  constructor() {
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    this.publicKey = publicKey;
    this.privateKey = privateKey;
    this.credentialId = randomBytes(16);
    this.counter = 0;
  }

  clientData(type, challenge, origin) {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
  }

  registration(options, origin, name) {
    const jwk = this.publicKey.export({ format: "jwk" });
    const cose = cbor.map([[cbor.int(1), cbor.int(2)], [cbor.int(3), cbor.int(-7)], [cbor.int(-1), cbor.int(1)],
      [cbor.int(-2), cbor.bytes(Buffer.from(jwk.x, "base64url"))], [cbor.int(-3), cbor.bytes(Buffer.from(jwk.y, "base64url"))]]);
    const len = Buffer.alloc(2); len.writeUInt16BE(this.credentialId.length);
    const authData = Buffer.concat([sha256(options.rp.id), Buffer.from([0x45]), Buffer.alloc(4), Buffer.alloc(16), len,
      this.credentialId, cose]);
    const attestationObject = cbor.map([[cbor.text("fmt"), cbor.text("none")], [cbor.text("attStmt"), cbor.map([])],
      [cbor.text("authData"), cbor.bytes(authData)]]);
    const id = b64url(this.credentialId);
    this.rpId = options.rp.id;
    return JSON.stringify({
      response: {
        id, rawId: id, type: "public-key",
        response: {
          clientDataJSON: b64url(this.clientData("webauthn.create", options.challenge, origin)),
          attestationObject: b64url(attestationObject), transports: ["internal"],
        },
        clientExtensionResults: {}, authenticatorAttachment: "platform",
      },
      name,
    });
  }

  authentication(options, origin) {
    this.counter += 1;
    const counter = Buffer.alloc(4); counter.writeUInt32BE(this.counter);
    const authData = Buffer.concat([sha256(options.rpId), Buffer.from([0x05]), counter]);
    const clientDataJSON = this.clientData("webauthn.get", options.challenge, origin);
    const sig = cryptoSign("sha256", Buffer.concat([authData, sha256(clientDataJSON)]), this.privateKey);
    const id = b64url(this.credentialId);
    return JSON.stringify({
      response: {
        id, rawId: id, type: "public-key",
        response: { clientDataJSON: b64url(clientDataJSON), authenticatorData: b64url(authData), signature: b64url(sig) },
        clientExtensionResults: {}, authenticatorAttachment: "platform",
      },
    });
  }
}

/** `-d @file` bodies of the recording → how to make them for Kernia. */
const BODY_MAKERS = {
  // 13: {response: RegistrationResponseJSON, name} for the last registration options
  "@/tmp/pkx/regbody.json": (replay) => {
    const options = replay.lastJson.get("/passkey/generate-register-options");
    assert.ok(options?.challenge, "no generate-register-options answer to build a registration for");
    return replay.authenticator.registration(options, new URL(replay.transcript.baseURL).origin, "soft key");
  },
  // 13: {response: AuthenticationResponseJSON} for the last authentication options
  "@/tmp/pkx/authbody.json": (replay) => {
    const options = replay.lastJson.get("/passkey/generate-authenticate-options");
    assert.ok(options?.challenge, "no generate-authenticate-options answer to build an assertion for");
    return replay.authenticator.authentication(options, new URL(replay.transcript.baseURL).origin);
  },
};

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

const files = readdirSync(DIR).filter((f) => f.endsWith(".txt")).sort();
const parsed = new Map(files.map((f) => [f, parseTranscript(f)]));

test("every transcript has a configuration, every allow-list entry names a recorded exchange", () => {
  assert.deepEqual(files, Object.keys(TRANSCRIPTS).sort(), "transcript files vs TRANSCRIPTS entries");
  const titles = (f) => parsed.get(f)?.exchanges.map((e) => e.title) ?? [];
  for (const entry of [...ADJUSTMENTS, ...CHECKS, ...SKIPS, ...Object.values(TRANSCRIPTS).flatMap((t) => (t.prelude ?? []).map(([file, title]) => ({ file, title })))]) {
    for (const title of titlesOf(entry)) assert.ok(titles(entry.file).includes(title), `no exchange "${title}" in ${entry.file}`);
  }
  for (const entry of [...ADJUSTMENTS, ...CHECKS, ...SKIPS]) {
    assert.ok(entry.why && entry.why.length > 10, `${entry.file} ${entry.title}: every entry says why`);
  }
  for (const entry of [...ADJUSTMENTS, ...CHECKS]) assert.match(entry.doc ?? "", /docs\/|protocol README/, `${entry.file} ${entry.title}: names the document`);
});

for (const file of files) {
  const setup = TRANSCRIPTS[file] ?? {};
  test(`transcript ${file}`, { timeout: 240_000 }, async () => {
    const transcript = parsed.get(file);
    const server = await startMailServer({
      tag: `tr${file.slice(0, 2)}`,
      secret: REFERENCE_SECRET,
      rateLimit: setup.rateLimit === true,
      config: {
        base_url: transcript.baseURL,
        passkey: { rp_name: "Kernia Reference" }, // the reference's passkey({ rpName })
        // The reference has no sendDeleteAccountVerification: delete-user deletes at once.
        delete_user_confirmation_enabled: false,
        ...(setup.config ?? {}),
      },
    });
    try {
      const replay = new Replay(server, transcript);
      for (const [preFile, title] of setup.prelude ?? []) {
        const ex = parsed.get(preFile).exchanges.find((e) => e.title === title);
        await replay.run(ex, { file: preFile, prelude: file });
      }
      for (const ex of transcript.exchanges) {
        const checks = CHECKS.find((c) => matches(c, file, ex.title));
        if (checks) useEntry(file, ex.title);
        await replay.run(ex, { file }, checks ?? {});
      }
      if (replay.failures.length) {
        assert.fail(`${replay.failures.length} exchange(s) of ${file} differ from the reference:\n\n${replay.failures.join("\n\n")}${server.logs()}`);
      }
    } finally {
      await server.stop();
    }
  });
}

test("every ADJUSTMENTS and SKIPS entry was used", () => {
  const unused = [...ADJUSTMENTS, ...CHECKS, ...SKIPS].flatMap((e) => titlesOf(e).map((t) => `${e.file} ### ${t}`))
    .filter((key) => !usedEntries.has(key));
  assert.deepEqual(unused, [], "allow-list entries that met no exchange (stale, or their transcript failed early)");
});
