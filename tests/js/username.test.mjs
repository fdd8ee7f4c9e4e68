// Username plugin (endpoints.md §1, §9, §19; transcript 05): the official client with
// usernameClient() — signUp.email with username, signIn.username, isUsernameAvailable,
// updateUser — plus raw HTTP for exact statuses, and the anonymous link through
// sign-up/email with a username and sign-in/username.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createAuthClient } from "better-auth/client";
import { anonymousClient, usernameClient } from "better-auth/client/plugins";
import {
  T, PASSWORD, SESSION_COOKIE, DONT_REMEMBER_COOKIE, startServer, raw, CookieJar, sign, signedCookieValue,
  expectError, expectOk, expectSessionCookie, expectClearingCookies, expectNoCookies,
  expectClientError, expectClientOk, expectUser, signUp, signInAnonymous, getSession,
  uniqueEmail, userRow, sessionsOf, asBool, describe, sessionSetCookie, sessionCookieHeader,
} from "./harness.mjs";

let server;
before(async () => { server = await startServer({ tag: "username" }); });
after(async () => { await server?.stop(); });

let nameCounter = 0;
/** A fresh valid username (≤ 30 chars, [A-Za-z0-9_.]), mixed case. */
function uniqueUsername(tag = "User") {
  return `${tag}_${nameCounter++}_${randomBytes(4).toString("hex")}`;
}

/** The official client in cookie-jar mode with usernameClient() (harness' cookieClient has only anonymousClient). */
function usernameCookieClient(s, { jar = new CookieJar() } = {}) {
  const log = [];
  const customFetchImpl = async (input, init) => {
    const headers = new Headers(init?.headers ?? {});
    const cookie = jar.header();
    if (cookie) headers.set("cookie", cookie); else headers.delete("cookie");
    headers.set("origin", s.origin);
    const url = typeof input === "string" ? input : input.toString();
    const res = await fetch(url, { method: init?.method ?? "GET", headers, body: init?.body ?? undefined, signal: init?.signal, redirect: "manual" });
    const setCookies = res.headers.getSetCookie();
    jar.store(setCookies);
    log.push({ method: init?.method ?? "GET", url, status: res.status, setCookies, headers: res.headers });
    return res;
  };
  const client = createAuthClient({
    baseURL: s.base,
    plugins: [anonymousClient(), usernameClient()],
    fetchOptions: { customFetchImpl },
  });
  return { client, jar, log, last: () => log[log.length - 1] };
}

/** The official client in bearer mode with usernameClient(). */
function usernameBearerClient(s) {
  const state = { token: null };
  state.client = createAuthClient({
    baseURL: s.base,
    plugins: [anonymousClient(), usernameClient()],
    fetchOptions: {
      customFetchImpl: async (input, init) => {
        const headers = new Headers(init?.headers ?? {});
        headers.delete("cookie");
        const url = typeof input === "string" ? input : input.toString();
        return fetch(url, { method: init?.method ?? "GET", headers, body: init?.body ?? undefined, signal: init?.signal, redirect: "manual" });
      },
      auth: { type: "Bearer", token: () => state.token ?? undefined },
      onSuccess: (ctx) => {
        const t = ctx.response.headers.get("set-auth-token");
        if (t) state.token = t;
      },
    },
  });
  return state;
}

function post(p, json, opts = {}) {
  return raw(server, "POST", p, { json, origin: true, ...opts });
}

async function signUpWithUsername(extra, opts = {}) {
  return signUp(server, { name: opts.name ?? "Named", extra, cookie: opts.cookie, bearer: opts.bearer });
}

/** The guest is gone: no user row, no sessions, old credential → null + clearing cookies. */
async function expectGuestGone(anon, how = { cookie: anon.cookie }) {
  assert.equal(userRow(server, anon.user.id), undefined, "anonymous user deleted");
  assert.equal(sessionsOf(server, anon.user.id).length, 0, "anonymous sessions deleted");
  const gs = await getSession(server, how);
  expectOk(gs, server);
  assert.equal(gs.text.trim(), "null", `old anonymous credential must be dead; got ${describe(gs, server)}`);
  expectClearingCookies(gs);
}

async function expectGuestIntact(anon) {
  const row = userRow(server, anon.user.id);
  assert.ok(row, "guest user still exists");
  assert.equal(asBool(row.isAnonymous), true);
  const gs = await getSession(server, { cookie: anon.cookie });
  expectOk(gs, server);
  assert.equal(gs.json?.user?.id, anon.user.id, `guest session still valid; got ${describe(gs, server)}`);
  assert.equal(gs.json.user.isAnonymous, true);
  expectNoCookies(gs);
}

// ---------------------------------------------------------------------------
// Official client
// ---------------------------------------------------------------------------

test("official client: isUsernameAvailable → signUp.email with username → signIn.username → updateUser", T, async () => {
  const { client, jar } = usernameCookieClient(server);
  const username = uniqueUsername("Carol");
  const lower = username.toLowerCase();

  assert.deepEqual(expectClientOk(await client.isUsernameAvailable({ username }), server), { available: true });
  const email = uniqueEmail("carol");
  const up = expectClientOk(await client.signUp.email({ name: "Carol", email, password: PASSWORD, username }), server);
  assert.deepEqual(Object.keys(up).sort(), ["token", "user"]);
  expectUser(up.user, { name: "Carol", email, username: lower, displayUsername: username, isAnonymous: false });
  const row = userRow(server, up.user.id);
  assert.equal(row.username, lower, "stored lower-cased");
  assert.equal(row.displayUsername, username, "displayUsername as typed");
  assert.deepEqual(expectClientOk(await client.isUsernameAvailable({ username: username.toUpperCase() }), server),
    { available: false });

  expectClientOk(await client.signOut(), server);
  assert.equal(jar.get(SESSION_COOKIE), undefined);
  const signedIn = expectClientOk(await client.signIn.username({ username: username.toUpperCase(), password: PASSWORD }), server);
  assert.equal(signedIn.redirect, false);
  assert.equal(signedIn.url, undefined);
  expectUser(signedIn.user, { id: up.user.id, username: lower, displayUsername: username });
  assert.equal(jar.get(SESSION_COOKIE), signedCookieValue(signedIn.token));
  let s = expectClientOk(await client.getSession(), server);
  assert.equal(s.user.username, lower);
  assert.equal(s.user.displayUsername, username);

  const renamed = uniqueUsername("Caro");
  assert.deepEqual(expectClientOk(await client.updateUser({ username: renamed }), server), { status: true });
  s = expectClientOk(await client.getSession({ query: { disableCookieCache: true } }), server);
  assert.equal(s.user.username, renamed.toLowerCase());
  assert.equal(s.user.displayUsername, username, "displayUsername untouched when only username changes");
  assert.deepEqual(expectClientOk(await client.isUsernameAvailable({ username }), server), { available: true }, "old name freed");

  expectClientOk(await client.updateUser({ displayUsername: "Queen Carol" }), server);
  s = expectClientOk(await client.getSession(), server);
  assert.equal(s.user.username, renamed.toLowerCase());
  assert.equal(s.user.displayUsername, "Queen Carol");
});

test("official client: errors carry status, code and message", T, async () => {
  const taken = uniqueUsername("Taken");
  await signUpWithUsername({ username: taken });
  const { client, jar } = usernameCookieClient(server);

  expectClientError(await client.signIn.username({ username: taken, password: "wrong-password" }),
    401, "INVALID_USERNAME_OR_PASSWORD", "Invalid username or password");
  expectClientError(await client.signIn.username({ username: "a!", password: PASSWORD }),
    422, "USERNAME_TOO_SHORT", "Username is too short");
  expectClientError(await client.isUsernameAvailable({ username: "bad name!" }),
    422, "INVALID_USERNAME", "Username is invalid");
  expectClientError(await client.signUp.email({ name: "X", email: uniqueEmail("x"), password: PASSWORD, username: taken.toUpperCase() }),
    400, "USERNAME_IS_ALREADY_TAKEN", "Username is already taken. Please try another.");
  expectClientError(await client.signUp.email({ name: "X", email: uniqueEmail("x"), password: PASSWORD, username: "x".repeat(31) }),
    400, "USERNAME_TOO_LONG", "Username is too long");
  assert.equal(jar.size, 0, "no cookies from failures");

  expectClientOk(await client.signUp.email({ name: "Y", email: uniqueEmail("y"), password: PASSWORD, username: uniqueUsername("Y") }), server);
  expectClientError(await client.updateUser({ username: taken }), 400, "USERNAME_IS_ALREADY_TAKEN");
  expectClientError(await client.updateUser({ username: "no spaces" }), 400, "INVALID_USERNAME");
});

test("official client in bearer mode: signIn.username switches the token", T, async () => {
  const username = uniqueUsername("Bear");
  const owner = await signUpWithUsername({ username });
  const b = usernameBearerClient(server);
  const data = expectClientOk(await b.client.signIn.username({ username, password: PASSWORD }), server);
  assert.equal(data.user.id, owner.user.id);
  assert.equal(b.token, sign(data.token));
  const s = expectClientOk(await b.client.getSession(), server);
  assert.equal(s.user.username, username.toLowerCase());
});

// ---------------------------------------------------------------------------
// Raw HTTP: exact statuses and bodies (transcript 05)
// ---------------------------------------------------------------------------

test("is-username-available: 200 {available}, 422 for invalid names, 400 VALIDATION_ERROR without the field", T, async () => {
  const username = uniqueUsername("Avail");
  let res = await post("/is-username-available", { username });
  expectOk(res, server);
  assert.equal(res.text, `{"available":true}`);
  await signUpWithUsername({ username });
  res = await post("/is-username-available", { username: username.toUpperCase() });
  assert.equal(res.text, `{"available":false}`);
  expectError(await post("/is-username-available", { username: "ab" }), 422, "USERNAME_TOO_SHORT", "Username is too short");
  expectError(await post("/is-username-available", { username: "bad name!" }), 422, "INVALID_USERNAME", "Username is invalid");
  expectError(await post("/is-username-available", { username: "y".repeat(31) }), 422, "USERNAME_TOO_LONG", "Username is too long");
  expectError(await post("/is-username-available", { username: "" }), 422, "INVALID_USERNAME");
  expectError(await post("/is-username-available", {}), 400, "VALIDATION_ERROR",
    "[body.username] Invalid input: expected string, received undefined");
});

test("sign-up/email username rules: 400 codes, lower-case storage, displayUsername copies", T, async () => {
  const username = uniqueUsername("Mixed");
  const carol = await signUpWithUsername({ username });
  expectUser(carol.user, { username: username.toLowerCase(), displayUsername: username });

  const dup = await post("/sign-up/email", { name: "C2", email: uniqueEmail("c2"), password: PASSWORD, username: username.toLowerCase() });
  expectError(dup, 400, "USERNAME_IS_ALREADY_TAKEN", "Username is already taken. Please try another.");
  expectNoCookies(dup);
  expectError(await post("/sign-up/email", { name: "C2", email: uniqueEmail("c2"), password: PASSWORD, username: "no spaces" }),
    400, "INVALID_USERNAME", "Username is invalid");
  expectError(await post("/sign-up/email", { name: "C2", email: uniqueEmail("c2"), password: PASSWORD, username: "abcdefghijabcdefghijabcdefghij1" }),
    400, "USERNAME_TOO_LONG", "Username is too long");
  expectError(await post("/sign-up/email", { name: "C2", email: uniqueEmail("c2"), password: PASSWORD, username: "ab" }),
    400, "USERNAME_TOO_SHORT", "Username is too short");

  // displayUsername alone, valid as a username → copied into username.
  const display = uniqueUsername("Dave.D");
  const dave = await signUpWithUsername({ displayUsername: display });
  expectUser(dave.user, { username: display.toLowerCase(), displayUsername: display });
  // displayUsername alone, not a valid username → no username.
  const erin = await signUpWithUsername({ displayUsername: "Erin the Great!" });
  assert.equal(erin.user.username ?? null, null, `no username; got ${JSON.stringify(erin.user)}`);
  assert.equal(erin.user.displayUsername, "Erin the Great!");
  // Without the fields: none.
  const plain = await signUp(server, {});
  assert.equal(plain.user.username ?? null, null);
  assert.equal(plain.user.displayUsername ?? null, null);
});

test("sign-in/username: statuses 200/401/422/400 exactly as the reference", T, async () => {
  const username = uniqueUsername("Sig");
  const owner = await signUpWithUsername({ username });

  const ok = await post("/sign-in/username", { username: username.toUpperCase(), password: PASSWORD });
  expectOk(ok, server);
  assert.deepEqual(Object.keys(ok.json), ["redirect", "token", "user"]);
  assert.equal(ok.json.redirect, false);
  expectUser(ok.json.user, { id: owner.user.id, username: username.toLowerCase(), displayUsername: username });
  expectSessionCookie(ok, ok.json.token);
  assert.equal(ok.headers.location, undefined);

  const bad = { message: "Invalid username or password", code: "INVALID_USERNAME_OR_PASSWORD" };
  for (const body of [
    { username, password: "wrong-password" },
    { username: "nobody_here_at_all", password: PASSWORD },
    { username, password: "" },
    { username: "", password: PASSWORD },
  ]) {
    const res = await post("/sign-in/username", body);
    expectError(res, 401, bad.code, bad.message);
    expectNoCookies(res);
  }
  expectError(await post("/sign-in/username", { username: "a!", password: PASSWORD }), 422, "USERNAME_TOO_SHORT", "Username is too short");
  expectError(await post("/sign-in/username", { username: "bad name", password: PASSWORD }), 422, "INVALID_USERNAME");
  expectError(await post("/sign-in/username", { username: "z".repeat(31), password: PASSWORD }), 422, "USERNAME_TOO_LONG");
  expectError(await post("/sign-in/username", { username, password: "p".repeat(129) }), 400, "PASSWORD_TOO_LONG");
  expectError(await post("/sign-in/username", { username }), 400, "VALIDATION_ERROR",
    "[body.password] Invalid input: expected string, received undefined");
  expectError(await post("/sign-in/username", { username, password: PASSWORD, callbackURL: "https://evil.example/x" }),
    403, "INVALID_CALLBACK_URL");
  const form = await raw(server, "POST", "/sign-in/username", { form: { username, password: PASSWORD }, origin: true });
  assert.equal(form.status, 415, describe(form, server));
});

test("sign-in/username with callbackURL: 200, redirect:true, url, location header; rememberMe:false", T, async () => {
  const username = uniqueUsername("Cb");
  await signUpWithUsername({ username });
  const res = await post("/sign-in/username", { username, password: PASSWORD, callbackURL: "/home" });
  expectOk(res, server);
  assert.deepEqual(Object.keys(res.json), ["redirect", "token", "url", "user"]);
  assert.equal(res.json.redirect, true);
  assert.equal(res.json.url, "/home");
  assert.equal(res.headers.location, "/home");
  expectSessionCookie(res, res.json.token);

  const short = await post("/sign-in/username", { username, password: PASSWORD, rememberMe: false });
  expectOk(short, server);
  expectSessionCookie(short, short.json.token, { maxAge: null });
  assert.ok(short.setCookies.some((c) => c.startsWith(`${DONT_REMEMBER_COOKIE}=`)), JSON.stringify(short.setCookies));
});

test("update-user: taken by another → 400, own name ok, displayUsername untouched, re-sets the cookie", T, async () => {
  const other = uniqueUsername("Other");
  await signUpWithUsername({ username: other });
  const mine = uniqueUsername("Mine");
  const me = await signUpWithUsername({ username: mine });

  const taken = await post("/update-user", { username: other }, { cookie: me.cookie });
  expectError(taken, 400, "USERNAME_IS_ALREADY_TAKEN", "Username is already taken. Please try another.");
  expectNoCookies(taken);
  const same = await post("/update-user", { username: mine.toUpperCase() }, { cookie: me.cookie });
  expectOk(same, server);
  assert.equal(same.text, `{"status":true}`);
  expectSessionCookie(same, me.token);

  const next = uniqueUsername("Next");
  expectOk(await post("/update-user", { username: next }, { cookie: me.cookie }), server);
  const gs = await getSession(server, { cookie: me.cookie });
  assert.equal(gs.json.user.username, next.toLowerCase());
  assert.equal(gs.json.user.displayUsername, mine);
  expectError(await post("/update-user", { username: "ab" }, { cookie: me.cookie }), 400, "USERNAME_TOO_SHORT");
  expectError(await post("/update-user", { username: "no spaces" }, { cookie: me.cookie }), 400, "INVALID_USERNAME");
  expectError(await post("/update-user", { username: next }), 401, "UNAUTHORIZED");
});

// ---------------------------------------------------------------------------
// Anonymous link
// ---------------------------------------------------------------------------

test("guest → signUp.email with username (official client): guest deleted, account has the username", T, async () => {
  const { client, jar } = usernameCookieClient(server);
  const anon = expectClientOk(await client.signIn.anonymous(), server);
  const anonCookie = `${SESSION_COOKIE}=${jar.get(SESSION_COOKIE)}`;
  const username = uniqueUsername("Guest2Real");
  const up = expectClientOk(await client.signUp.email({ name: "Real", email: uniqueEmail("real"), password: PASSWORD, username }), server);
  expectUser(up.user, { isAnonymous: false, username: username.toLowerCase(), displayUsername: username });
  assert.notEqual(up.user.id, anon.user.id);
  assert.equal(jar.get(SESSION_COOKIE), signedCookieValue(up.token));
  await expectGuestGone({ user: anon.user, cookie: anonCookie });
  const s = expectClientOk(await client.getSession(), server);
  assert.equal(s.user.id, up.user.id);
  assert.equal(s.user.username, username.toLowerCase());
});

test("guest → signIn.username into an EXISTING account (official client, cookie): guest deleted", T, async () => {
  const username = uniqueUsername("Existing");
  const owner = await signUpWithUsername({ username });
  const { client, jar } = usernameCookieClient(server);
  const anon = expectClientOk(await client.signIn.anonymous(), server);
  const anonCookie = `${SESSION_COOKIE}=${jar.get(SESSION_COOKIE)}`;
  const data = expectClientOk(await client.signIn.username({ username, password: PASSWORD }), server);
  assert.equal(data.redirect, false);
  expectUser(data.user, { id: owner.user.id, isAnonymous: false, username: username.toLowerCase() });
  await expectGuestGone({ user: anon.user, cookie: anonCookie });
  assert.equal(expectClientOk(await client.getSession(), server).user.id, owner.user.id);
  assert.ok(userRow(server, owner.user.id), "existing account untouched");
});

test("guest → sign-in/username raw (cookie and bearer): one session cookie, guest deleted", T, async () => {
  const username = uniqueUsername("RawLink");
  const owner = await signUpWithUsername({ username });

  const anon = await signInAnonymous(server);
  const res = await post("/sign-in/username", { username, password: PASSWORD }, { cookie: anon.cookie });
  expectOk(res, server);
  expectUser(res.json.user, { id: owner.user.id });
  expectSessionCookie(res, res.json.token);
  assert.equal(res.setCookies.length, 1, `one Set-Cookie; got ${JSON.stringify(res.setCookies)}`);
  await expectGuestGone(anon);

  const anon2 = await signInAnonymous(server);
  const viaBearer = await raw(server, "POST", "/sign-in/username", { json: { username, password: PASSWORD }, bearer: anon2.signed });
  expectOk(viaBearer, server);
  assert.equal(viaBearer.headers["set-auth-token"], sign(viaBearer.json.token));
  await expectGuestGone(anon2, { bearer: anon2.signed });
  const gs = await getSession(server, { cookie: sessionCookieHeader(sessionSetCookie(viaBearer).value) });
  assert.equal(gs.json?.user?.id, owner.user.id);
});

test("failed sign-in/username or username sign-up while anonymous leaves the guest intact", T, async () => {
  const username = uniqueUsername("Keep");
  await signUpWithUsername({ username });
  const anon = await signInAnonymous(server);
  for (const [body, status, code] of [
    [{ username, password: "wrong-password" }, 401, "INVALID_USERNAME_OR_PASSWORD"],
    [{ username: "nobody_here_at_all", password: PASSWORD }, 401, "INVALID_USERNAME_OR_PASSWORD"],
    [{ username: "a!", password: PASSWORD }, 422, "USERNAME_TOO_SHORT"],
  ]) {
    const res = await post("/sign-in/username", body, { cookie: anon.cookie });
    expectError(res, status, code);
    expectNoCookies(res);
  }
  const email = uniqueEmail("never");
  const dup = await post("/sign-up/email", { name: "N", email, password: PASSWORD, username: username.toUpperCase() }, { cookie: anon.cookie });
  expectError(dup, 400, "USERNAME_IS_ALREADY_TAKEN");
  expectNoCookies(dup);
  assert.equal(server.sql(`SELECT count(*) AS n FROM "user" WHERE email = '${email}'`)[0].n, 0);
  await expectGuestIntact(anon);
});
