// Core email+password endpoints, sessions and account management, exercised
// with the official better-auth client (cookie jar) and raw HTTP.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  T, PASSWORD, SECRET, SESSION_COOKIE, DATA_COOKIE, DONT_REMEMBER_COOKIE, CLEARING_COOKIES,
  startServer, raw, cookieClient, sign, signedCookieValue, sessionCookieHeader,
  expectError, expectOk, expectSessionCookie, expectClearingCookies, expectNoCookies,
  expectClientError, expectClientOk, expectUser, expectSession, sessionSetCookie,
  signUp, signIn, signInAnonymous, getSession, uniqueEmail, userRow, userByEmail,
  sessionsOf, accountsOf, asBool, describe, ID_RE,
} from "./harness.mjs";

let server;
before(async () => { server = await startServer({ tag: "core" }); });
after(async () => { await server?.stop(); });

const near = (iso, seconds, slack = 300) => {
  const delta = (new Date(iso).getTime() - Date.now()) / 1000;
  assert.ok(Math.abs(delta - seconds) < slack, `expected ~now+${seconds}s, got now+${Math.round(delta)}s (${iso})`);
};

test("GET /ok → 200 {ok:true}", T, async () => {
  const res = await raw(server, "GET", "/ok");
  expectOk(res, server);
  assert.deepEqual(res.json, { ok: true });
});

test("GET /error → 200 HTML page", T, async () => {
  const res = await raw(server, "GET", "/error?error=SOME_ERROR");
  assert.equal(res.status, 200, describe(res, server));
  assert.match(String(res.headers["content-type"]), /^text\/html/);
  assert.ok(res.text.length > 0, "non-empty HTML body");
});

test("sign-up/email with the official client: response shape, cookie, DB rows", T, async () => {
  const { client, jar } = cookieClient(server);
  const email = uniqueEmail("Bob").replace(/^bob/i, "Bob");
  const mixed = email.toUpperCase().replace("@EXAMPLE.COM", "@Example.com");
  const data = expectClientOk(await client.signUp.email({
    name: "Bob", email: mixed, password: PASSWORD, image: "https://example.com/b.png",
  }), server);
  assert.match(data.token, ID_RE);
  expectUser(data.user, {
    name: "Bob", email: mixed.toLowerCase(), emailVerified: false, isAnonymous: false,
    image: "https://example.com/b.png",
  });
  assert.equal("redirect" in data, false, "sign-up has no redirect key");
  assert.equal("url" in data, false);
  // The jar got the signed token.
  assert.equal(jar.get(SESSION_COOKIE), signedCookieValue(data.token));

  // DB: user (lower-cased email), one credential account with a scrypt hash, one session.
  const u = userByEmail(server, mixed);
  assert.ok(u, "user row exists");
  assert.equal(u.id, data.user.id);
  assert.equal(u.email, mixed.toLowerCase());
  assert.equal(asBool(u.isAnonymous), false);
  assert.equal(asBool(u.emailVerified), false);
  const accounts = accountsOf(server, u.id);
  assert.equal(accounts.length, 1);
  assert.equal(accounts[0].providerId, "credential");
  assert.equal(accounts[0].accountId, u.id);
  assert.match(accounts[0].password, /^[0-9a-f]{32}:[0-9a-f]{128}$/, "Better Auth scrypt format salt:key");
  const sessions = sessionsOf(server, u.id);
  assert.equal(sessions.length, 1);
  assert.equal(sessions[0].token, data.token);

  // The client's getSession sees it.
  const s = expectClientOk(await client.getSession(), server);
  expectUser(s.user, { id: data.user.id, email: mixed.toLowerCase(), name: "Bob" });
  expectSession(s.session, { token: data.token, userId: data.user.id });
  near(s.session.expiresAt, 604800);
});

test("sign-up/email raw: exact Set-Cookie, set-auth-token, expose header", T, async () => {
  const email = uniqueEmail("raw");
  const res = await raw(server, "POST", "/sign-up/email", { json: { name: "Raw", email, password: PASSWORD }, origin: true });
  expectOk(res, server);
  assert.deepEqual(Object.keys(res.json).sort(), ["token", "user"]);
  expectSessionCookie(res, res.json.token);
  assert.equal(res.setCookies.length, 1, `only the session cookie; got ${JSON.stringify(res.setCookies)}`);
  expectUser(res.json.user, { name: "Raw", email, isAnonymous: false, emailVerified: false });
});

test("sign-in/email: {redirect:false, token, user}, exact cookie, new session row", T, async () => {
  const up = await signUp(server, { name: "Carol" });
  const res = await raw(server, "POST", "/sign-in/email", { json: { email: up.email.toUpperCase(), password: PASSWORD }, origin: true });
  expectOk(res, server);
  assert.equal(res.json.redirect, false);
  assert.equal("url" in res.json, false, "no url without callbackURL");
  assert.equal(res.headers.location, undefined);
  assert.match(res.json.token, ID_RE);
  assert.notEqual(res.json.token, up.token, "a new session");
  expectUser(res.json.user, { id: up.user.id, email: up.email, name: "Carol" });
  expectSessionCookie(res, res.json.token);
  assert.equal(sessionsOf(server, up.user.id).length, 2);
});

test("sign-in/email rememberMe:false → session cookie without Max-Age + dont_remember cookie, 1-day session", T, async () => {
  const up = await signUp(server);
  const res = await raw(server, "POST", "/sign-in/email", { json: { email: up.email, password: PASSWORD, rememberMe: false }, origin: true });
  expectOk(res, server);
  const token = res.json.token;
  expectSessionCookie(res, token, { maxAge: null });
  assert.ok(res.setCookies.includes(`${DONT_REMEMBER_COOKIE}=${signedCookieValue("true")}; Path=/; HttpOnly; SameSite=Lax`),
    `dont_remember cookie (signed "true", no Max-Age); got ${JSON.stringify(res.setCookies)}`);
  const sessionCookie = sessionCookieHeader(sessionSetCookie(res).value);
  const dontRemember = `${DONT_REMEMBER_COOKIE}=${signedCookieValue("true")}`;
  // With the dont_remember cookie (what a browser sends back): 1-day session, never refreshed.
  const s = await getSession(server, { cookie: `${sessionCookie}; ${dontRemember}` });
  expectOk(s, server);
  near(s.json.session.expiresAt, 86400);
  expectNoCookies(s);
  // Without it, Better Auth's refresh rule (expiresAt - expiresIn + updateAge <= now) holds for a
  // 1-day session, so get-session extends it to 7 days and re-sets the cookie (+ set-auth-token).
  const r = await getSession(server, { cookie: sessionCookie });
  expectOk(r, server);
  near(r.json.session.expiresAt, 604800);
  expectSessionCookie(r, token);
  assert.equal(r.json.session.token, token, "same token after refresh");
});

test("sign-in/email with callbackURL → 200, redirect:true, url, location header", T, async () => {
  const up = await signUp(server);
  const res = await raw(server, "POST", "/sign-in/email", {
    json: { email: up.email, password: PASSWORD, callbackURL: "/dashboard" }, origin: true,
  });
  expectOk(res, server);
  assert.equal(res.json.redirect, true);
  assert.equal(res.json.url, "/dashboard");
  assert.equal(res.headers.location, "/dashboard");
  expectSessionCookie(res, res.json.token);
  // The official client returns the same thing.
  const { client } = cookieClient(server);
  const data = expectClientOk(await client.signIn.email({ email: up.email, password: PASSWORD, callbackURL: "/dashboard" }), server);
  assert.equal(data.redirect, true);
  assert.equal(data.url, "/dashboard");
});

test("sign-in/email: untrusted absolute callbackURL → 403 INVALID_CALLBACK_URL", T, async () => {
  const up = await signUp(server);
  const res = await raw(server, "POST", "/sign-in/email", {
    json: { email: up.email, password: PASSWORD, callbackURL: "https://evil.example/x" }, origin: true,
  });
  expectError(res, 403, "INVALID_CALLBACK_URL", "Invalid callbackURL", server);
});

test("get-session: no credentials → 200 null, no cookies, no-store headers", T, async () => {
  const res = await getSession(server);
  expectOk(res, server);
  assert.equal(res.text.trim(), "null");
  expectNoCookies(res);
  assert.equal(res.headers["cache-control"], "no-store");
  assert.equal(res.headers.pragma, "no-cache");
  const { client } = cookieClient(server);
  const r = await client.getSession();
  assert.equal(r.error, null);
  assert.equal(r.data, null);
});

test("get-session: valid cookie → {session,user}, no-store, no cookie re-set", T, async () => {
  const up = await signUp(server, { name: "Gs" });
  const res = await getSession(server, { cookie: up.cookie });
  expectOk(res, server);
  assert.equal(res.headers["cache-control"], "no-store");
  assert.equal(res.headers.pragma, "no-cache");
  expectSession(res.json.session, { token: up.token, userId: up.user.id });
  expectUser(res.json.user, { id: up.user.id, name: "Gs" });
  expectNoCookies(res);
});

test("sign-out: {success:true}, 3 clearing cookies, session row deleted; old cookie → null + clearing", T, async () => {
  const up = await signUp(server);
  const res = await raw(server, "POST", "/sign-out", { json: {}, origin: true, cookie: up.cookie });
  expectOk(res, server);
  assert.deepEqual(res.json, { success: true });
  expectClearingCookies(res);
  assert.equal(sessionsOf(server, up.user.id).length, 0, "session row deleted");
  assert.ok(userRow(server, up.user.id), "user kept");
  const gs = await getSession(server, { cookie: up.cookie });
  expectOk(gs, server);
  assert.equal(gs.text.trim(), "null");
  expectClearingCookies(gs);
});

test("clearing cookies come in Better Auth's order: session_token, session_data, dont_remember", T, async () => {
  const res = await raw(server, "POST", "/sign-out", { json: {}, origin: true });
  expectOk(res, server);
  expectClearingCookies(res, { ordered: true });
});

test("get-session expires a leftover session_data cookie (cookie cache off, README §2.4), with or without a session", T, async () => {
  const CLEAR_DATA = `${DATA_COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax`;
  // No session: null + the clear (Better Auth 1.7.25 does it before looking at the session cookie).
  let res = await getSession(server, { cookie: `${DATA_COOKIE}=abc` });
  expectOk(res, server);
  assert.equal(res.text, "null");
  assert.deepEqual(res.setCookies, [CLEAR_DATA]);
  // A live session: the session, and only the clear (no session cookie re-set).
  const up = await signUp(server);
  res = await getSession(server, { cookie: `${up.cookie}; ${DATA_COOKIE}=abc` });
  expectOk(res, server);
  assert.equal(res.json.user.id, up.user.id);
  assert.deepEqual(res.setCookies, [CLEAR_DATA]);
  // Chunks of a large cookie cache (<name>.0, .1) are expired too.
  res = await getSession(server, { cookie: `${up.cookie}; ${DATA_COOKIE}.0=abc; ${DATA_COOKIE}.1=def` });
  assert.deepEqual(res.setCookies, [`${DATA_COOKIE}.0=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax`,
    `${DATA_COOKIE}.1=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax`]);
  // Nothing to clear: no cookie, or an empty one.
  expectNoCookies(await getSession(server, { cookie: up.cookie }));
  expectNoCookies(await getSession(server, { cookie: `${up.cookie}; ${DATA_COOKIE}=` }));

  // The official client with a cookie jar: the leftover is gone after getSession().
  const { client, jar } = cookieClient(server);
  expectClientOk(await client.signUp.email({ name: "Leftover", email: uniqueEmail("leftover"), password: PASSWORD }), server);
  jar.set(DATA_COOKIE, "eyJzZXNzaW9uIjp7fX0");
  const s = expectClientOk(await client.getSession(), server);
  assert.ok(s?.session, "still signed in");
  assert.equal(jar.get(DATA_COOKIE), undefined, "session_data expired by the server");
  assert.ok(jar.get(SESSION_COOKIE), "the session cookie stays");
});

test("https base URL: get-session expires __Secure-better-auth.session_data with Secure", T, async () => {
  const s = await startServer({ tag: "core-secure", args: ["--base-url", "https://auth.example.com"] });
  try {
    const res = await getSession(s, { cookie: `__Secure-${DATA_COOKIE}=abc; ${DATA_COOKIE}=abc` });
    expectOk(res, s);
    assert.equal(res.text, "null");
    assert.deepEqual(res.setCookies, [`__Secure-${DATA_COOKIE}=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax`]);
  } finally { await s.stop(); }
});

test("sign-out with no session at all → {success:true} + clearing cookies", T, async () => {
  const res = await raw(server, "POST", "/sign-out", { json: {}, origin: true });
  expectOk(res, server);
  assert.deepEqual(res.json, { success: true });
  expectClearingCookies(res);
});

test("client: sign-up → sign-out → getSession null; jar emptied by Max-Age=0", T, async () => {
  const { client, jar } = cookieClient(server);
  expectClientOk(await client.signUp.email({ name: "Jar", email: uniqueEmail("jar"), password: PASSWORD }), server);
  assert.ok(jar.get(SESSION_COOKIE));
  const out = expectClientOk(await client.signOut(), server);
  assert.deepEqual(out, { success: true });
  assert.equal(jar.size, 0, "all cookies expired");
  const s = await client.getSession();
  assert.equal(s.data, null);
});

test("list-sessions: array of the caller's live sessions only", T, async () => {
  const a = await signUp(server, { name: "A" });
  const a2 = await signIn(server, { email: a.email });
  const b = await signUp(server, { name: "B" });
  const { client, jar } = cookieClient(server);
  jar.set(SESSION_COOKIE, a2.cookie.split("=").slice(1).join("="));
  const list = expectClientOk(await client.listSessions(), server);
  assert.ok(Array.isArray(list), "array");
  const tokens = list.map((s) => s.token).sort();
  assert.deepEqual(tokens, [a.token, a2.token].sort());
  for (const s of list) expectSession(s, { userId: a.user.id });
  assert.ok(!tokens.includes(b.token));
  const noSession = await raw(server, "GET", "/list-sessions");
  expectError(noSession, 401, "UNAUTHORIZED", "Unauthorized", server);
});

test("revoke-session: other session deleted; unknown/foreign token → {status:true} and nothing happens; own → clearing", T, async () => {
  const a = await signUp(server);
  const a2 = await signIn(server, { email: a.email });
  const b = await signUp(server);
  // revoke a2 from a
  let res = await raw(server, "POST", "/revoke-session", { json: { token: a2.token }, origin: true, cookie: a.cookie });
  expectOk(res, server);
  assert.deepEqual(res.json, { status: true });
  expectNoCookies(res);
  assert.deepEqual(sessionsOf(server, a.user.id).map((s) => s.token), [a.token]);
  // unknown token
  res = await raw(server, "POST", "/revoke-session", { json: { token: "x".repeat(32) }, origin: true, cookie: a.cookie });
  expectOk(res, server);
  assert.deepEqual(res.json, { status: true });
  // another user's token: answered true but not deleted
  res = await raw(server, "POST", "/revoke-session", { json: { token: b.token }, origin: true, cookie: a.cookie });
  expectOk(res, server);
  assert.deepEqual(res.json, { status: true });
  assert.equal(sessionsOf(server, b.user.id).length, 1, "foreign session untouched");
  // missing token → validation error
  res = await raw(server, "POST", "/revoke-session", { json: {}, origin: true, cookie: a.cookie });
  expectError(res, 400, "VALIDATION_ERROR", undefined, server);
  // own current session → deleted + clearing cookies
  res = await raw(server, "POST", "/revoke-session", { json: { token: a.token }, origin: true, cookie: a.cookie });
  expectOk(res, server);
  assert.deepEqual(res.json, { status: true });
  expectClearingCookies(res);
  assert.equal(sessionsOf(server, a.user.id).length, 0);
});

test("revoke-session via the official client", T, async () => {
  const { client } = cookieClient(server);
  const email = uniqueEmail("rc");
  expectClientOk(await client.signUp.email({ name: "Rc", email, password: PASSWORD }), server);
  const other = await signIn(server, { email });
  const r = expectClientOk(await client.revokeSession({ token: other.token }), server);
  assert.deepEqual(r, { status: true });
  const gs = await getSession(server, { cookie: other.cookie });
  assert.equal(gs.text.trim(), "null");
});

test("revoke-sessions: all sessions of the user gone + clearing cookies", T, async () => {
  const a = await signUp(server);
  const a2 = await signIn(server, { email: a.email });
  const b = await signUp(server);
  const res = await raw(server, "POST", "/revoke-sessions", { origin: true, cookie: a.cookie });
  expectOk(res, server);
  assert.deepEqual(res.json, { status: true });
  expectClearingCookies(res);
  assert.equal(sessionsOf(server, a.user.id).length, 0);
  assert.equal(sessionsOf(server, b.user.id).length, 1, "other user untouched");
  const gs = await getSession(server, { cookie: a2.cookie });
  assert.equal(gs.text.trim(), "null");
  const none = await raw(server, "POST", "/revoke-sessions", { origin: true });
  expectError(none, 401, "UNAUTHORIZED", "Unauthorized", server);
});

test("revoke-other-sessions: others gone, current still valid, no cookies", T, async () => {
  const { client, jar } = cookieClient(server);
  const email = uniqueEmail("ro");
  const up = expectClientOk(await client.signUp.email({ name: "Ro", email, password: PASSWORD }), server);
  const o1 = await signIn(server, { email });
  const o2 = await signIn(server, { email });
  const r = expectClientOk(await client.revokeOtherSessions(), server);
  assert.deepEqual(r, { status: true });
  assert.deepEqual(sessionsOf(server, up.user.id).map((s) => s.token), [up.token]);
  for (const o of [o1, o2]) assert.equal((await getSession(server, { cookie: o.cookie })).text.trim(), "null");
  assert.equal(jar.get(SESSION_COOKIE), signedCookieValue(up.token), "current cookie kept");
  const s = expectClientOk(await client.getSession(), server);
  assert.equal(s.session.token, up.token);
});

test("update-user: {status:true}, cookie re-set (same token) + set-auth-token, DB updated", T, async () => {
  const up = await signUp(server, { name: "Before" });
  const res = await raw(server, "POST", "/update-user", {
    json: { name: "After", image: "https://example.com/a.png" }, origin: true, cookie: up.cookie,
  });
  expectOk(res, server);
  assert.deepEqual(res.json, { status: true });
  expectSessionCookie(res, up.token);
  const row = userRow(server, up.user.id);
  assert.equal(row.name, "After");
  assert.equal(row.image, "https://example.com/a.png");
  const gs = await getSession(server, { cookie: up.cookie });
  assert.equal(gs.json.user.name, "After");
  assert.ok(Date.parse(gs.json.user.updatedAt) >= Date.parse(up.user.updatedAt), "updatedAt moves forward");
  // via the client, image:null clears it
  const { client, jar } = cookieClient(server);
  jar.set(SESSION_COOKIE, signedCookieValue(up.token));
  assert.deepEqual(expectClientOk(await client.updateUser({ name: "Client", image: null }), server), { status: true });
  const row2 = userRow(server, up.user.id);
  assert.equal(row2.name, "Client");
  assert.equal(row2.image ?? null, null);
});

test("update-user errors: email → 400 EMAIL_CAN_NOT_BE_UPDATED; empty → 400 'No fields to update' (no code); no session → 401", T, async () => {
  const up = await signUp(server);
  let res = await raw(server, "POST", "/update-user", { json: { email: "new@example.com" }, origin: true, cookie: up.cookie });
  expectError(res, 400, "EMAIL_CAN_NOT_BE_UPDATED", "Email can not be updated", server);
  res = await raw(server, "POST", "/update-user", { json: {}, origin: true, cookie: up.cookie });
  expectError(res, 400, null, "No fields to update", server);
  res = await raw(server, "POST", "/update-user", { json: { name: "x" }, origin: true });
  expectError(res, 401, "UNAUTHORIZED", "Unauthorized", server);
  assert.equal(userRow(server, up.user.id).email, up.email, "email unchanged");
});

test("change-password: wrong current → 400 INVALID_PASSWORD; short → PASSWORD_TOO_SHORT; ok → token:null", T, async () => {
  const up = await signUp(server, { name: "Cp" });
  let res = await raw(server, "POST", "/change-password", {
    json: { currentPassword: "wrong-password", newPassword: "password456" }, origin: true, cookie: up.cookie,
  });
  expectError(res, 400, "INVALID_PASSWORD", "Invalid password", server);
  res = await raw(server, "POST", "/change-password", {
    json: { currentPassword: PASSWORD, newPassword: "short" }, origin: true, cookie: up.cookie,
  });
  expectError(res, 400, "PASSWORD_TOO_SHORT", "Password too short", server);
  res = await raw(server, "POST", "/change-password", {
    json: { currentPassword: PASSWORD, newPassword: "password456" }, origin: true, cookie: up.cookie,
  });
  expectOk(res, server);
  assert.equal(res.json.token, null);
  expectUser(res.json.user, { id: up.user.id });
  expectNoCookies(res);
  // old password refused, new one accepted; current session still valid
  const bad = await raw(server, "POST", "/sign-in/email", { json: { email: up.email, password: PASSWORD }, origin: true });
  expectError(bad, 401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password", server);
  await signIn(server, { email: up.email, password: "password456" });
  assert.equal((await getSession(server, { cookie: up.cookie })).json?.session?.token, up.token);
});

test("change-password revokeOtherSessions:true → new token + cookie, every old session gone", T, async () => {
  const { client, jar } = cookieClient(server);
  const email = uniqueEmail("cpr");
  const up = expectClientOk(await client.signUp.email({ name: "Cpr", email, password: PASSWORD }), server);
  const other = await signIn(server, { email });
  const data = expectClientOk(await client.changePassword({
    currentPassword: PASSWORD, newPassword: "password789", revokeOtherSessions: true,
  }), server);
  assert.match(data.token, ID_RE);
  assert.notEqual(data.token, up.token);
  expectUser(data.user, { id: up.user.id });
  assert.equal(jar.get(SESSION_COOKIE), signedCookieValue(data.token), "new cookie stored");
  assert.deepEqual(sessionsOf(server, up.user.id).map((s) => s.token), [data.token]);
  assert.equal((await getSession(server, { cookie: other.cookie })).text.trim(), "null");
  const s = expectClientOk(await client.getSession(), server);
  assert.equal(s.session.token, data.token);
  // raw check of the headers on the same operation
  const res = await raw(server, "POST", "/change-password", {
    json: { currentPassword: "password789", newPassword: "password000", revokeOtherSessions: true },
    origin: true, cookie: sessionCookieHeader(jar.get(SESSION_COOKIE)),
  });
  expectOk(res, server);
  expectSessionCookie(res, res.json.token);
});

test("delete-user with password: wrong → 400 INVALID_PASSWORD; right → {success,message} + clearing, rows gone", T, async () => {
  const up = await signUp(server);
  let res = await raw(server, "POST", "/delete-user", { json: { password: "wrong-password" }, origin: true, cookie: up.cookie });
  expectError(res, 400, "INVALID_PASSWORD", "Invalid password", server);
  assert.ok(userRow(server, up.user.id));
  res = await raw(server, "POST", "/delete-user", { json: { password: PASSWORD }, origin: true, cookie: up.cookie });
  expectOk(res, server);
  assert.deepEqual(res.json, { success: true, message: "User deleted" });
  expectClearingCookies(res);
  assert.equal(userRow(server, up.user.id), undefined, "user deleted");
  assert.equal(sessionsOf(server, up.user.id).length, 0, "sessions deleted");
  assert.equal(accountsOf(server, up.user.id).length, 0, "accounts deleted");
  const gs = await getSession(server, { cookie: up.cookie });
  assert.equal(gs.text.trim(), "null");
  expectClearingCookies(gs);
  const none = await raw(server, "POST", "/delete-user", { json: {}, origin: true });
  expectError(none, 401, "UNAUTHORIZED", "Unauthorized", server);
});

test("delete-user via client by an anonymous user without password", T, async () => {
  const { client, jar } = cookieClient(server);
  const anon = expectClientOk(await client.signIn.anonymous(), server);
  assert.equal(anon.user.isAnonymous, true);
  const r = expectClientOk(await client.deleteUser({}), server);
  assert.deepEqual(r, { success: true, message: "User deleted" });
  assert.equal(jar.size, 0);
  assert.equal(userRow(server, anon.user.id), undefined);
});

test("list-accounts: credential account for a password user", T, async () => {
  const up = await signUp(server);
  const res = await raw(server, "GET", "/list-accounts", { cookie: up.cookie });
  expectOk(res, server);
  assert.equal(res.json.length, 1);
  assert.equal(res.json[0].providerId, "credential");
  assert.equal(res.json[0].accountId, up.user.id);
  assert.equal(res.json[0].userId, up.user.id);
  assert.equal(res.json[0].password, undefined, "no password");
  assert.deepEqual(res.json[0].scopes, []);
});

test("cookie signature is HMAC-SHA256 with the configured secret", T, async () => {
  const anon = await signInAnonymous(server);
  const c = sessionSetCookie(anon.res);
  assert.equal(c.value, encodeURIComponent(sign(anon.token, SECRET)));
  assert.equal(anon.signed, sign(anon.token, SECRET));
  // a cookie we sign ourselves is accepted
  const gs = await getSession(server, { cookie: `${SESSION_COOKIE}=${signedCookieValue(anon.token)}` });
  assert.equal(gs.json?.session?.token, anon.token, describe(gs, server));
  // signed with another secret → treated as absent
  const wrong = await getSession(server, { cookie: `${SESSION_COOKIE}=${signedCookieValue(anon.token, "x".repeat(40))}` });
  assert.equal(wrong.text.trim(), "null");
  expectNoCookies(wrong);
  void CLEARING_COOKIES;
});
