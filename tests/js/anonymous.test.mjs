// Anonymous plugin: sign-in/anonymous, delete-anonymous-user, options via
// flags and config file.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  T, PASSWORD, SESSION_COOKIE, ANON_EMAIL_RE, ID_RE, startServer, raw, cookieClient, bearerClient,
  sign, signedCookieValue, expectError, expectOk, expectSessionCookie, expectClearingCookies,
  expectNoCookies, expectClientError, expectClientOk, expectUser, signUp, signInAnonymous,
  getSession, uniqueEmail, userRow, sessionsOf, accountsOf, asBool, describe,
} from "./harness.mjs";

let server;
before(async () => { server = await startServer({ tag: "anon" }); });
after(async () => { await server?.stop(); });

const ANON_MSG = "Anonymous users cannot sign in again anonymously";

test("signIn.anonymous (official client) → {token,user}, isAnonymous, placeholder email, DB rows", T, async () => {
  const { client, jar } = cookieClient(server);
  const data = expectClientOk(await client.signIn.anonymous(), server);
  assert.deepEqual(Object.keys(data).sort(), ["token", "user"], "only token and user (no session)");
  assert.match(data.token, ID_RE);
  expectUser(data.user, { name: "Anonymous", isAnonymous: true, emailVerified: false });
  assert.match(data.user.email, ANON_EMAIL_RE);
  assert.equal(jar.get(SESSION_COOKIE), signedCookieValue(data.token));
  const row = userRow(server, data.user.id);
  assert.ok(row);
  assert.equal(asBool(row.isAnonymous), true);
  assert.equal(row.email, data.user.email);
  assert.equal(accountsOf(server, data.user.id).length, 0, "anonymous users have no account row");
  assert.equal(sessionsOf(server, data.user.id).length, 1);
  const s = expectClientOk(await client.getSession(), server);
  assert.equal(s.user.id, data.user.id);
  assert.equal(s.user.isAnonymous, true);
  assert.equal(s.session.token, data.token);
});

test("sign-in/anonymous raw: exact cookie, set-auth-token, works with no body/no Content-Type", T, async () => {
  const res = await raw(server, "POST", "/sign-in/anonymous", { origin: true });
  expectOk(res, server);
  expectSessionCookie(res, res.json.token);
  assert.equal(res.setCookies.length, 1);
  const res2 = await raw(server, "POST", "/sign-in/anonymous", { json: {}, origin: true });
  expectOk(res2, server);
  assert.notEqual(res2.json.user.id, res.json.user.id, "each call creates a new user");
  assert.notEqual(res2.json.user.email, res.json.user.email);
});

test("anonymous again while anonymous → 400 ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY (cookie and bearer)", T, async () => {
  const anon = await signInAnonymous(server);
  let res = await raw(server, "POST", "/sign-in/anonymous", { json: {}, origin: true, cookie: anon.cookie });
  expectError(res, 400, "ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY", ANON_MSG, server);
  expectNoCookies(res);
  res = await raw(server, "POST", "/sign-in/anonymous", { json: {}, bearer: anon.signed });
  expectError(res, 400, "ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY", ANON_MSG, server);
  // the existing anonymous session is untouched
  const gs = await getSession(server, { cookie: anon.cookie });
  assert.equal(gs.json?.session?.token, anon.token);
  assert.equal(sessionsOf(server, anon.user.id).length, 1);
  // the official clients see the same error
  const { client, jar } = cookieClient(server);
  expectClientOk(await client.signIn.anonymous(), server);
  const before = jar.get(SESSION_COOKIE);
  expectClientError(await client.signIn.anonymous(), 400, "ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY", ANON_MSG);
  assert.equal(jar.get(SESSION_COOKIE), before, "cookie unchanged");
  const b = bearerClient(server);
  expectClientOk(await b.client.signIn.anonymous(), server);
  assert.ok(b.token, "bearer token captured from set-auth-token");
  expectClientError(await b.client.signIn.anonymous(), 400, "ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY", ANON_MSG);
});

test("anonymous sign-in while signed in as a normal user → new anonymous user, no link", T, async () => {
  const up = await signUp(server, { name: "Normal" });
  const res = await raw(server, "POST", "/sign-in/anonymous", { origin: true, cookie: up.cookie });
  expectOk(res, server);
  expectUser(res.json.user, { isAnonymous: true, name: "Anonymous" });
  assert.notEqual(res.json.user.id, up.user.id);
  expectSessionCookie(res, res.json.token);
  // the normal user and its session are intact
  const gs = await getSession(server, { cookie: up.cookie });
  assert.equal(gs.json?.user?.id, up.user.id);
  assert.equal(asBool(userRow(server, up.user.id).isAnonymous), false);
  assert.ok(userRow(server, res.json.user.id), "new anonymous user exists");
});

test("deleteAnonymousUser → {success:true} + clearing cookies; user and sessions gone; old cookie → null + clearing", T, async () => {
  const anon = await signInAnonymous(server);
  const res = await raw(server, "POST", "/delete-anonymous-user", { json: {}, origin: true, cookie: anon.cookie });
  expectOk(res, server);
  assert.deepEqual(res.json, { success: true });
  expectClearingCookies(res);
  assert.equal(userRow(server, anon.user.id), undefined);
  assert.equal(sessionsOf(server, anon.user.id).length, 0);
  const gs = await getSession(server, { cookie: anon.cookie });
  assert.equal(gs.text.trim(), "null");
  expectClearingCookies(gs);
  // official client
  const { client, jar } = cookieClient(server);
  const a = expectClientOk(await client.signIn.anonymous(), server);
  assert.deepEqual(expectClientOk(await client.deleteAnonymousUser(), server), { success: true });
  assert.equal(jar.size, 0, "jar emptied by the clearing cookies");
  assert.equal(userRow(server, a.user.id), undefined);
});

test("delete-anonymous-user: real user → 403 USER_IS_NOT_ANONYMOUS; no session → 401", T, async () => {
  const up = await signUp(server);
  let res = await raw(server, "POST", "/delete-anonymous-user", { json: {}, origin: true, cookie: up.cookie });
  expectError(res, 403, "USER_IS_NOT_ANONYMOUS", "User is not anonymous", server);
  assert.ok(userRow(server, up.user.id), "real user kept");
  res = await raw(server, "POST", "/delete-anonymous-user", { json: {}, origin: true });
  expectError(res, 401, "UNAUTHORIZED", "Unauthorized", server);
  const { client } = cookieClient(server);
  expectClientError(await client.deleteAnonymousUser(), 401, "UNAUTHORIZED");
});

test("anonymous user: update-user allowed (stays anonymous), change-password → CREDENTIAL_ACCOUNT_NOT_FOUND, list-accounts []", T, async () => {
  const anon = await signInAnonymous(server);
  let res = await raw(server, "POST", "/update-user", { json: { name: "Still Anon" }, origin: true, cookie: anon.cookie });
  expectOk(res, server);
  assert.deepEqual(res.json, { status: true });
  expectSessionCookie(res, anon.token);
  const gs = await getSession(server, { cookie: anon.cookie });
  assert.equal(gs.json.user.name, "Still Anon");
  assert.equal(gs.json.user.isAnonymous, true);
  res = await raw(server, "POST", "/change-password", {
    json: { currentPassword: PASSWORD, newPassword: "password456" }, origin: true, cookie: anon.cookie,
  });
  expectError(res, 400, "CREDENTIAL_ACCOUNT_NOT_FOUND", "Credential account not found", server);
  res = await raw(server, "GET", "/list-accounts", { cookie: anon.cookie });
  expectOk(res, server);
  assert.deepEqual(res.json, []);
});

test("sign-out of an anonymous user deletes only the session (user row kept)", T, async () => {
  const anon = await signInAnonymous(server);
  const res = await raw(server, "POST", "/sign-out", { json: {}, origin: true, cookie: anon.cookie });
  expectOk(res, server);
  expectClearingCookies(res);
  assert.ok(userRow(server, anon.user.id), "anonymous user row kept");
  assert.equal(sessionsOf(server, anon.user.id).length, 0);
});

test("sign-in/anonymous with a cookie but untrusted Origin → 403 INVALID_ORIGIN; bearer-only needs no Origin", T, async () => {
  let res = await raw(server, "POST", "/sign-in/anonymous", { cookie: "foo=bar", origin: "https://evil.example" });
  expectError(res, 403, "INVALID_ORIGIN", "Invalid origin", server);
  res = await raw(server, "POST", "/sign-in/anonymous", { json: {} });
  expectOk(res, server);
  assert.equal(res.json.user.isAnonymous, true);
});

// --- options -------------------------------------------------------------------

test("flags: --anonymous-email-domain → temp-<id>@domain; --anonymous-name template with {random:N}", T, async () => {
  const s = await startServer({ tag: "anon-flags", args: ["--anonymous-email-domain", "guests.example.org", "--anonymous-name", "Guest {random:6}"] });
  try {
    const a = await signInAnonymous(s);
    const b = await signInAnonymous(s);
    for (const x of [a, b]) {
      assert.match(x.user.email, /^temp-[a-z0-9]{32}@guests\.example\.org$/, `email; got ${x.user.email}`);
      assert.match(x.user.name, /^Guest [a-z0-9]{6}$/, `name; got ${x.user.name}`);
      assert.equal(x.user.isAnonymous, true);
    }
    assert.notEqual(a.user.name, b.user.name, "{random:6} differs per user");
    assert.equal(userRow(s, a.user.id).name, a.user.name);
  } finally { await s.stop(); }
});

test("flags: --anonymous-email template with {uuid} wins over the domain; --anonymous-name with {id}", T, async () => {
  const s = await startServer({
    tag: "anon-flags2",
    args: ["--anonymous-email", "guest-{uuid}@example.com", "--anonymous-email-domain", "ignored.example", "--anonymous-name", "User {id}"],
  });
  try {
    const a = await signInAnonymous(s);
    assert.match(a.user.email, /^guest-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}@example\.com$/, `email; got ${a.user.email}`);
    assert.match(a.user.name, /^User [A-Za-z0-9]{32}$/, `name; got ${a.user.name}`);
    const b = await signInAnonymous(s);
    assert.notEqual(a.user.email, b.user.email);
  } finally { await s.stop(); }
});

test("config file: anonymous.email_domain_name / generate_name / generate_random_email; flags override config", T, async () => {
  const s = await startServer({
    tag: "anon-cfg",
    config: { anonymous: { email_domain_name: "cfg.example", generate_name: "Cfg {random:4}" } },
  });
  try {
    const a = await signInAnonymous(s);
    assert.match(a.user.email, /^temp-[a-z0-9]{32}@cfg\.example$/, `email; got ${a.user.email}`);
    assert.match(a.user.name, /^Cfg [a-z0-9]{4}$/, `name; got ${a.user.name}`);
  } finally { await s.stop(); }
  const s2 = await startServer({
    tag: "anon-cfg2",
    config: { anonymous: { generate_random_email: "g-{random:10}@cfg.example", generate_name: "From Config" } },
    args: ["--anonymous-name", "From Flag"],
  });
  try {
    const a = await signInAnonymous(s2);
    assert.match(a.user.email, /^g-[a-z0-9]{10}@cfg\.example$/, `email; got ${a.user.email}`);
    assert.equal(a.user.name, "From Flag", "flag overrides config");
  } finally { await s2.stop(); }
});

test("generate_random_email producing an invalid email → 400 INVALID_EMAIL_FORMAT (or refused at start-up)", T, async () => {
  let s;
  try {
    s = await startServer({ tag: "anon-bademail", args: ["--anonymous-email", "not an email {random:4}"] });
  } catch (e) {
    // Refusing the configuration at start-up is acceptable too — but it must say why.
    assert.match(String(e.message), /exited before listening/);
    assert.match(String(e.message), /email/i, "start-up error mentions the email option");
    return;
  }
  try {
    const res = await raw(s, "POST", "/sign-in/anonymous", { origin: true });
    expectError(res, 400, "INVALID_EMAIL_FORMAT", "Email was not generated in a valid format", s);
    assert.equal(s.sql(`SELECT count(*) AS n FROM "user"`)[0].n, 0, "no user created");
  } finally { await s.stop(); }
});

test("--disable-delete-anonymous-user: delete-anonymous-user → 400 DELETE_ANONYMOUS_USER_DISABLED (before the anonymity check)", T, async () => {
  const s = await startServer({ tag: "anon-nodel", args: ["--disable-delete-anonymous-user"] });
  try {
    const anon = await signInAnonymous(s);
    let res = await raw(s, "POST", "/delete-anonymous-user", { json: {}, origin: true, cookie: anon.cookie });
    expectError(res, 400, "DELETE_ANONYMOUS_USER_DISABLED", "Deleting anonymous users is disabled", s);
    assert.ok(userRow(s, anon.user.id), "guest kept");
    const up = await signUp(s);
    res = await raw(s, "POST", "/delete-anonymous-user", { json: {}, origin: true, cookie: up.cookie });
    expectError(res, 400, "DELETE_ANONYMOUS_USER_DISABLED", undefined, s);
  } finally { await s.stop(); }
});

test("config disable_delete_anonymous_user:true: link keeps the guest; old cookie still valid; anonymous again → 400", T, async () => {
  const s = await startServer({ tag: "anon-nodel-cfg", config: { anonymous: { disable_delete_anonymous_user: true } } });
  try {
    const anon = await signInAnonymous(s);
    const email = uniqueEmail("jay");
    const up = await signUp(s, { name: "Jay", email, cookie: anon.cookie });
    assert.equal(up.user.isAnonymous, false);
    assert.notEqual(up.user.id, anon.user.id);
    // guest kept, its session still valid
    assert.ok(userRow(s, anon.user.id), "guest user kept");
    const gs = await getSession(s, { cookie: anon.cookie });
    expectOk(gs, s);
    assert.equal(gs.json?.user?.id, anon.user.id, describe(gs, s));
    assert.equal(gs.json.user.isAnonymous, true);
    expectNoCookies(gs);
    // new session works
    const gs2 = await getSession(s, { cookie: up.cookie });
    assert.equal(gs2.json?.user?.id, up.user.id);
    const again = await raw(s, "POST", "/sign-in/anonymous", { origin: true, cookie: anon.cookie });
    expectError(again, 400, "ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY", ANON_MSG, s);
    const del = await raw(s, "POST", "/delete-anonymous-user", { json: {}, origin: true, cookie: anon.cookie });
    expectError(del, 400, "DELETE_ANONYMOUS_USER_DISABLED", "Deleting anonymous users is disabled", s);
    void sign;
  } finally { await s.stop(); }
});
