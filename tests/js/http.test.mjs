// HTTP-level protocol rules: routing (404s), content types, origin/CSRF,
// bearer plugin. Raw node:http requests give exact control over headers.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  T, PASSWORD, SESSION_COOKIE, startServer, raw, bearerClient, sign, signedCookieValue,
  expectError, expectOk, expectSessionCookie, expectClearingCookies, expectNoCookies,
  expectClientError, expectClientOk, expectUser, signUp, signIn, signInAnonymous, getSession,
  uniqueEmail, sessionsOf, userRow, describe, sessionSetCookie,
} from "./harness.mjs";

const TRUSTED_EXTRA = "http://app.kernia.test:8080";

let server;
let bob; // a password user shared by the read-only checks
before(async () => {
  server = await startServer({ tag: "http", args: ["--trusted-origin", TRUSTED_EXTRA] });
  bob = await signUp(server, { name: "Bob" });
});
after(async () => { await server?.stop(); });

function expectEmpty404(res) {
  assert.equal(res.status, 404, describe(res, server));
  assert.equal(res.text, "", "404 has an empty body");
  assert.equal(res.setCookies.length, 0);
}

// --- routing ---------------------------------------------------------------

test("unknown path → 404 empty body", T, async () => {
  expectEmpty404(await raw(server, "GET", "/does-not-exist"));
  expectEmpty404(await raw(server, "POST", "/does-not-exist", { json: {}, origin: true }));
});

test("wrong method → 404 empty body (GET /sign-in/email, OPTIONS preflight)", T, async () => {
  expectEmpty404(await raw(server, "GET", "/sign-in/email"));
  expectEmpty404(await raw(server, "GET", "/sign-out"));
  expectEmpty404(await raw(server, "OPTIONS", "/sign-in/email", {
    origin: true, headers: { "access-control-request-method": "POST" },
  }));
});

test("trailing slash is a different path → 404", T, async () => {
  expectEmpty404(await raw(server, "GET", "/get-session/"));
  expectEmpty404(await raw(server, "GET", "/ok/"));
});

test("404 responses carry no Content-Type (Better Auth sends none)", T, async () => {
  for (const [m, p] of [["GET", "/does-not-exist"], ["GET", "/sign-in/email"], ["GET", "/get-session/"]]) {
    const res = await raw(server, m, p);
    assert.equal(res.status, 404);
    assert.equal(res.headers["content-type"], undefined, `${m} ${p}: no content-type; got ${JSON.stringify(res.headers)}`);
  }
});

test("POST /get-session → 405 METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED", T, async () => {
  const res = await raw(server, "POST", "/get-session", { json: {}, origin: true });
  expectError(res, 405, "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED",
    "POST method requires deferSessionRefresh to be enabled in session config", server);
});

// --- content types -----------------------------------------------------------

test("text/plain body → 415 UNSUPPORTED_MEDIA_TYPE with the exact message", T, async () => {
  const res = await raw(server, "POST", "/sign-in/email", {
    body: JSON.stringify({ email: bob.email, password: PASSWORD }), headers: { "content-type": "text/plain" }, origin: true,
  });
  expectError(res, 415, "UNSUPPORTED_MEDIA_TYPE",
    'Content-Type "text/plain" is not allowed. Allowed types: application/x-www-form-urlencoded, application/json', server);
  expectNoCookies(res);
});

test("form-urlencoded sign-in/email and sign-up/email are accepted", T, async () => {
  let res = await raw(server, "POST", "/sign-in/email", { form: { email: bob.email, password: PASSWORD }, origin: true });
  expectOk(res, server);
  assert.equal(res.json.redirect, false);
  expectUser(res.json.user, { id: bob.user.id });
  expectSessionCookie(res, res.json.token);
  const email = uniqueEmail("form");
  res = await raw(server, "POST", "/sign-up/email", { form: { name: "Form", email, password: PASSWORD }, origin: true });
  expectOk(res, server);
  expectUser(res.json.user, { name: "Form", email });
});

test("application/json with charset parameter is accepted", T, async () => {
  const res = await raw(server, "POST", "/sign-in/email", {
    json: { email: bob.email, password: PASSWORD }, headers: { "content-type": "application/json; charset=utf-8" }, origin: true,
  });
  expectOk(res, server);
  expectSessionCookie(res, res.json.token);
});

test("JSON body without Content-Type → 400 VALIDATION_ERROR (body undefined)", T, async () => {
  const res = await raw(server, "POST", "/sign-in/email", { body: JSON.stringify({ email: bob.email, password: PASSWORD }), origin: true });
  expectError(res, 400, "VALIDATION_ERROR", "[body] Invalid input: expected object, received undefined", server);
});

test("endpoints without a body schema work with no body (sign-in/anonymous, sign-out)", T, async () => {
  const anon = await signInAnonymous(server);
  const res = await raw(server, "POST", "/sign-out", { origin: true, cookie: anon.cookie });
  expectOk(res, server);
  assert.deepEqual(res.json, { success: true });
});

// --- origin / CSRF -----------------------------------------------------------

test("cookie + no Origin → 403 MISSING_OR_NULL_ORIGIN (sign-out, sign-in/email)", T, async () => {
  const s = await signIn(server, { email: bob.email });
  let res = await raw(server, "POST", "/sign-out", { json: {}, cookie: s.cookie });
  expectError(res, 403, "MISSING_OR_NULL_ORIGIN", "Missing or null Origin", server);
  assert.equal(sessionsOf(server, bob.user.id).some((r) => r.token === s.token), true, "session not touched");
  res = await raw(server, "POST", "/sign-in/email", { json: { email: bob.email, password: PASSWORD }, cookie: "foo=bar" });
  expectError(res, 403, "MISSING_OR_NULL_ORIGIN", "Missing or null Origin", server);
  res = await raw(server, "POST", "/sign-out", { json: {}, cookie: s.cookie, origin: "null" });
  expectError(res, 403, "MISSING_OR_NULL_ORIGIN", "Missing or null Origin", server);
});

test("cookie + untrusted Origin → 403 INVALID_ORIGIN", T, async () => {
  const s = await signIn(server, { email: bob.email });
  const res = await raw(server, "POST", "/sign-out", { json: {}, cookie: s.cookie, origin: "https://evil.example" });
  expectError(res, 403, "INVALID_ORIGIN", "Invalid origin", server);
  assert.ok(sessionsOf(server, bob.user.id).some((r) => r.token === s.token), "session not touched");
  // untrusted origin on the same host but another port is untrusted too
  const res2 = await raw(server, "POST", "/sign-out", { json: {}, cookie: s.cookie, origin: `http://127.0.0.1:${server.port === 1 ? 2 : 1}` });
  expectError(res2, 403, "INVALID_ORIGIN", "Invalid origin", server);
});

test("sign-in/email: untrusted Origin without cookie → 403 INVALID_ORIGIN", T, async () => {
  const res = await raw(server, "POST", "/sign-in/email", { json: { email: bob.email, password: PASSWORD }, origin: "https://evil.example" });
  expectError(res, 403, "INVALID_ORIGIN", "Invalid origin", server);
  expectNoCookies(res);
});

test("sign-in/email: no cookie, no Origin, no fetch metadata (server-to-server) → 200", T, async () => {
  const res = await raw(server, "POST", "/sign-in/email", { json: { email: bob.email, password: PASSWORD } });
  expectOk(res, server);
  expectSessionCookie(res, res.json.token);
});

test("sign-in/email: Sec-Fetch-Site cross-site + Sec-Fetch-Mode navigate → 403 CROSS_SITE_NAVIGATION_LOGIN_BLOCKED", T, async () => {
  const res = await raw(server, "POST", "/sign-in/email", {
    json: { email: bob.email, password: PASSWORD },
    headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate" },
  });
  expectError(res, 403, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED",
    "Cross-site navigation login blocked. This request appears to be a CSRF attack.", server);
  const up = await raw(server, "POST", "/sign-up/email", {
    json: { name: "X", email: uniqueEmail("csrf"), password: PASSWORD },
    headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document" },
  });
  expectError(up, 403, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED", undefined, server);
});

test("sign-in/email: fetch metadata present (sec-fetch-mode: cors, as Node's fetch sends) but no Origin → 403 MISSING_OR_NULL_ORIGIN", T, async () => {
  const res = await raw(server, "POST", "/sign-in/email", {
    json: { email: bob.email, password: PASSWORD }, headers: { "sec-fetch-mode": "cors" },
  });
  expectError(res, 403, "MISSING_OR_NULL_ORIGIN", "Missing or null Origin", server);
  const ok = await raw(server, "POST", "/sign-in/email", {
    json: { email: bob.email, password: PASSWORD }, headers: { "sec-fetch-mode": "cors", "sec-fetch-site": "same-origin" }, origin: true,
  });
  expectOk(ok, server);
});

test("trusted Referer (no Origin) with a cookie is accepted; untrusted Referer is not", T, async () => {
  let res = await raw(server, "POST", "/sign-in/email", {
    json: { email: bob.email, password: PASSWORD }, cookie: "foo=bar", headers: { referer: `${server.origin}/login` },
  });
  expectOk(res, server);
  expectSessionCookie(res, res.json.token);
  res = await raw(server, "POST", "/sign-in/email", {
    json: { email: bob.email, password: PASSWORD }, cookie: "foo=bar", headers: { referer: "https://evil.example/login" },
  });
  expectError(res, 403, "INVALID_ORIGIN", "Invalid origin", server);
});

test("Origin: null + Sec-Fetch-Site: same-origin → treated as the server's own origin", T, async () => {
  const s = await signIn(server, { email: bob.email });
  const res = await raw(server, "POST", "/sign-out", {
    json: {}, cookie: s.cookie, origin: "null", headers: { "sec-fetch-site": "same-origin" },
  });
  expectOk(res, server);
  assert.deepEqual(res.json, { success: true });
});

test("--trusted-origin is honoured for Origin and callbackURL", T, async () => {
  const s = await signIn(server, { email: bob.email });
  let res = await raw(server, "POST", "/update-user", { json: { name: "Bob" }, cookie: s.cookie, origin: TRUSTED_EXTRA });
  expectOk(res, server);
  assert.deepEqual(res.json, { status: true });
  res = await raw(server, "POST", "/sign-in/email", {
    json: { email: bob.email, password: PASSWORD, callbackURL: `${TRUSTED_EXTRA}/after` }, origin: TRUSTED_EXTRA,
  });
  expectOk(res, server);
  assert.equal(res.json.redirect, true);
  assert.equal(res.json.url, `${TRUSTED_EXTRA}/after`);
  assert.equal(res.headers.location, `${TRUSTED_EXTRA}/after`);
  res = await raw(server, "POST", "/update-user", { json: { name: "Bob" }, cookie: s.cookie, origin: "http://app.kernia.test:8081" });
  expectError(res, 403, "INVALID_ORIGIN", "Invalid origin", server);
});

test("origin check runs before body validation", T, async () => {
  const s = await signIn(server, { email: bob.email });
  const res = await raw(server, "POST", "/sign-up/email", { json: { email: "not-an-email" }, cookie: s.cookie, origin: "https://evil.example" });
  expectError(res, 403, "INVALID_ORIGIN", "Invalid origin", server);
});

test("GET requests are never origin-checked", T, async () => {
  const s = await signIn(server, { email: bob.email });
  const res = await raw(server, "GET", "/get-session", { cookie: s.cookie, origin: "https://evil.example" });
  expectOk(res, server);
  assert.equal(res.json.session.token, s.token);
});

// --- bearer --------------------------------------------------------------------

test("bearer: set-auth-token + access-control-expose-headers on sign-in; signed token works as Authorization", T, async () => {
  const s = await signIn(server, { email: bob.email });
  assert.equal(s.signed, sign(s.token));
  const gs = await getSession(server, { bearer: s.signed });
  expectOk(gs, server);
  assert.equal(gs.json.session.token, s.token);
  assert.equal(gs.json.user.id, bob.user.id);
  expectNoCookies(gs);
  // percent-encoded form (as in the cookie) is accepted too
  const enc = await getSession(server, { bearer: signedCookieValue(s.token) });
  assert.equal(enc.json?.session?.token, s.token, describe(enc, server));
  // scheme is case-insensitive
  const lower = await raw(server, "GET", "/get-session", { headers: { authorization: `bearer ${s.signed}` } });
  assert.equal(lower.json?.session?.token, s.token, describe(lower, server));
});

test("bearer: a raw unsigned session token is accepted", T, async () => {
  const s = await signIn(server, { email: bob.email });
  const gs = await getSession(server, { bearer: s.token });
  expectOk(gs, server);
  assert.equal(gs.json?.session?.token, s.token, describe(gs, server));
});

test("bearer: tampered signature → get-session null, no cookies", T, async () => {
  const s = await signIn(server, { email: bob.email });
  const tampered = `${s.token}.${"A".repeat(43)}=`;
  const gs = await getSession(server, { bearer: tampered });
  expectOk(gs, server);
  assert.equal(gs.text.trim(), "null");
  expectNoCookies(gs);
  const other = `${"A".repeat(32)}.${s.signed.split(".")[1]}`;
  const gs2 = await getSession(server, { bearer: other });
  assert.equal(gs2.text.trim(), "null");
  expectNoCookies(gs2);
});

test("bearer: unknown but well-formed raw token → null + clearing cookies (signed by the server, no session)", T, async () => {
  const gs = await raw(server, "GET", "/get-session", { bearer: "garbage", cookie: `${SESSION_COOKIE}=garbage` });
  expectOk(gs, server);
  assert.equal(gs.text.trim(), "null");
  expectClearingCookies(gs);
});

test("bearer wins over the cookie", T, async () => {
  const a = await signIn(server, { email: bob.email });
  const other = await signUp(server, { name: "Other" });
  const gs = await getSession(server, { cookie: a.cookie, bearer: other.signed });
  expectOk(gs, server);
  assert.equal(gs.json.user.id, other.user.id);
});

test("bearer-only POST needs no Origin (no Cookie header → no origin check)", T, async () => {
  const s = await signIn(server, { email: bob.email });
  const res = await raw(server, "POST", "/update-user", { json: { name: "Bob" }, bearer: s.signed });
  expectOk(res, server);
  assert.deepEqual(res.json, { status: true });
  const out = await raw(server, "POST", "/sign-out", { bearer: s.signed });
  expectOk(out, server);
  assert.ok(!sessionsOf(server, bob.user.id).some((r) => r.token === s.token), "bearer sign-out deleted the session");
});

test("official client in bearer mode: sign-up, get-session, update-user, sign-out", T, async () => {
  // Node's fetch sends `sec-fetch-mode: cors`, so the form-CSRF rule applies to
  // sign-up/sign-in: without an Origin they are refused, exactly like Better Auth.
  const noOrigin = bearerClient(server);
  expectClientError(await noOrigin.client.signUp.email({ name: "N", email: uniqueEmail("bn"), password: PASSWORD }),
    403, "MISSING_OR_NULL_ORIGIN");

  const b = bearerClient(server, { origin: server.origin });
  const email = uniqueEmail("bearer");
  const up = expectClientOk(await b.client.signUp.email({ name: "Bearer", email, password: PASSWORD }), server);
  assert.equal(b.token, sign(up.token), "token captured from set-auth-token");
  // From here on: no cookies, no Origin.
  const c = bearerClient(server, { token: b.token });
  const s = expectClientOk(await c.client.getSession(), server);
  assert.equal(s.user.id, up.user.id);
  assert.match(c.log[c.log.length - 1].authorization, /^Bearer /);
  assert.deepEqual(expectClientOk(await c.client.updateUser({ name: "Bearer 2" }), server), { status: true });
  assert.equal(userRow(server, up.user.id).name, "Bearer 2");
  const list = expectClientOk(await c.client.listSessions(), server);
  assert.equal(list.length, 1);
  assert.deepEqual(expectClientOk(await c.client.signOut(), server), { success: true });
  const after = await c.client.getSession();
  assert.equal(after.data, null);
  assert.equal(sessionsOf(server, up.user.id).length, 0);
});

test("session cookie is read from a Cookie header with other cookies around it", T, async () => {
  const s = await signIn(server, { email: bob.email });
  const value = sessionSetCookie(s.res).value;
  const gs = await getSession(server, { cookie: `a=1; ${SESSION_COOKIE}=${value}; b=2` });
  assert.equal(gs.json?.session?.token, s.token, describe(gs, server));
});
