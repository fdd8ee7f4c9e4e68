// Magic link with the official client (magicLinkClient): request, verify (JSON and the
// mailed 302), single use, expiry, redirect checks, unknown tokens, the unverified-user
// rule, a guest linking into a new and an existing account (cookie and bearer), and a
// guest that did not ask for the link (login CSRF) not being linked.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  T, PASSWORD, SESSION_COOKIE, raw, sign, expectOk, expectError, expectClientOk, expectClientError,
  expectUser, expectSession, signUp, signInAnonymous, getSession, uniqueEmail, userRow, userByEmail,
  sessionsOf, asBool, describe, sleep, sessionCookieHeader, sessionSetCookie, q,
} from "./harness.mjs";
import { startMailServer, mlCookieClient, mlBearerClient, relative } from "./mail-helpers.mjs";

let server;
before(async () => { server = await startMailServer({ tag: "magic" }); });
after(async () => { await server?.stop(); });

/** Request a link with the official client; returns the outbox entry. */
async function requestLink(client, body) {
  const before = server.mails().length;
  const data = expectClientOk(await client.signIn.magicLink(body), server);
  assert.deepEqual(data, { status: true });
  const mails = server.mails();
  assert.equal(mails.length, before + 1, "one mail per request, written before the response");
  return mails[mails.length - 1];
}

async function expectGuestGone(anon, how) {
  assert.equal(userRow(server, anon.user.id), undefined, "anonymous user deleted");
  assert.equal(sessionsOf(server, anon.user.id).length, 0, "anonymous sessions deleted");
  const gs = await getSession(server, how);
  assert.equal(gs.text.trim(), "null", `old guest credential is dead; got ${describe(gs, server)}`);
}

test("official client: signIn.magicLink mails a link; magicLink.verify signs a new user in (emailVerified)", T, async () => {
  const { client, jar } = mlCookieClient(server);
  const email = uniqueEmail("eve");
  const mail = await requestLink(client, { email, name: "Eve" });
  assert.equal(mail.kind, "magic-link");
  assert.equal(mail.email, email);
  assert.match(mail.token, /^[A-Za-z]{32}$/);
  assert.equal(mail.url, `${server.base}/magic-link/verify?token=${mail.token}&callbackURL=%2F`);
  assert.equal(jar.get(SESSION_COOKIE), undefined, "the request sets no session");

  const data = expectClientOk(await client.magicLink.verify({ query: { token: mail.token } }), server);
  assert.deepEqual(Object.keys(data).sort(), ["session", "token", "user"]);
  expectUser(data.user, { email, name: "Eve", emailVerified: true, isAnonymous: false });
  expectSession(data.session, { token: data.token, userId: data.user.id });
  const s = expectClientOk(await client.getSession(), server);
  assert.equal(s.user.id, data.user.id);
  assert.equal(asBool(userByEmail(server, email).emailVerified), true);
});

test("the mailed URL → 302 to newUserCallbackURL / callbackURL, with cookie and set-auth-token", T, async () => {
  const { client } = mlCookieClient(server);
  const email = uniqueEmail("frank");
  const body = { email, callbackURL: "/welcome-back", newUserCallbackURL: "/welcome-new", errorCallbackURL: "/oops" };
  let mail = await requestLink(client, body);
  assert.equal(mail.url, `${server.base}/magic-link/verify?token=${mail.token}&callbackURL=%2Fwelcome-back&newUserCallbackURL=%2Fwelcome-new&errorCallbackURL=%2Foops`);
  let res = await raw(server, "GET", relative(mail.url));
  assert.equal(res.status, 302, describe(res, server));
  assert.equal(res.headers.location, `${server.origin}/welcome-new`);
  const c = sessionSetCookie(res);
  assert.ok(c, "session cookie on the 302");
  assert.equal(res.headers["set-auth-token"], decodeURIComponent(c.value));
  assert.equal(res.text, "");
  mail = await requestLink(client, body);
  res = await raw(server, "GET", relative(mail.url));
  assert.equal(res.headers.location, `${server.origin}/welcome-back`, "an existing user goes to callbackURL");
});

test("reused token and unknown token → 302 ?error=INVALID_TOKEN, no session", T, async () => {
  const { client } = mlCookieClient(server);
  const mail = await requestLink(client, { email: uniqueEmail("reuse"), callbackURL: "/after" });
  expectOk(await raw(server, "GET", `/magic-link/verify?token=${mail.token}`), server);
  let res = await raw(server, "GET", `/magic-link/verify?token=${mail.token}`);
  assert.equal(res.status, 302);
  assert.equal(res.headers.location, `${server.origin}/?error=INVALID_TOKEN`);
  assert.deepEqual(res.setCookies, []);
  assert.equal(res.headers["set-auth-token"], undefined);
  res = await raw(server, "GET", relative(mail.url)); // with its callbackURL
  assert.equal(res.headers.location, `${server.origin}/after?error=INVALID_TOKEN`);
  res = await raw(server, "GET", "/magic-link/verify?token=nope&callbackURL=/after");
  assert.equal(res.status, 302);
  assert.equal(res.headers.location, `${server.origin}/after?error=INVALID_TOKEN`);
  const r = await client.magicLink.verify({ query: { token: "doesNotExistAtAll" } });
  assert.equal(r.data, null);
  assert.equal(r.error.status, 302, "the official client sees the error redirect");
  res = await raw(server, "GET", "/magic-link/verify");
  expectError(res, 400, "VALIDATION_ERROR", "[query.token] Invalid input: expected string, received undefined", server);
});

test("expired token (--magic-link-expires-in 1, wait 2 s) → ?error=INVALID_TOKEN, no user", T, async () => {
  const s = await startMailServer({ tag: "magic-exp", args: ["--magic-link-expires-in", "1"] });
  try {
    const { client } = mlCookieClient(s);
    const email = uniqueEmail("late");
    expectClientOk(await client.signIn.magicLink({ email, errorCallbackURL: "/expired" }), s);
    const mail = s.lastMail("magic-link");
    await sleep(2000);
    const res = await raw(s, "GET", relative(mail.url));
    assert.equal(res.status, 302);
    assert.equal(res.headers.location, `${s.origin}/expired?error=INVALID_TOKEN`);
    assert.equal(userByEmail(s, email), undefined);
  } finally { await s.stop(); }
});

test("tampered callbackURL in the mailed link → 403, and the link still works afterwards", T, async () => {
  const { client } = mlCookieClient(server);
  const mail = await requestLink(client, { email: uniqueEmail("tamper"), callbackURL: "/home" });
  const evil = encodeURIComponent("https://evil.example/steal");
  let res = await raw(server, "GET", relative(mail.url).replace("callbackURL=%2Fhome", `callbackURL=${evil}`));
  expectError(res, 403, "INVALID_CALLBACK_URL", "Invalid callbackURL", server);
  res = await raw(server, "GET", `${relative(mail.url)}&newUserCallbackURL=${evil}`);
  expectError(res, 403, "INVALID_NEW_USER_CALLBACK_URL", "Invalid newUserCallbackURL", server);
  res = await raw(server, "GET", `${relative(mail.url)}&errorCallbackURL=${evil}`);
  expectError(res, 403, "INVALID_ERROR_CALLBACK_URL", "Invalid errorCallbackURL", server);
  res = await raw(server, "GET", relative(mail.url));
  assert.equal(res.status, 302);
  assert.equal(res.headers.location, `${server.origin}/home`);
  // …and the request refuses an untrusted callbackURL outright.
  const r = await client.signIn.magicLink({ email: uniqueEmail("tamper2"), callbackURL: "https://evil.example/" });
  expectClientError(r, 403, "INVALID_CALLBACK_URL", "Invalid callbackURL");
});

test("bad input on the request: invalid email → 400, wrong Origin → 403", T, async () => {
  let res = await raw(server, "POST", "/sign-in/magic-link", { json: { email: "nope" }, origin: true });
  expectError(res, 400, "VALIDATION_ERROR", "[body.email] Invalid email address", server);
  res = await raw(server, "POST", "/sign-in/magic-link", { json: { email: uniqueEmail("o") }, origin: "https://evil.example" });
  expectError(res, 403, "INVALID_ORIGIN", "Invalid origin", server);
});

test("existing unverified user: verified by the link, old sessions revoked, unproven password removed (Better Auth: 401)", T, async () => {
  const { client } = mlCookieClient(server);
  const bob = await signUp(server, { name: "Bob" });
  const mail = await requestLink(client, { email: bob.email });
  const data = expectClientOk(await client.magicLink.verify({ query: { token: mail.token } }), server);
  expectUser(data.user, { id: bob.user.id, emailVerified: true, name: "Bob" });
  const old = await getSession(server, { cookie: bob.cookie });
  assert.equal(old.text.trim(), "null", "the session opened before the proof is revoked");
  const signIn = await raw(server, "POST", "/sign-in/email", { json: { email: bob.email, password: PASSWORD }, origin: true });
  expectError(signIn, 401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password", server);
});

test("guest (cookie) → magic link for a NEW email: linked, guest gone, account signed in", T, async () => {
  const { client, jar } = mlCookieClient(server);
  const anon = expectClientOk(await client.signIn.anonymous(), server);
  const anonCookie = `${SESSION_COOKIE}=${jar.get(SESSION_COOKIE)}`;
  const email = uniqueEmail("ivy");
  const mail = await requestLink(client, { email, name: "Ivy" });
  assert.ok(userRow(server, anon.user.id), "the request alone does not link");
  const data = expectClientOk(await client.magicLink.verify({ query: { token: mail.token } }), server);
  expectUser(data.user, { email, name: "Ivy", isAnonymous: false, emailVerified: true });
  assert.notEqual(data.user.id, anon.user.id);
  await expectGuestGone(anon, { cookie: anonCookie });
  const s = expectClientOk(await client.getSession(), server);
  assert.equal(s.user.id, data.user.id);
});

test("guest (cookie) → mailed 302 link to an EXISTING account: linked, guest gone", T, async () => {
  const carol = await signUp(server, { name: "Carol" });
  const anon = await signInAnonymous(server);
  const asked = await raw(server, "POST", "/sign-in/magic-link", { json: { email: carol.email, callbackURL: "/cart" }, origin: true, cookie: anon.cookie });
  expectOk(asked, server);
  const mail = server.lastMail("magic-link");
  const res = await raw(server, "GET", relative(mail.url), { cookie: anon.cookie });
  assert.equal(res.status, 302, describe(res, server));
  assert.equal(res.headers.location, `${server.origin}/cart`);
  const c = sessionSetCookie(res);
  const gs = await getSession(server, { cookie: sessionCookieHeader(c.value) });
  assert.equal(gs.json.user.id, carol.user.id);
  await expectGuestGone(anon, { cookie: anon.cookie });
});

test("bearer client (native app): guest → magicLink.verify switches to the account token; guest gone", T, async () => {
  const b = mlBearerClient(server, { origin: server.origin });
  const anon = expectClientOk(await b.client.signIn.anonymous(), server);
  const guestToken = b.token;
  assert.equal(guestToken, sign(anon.token));
  const carol = await signUp(server, { name: "CarolB" });
  expectClientOk(await b.client.signIn.magicLink({ email: carol.email }), server);
  const mail = server.lastMail("magic-link");
  assert.equal(mail.email, carol.email);
  const data = expectClientOk(await b.client.magicLink.verify({ query: { token: mail.token } }), server);
  assert.equal(data.user.id, carol.user.id);
  assert.equal(b.token, sign(data.token), "set-auth-token from verify became the client's token");
  const s = expectClientOk(await b.client.getSession(), server);
  assert.equal(s.user.id, carol.user.id);
  await expectGuestGone(anon, { bearer: guestToken });
});

test("bearer guest → new account via the mailed 302: set-auth-token on the redirect", T, async () => {
  const anon = await signInAnonymous(server);
  const email = uniqueEmail("bear");
  expectOk(await raw(server, "POST", "/sign-in/magic-link", { json: { email, callbackURL: "/done" }, bearer: anon.signed }), server);
  const mail = server.lastMail("magic-link");
  assert.equal(mail.email, email);
  const res = await raw(server, "GET", relative(mail.url), { bearer: anon.signed });
  assert.equal(res.status, 302, describe(res, server));
  assert.equal(res.headers.location, `${server.origin}/done`);
  const token = res.headers["set-auth-token"];
  assert.ok(token, "set-auth-token on the 302");
  assert.match(String(res.headers["access-control-expose-headers"]), /set-auth-token/);
  const gs = await getSession(server, { bearer: token });
  assert.equal(gs.json.user.email, email);
  await expectGuestGone(anon, { bearer: anon.signed });
});

/** The guest's synced records, as stored (collection/id → owner). */
function syncRecordsOf(userId) {
  return server.sql(`SELECT collection, recordId FROM sync_record WHERE userId = ${q(userId)}`);
}

test("login CSRF: a link someone else requested, opened by a guest's browser from another site, signs in but links nothing", T, async () => {
  // The victim: a browser guest with a synced record.
  const victim = await signInAnonymous(server);
  expectOk(await raw(server, "POST", "/api/sync/push", {
    abs: true, bearer: victim.signed,
    json: { clientId: "browser", mutations: [{ mid: 1, op: "put", collection: "notes", id: "n1", data: { text: "diary" } }] },
  }), server);
  // The attacker asks for a link to their own address, server to server.
  const attackerEmail = uniqueEmail("mallory");
  expectOk(await raw(server, "POST", "/sign-in/magic-link", { json: { email: attackerEmail, callbackURL: "/" } }), server);
  const mail = server.lastMail("magic-link");
  assert.equal(mail.email, attackerEmail);
  // A page elsewhere navigates the victim's browser to it: the Lax cookie goes along.
  const res = await raw(server, "GET", relative(mail.url), {
    cookie: victim.cookie,
    headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document" },
  });
  assert.equal(res.status, 302, describe(res, server));
  assert.equal(res.headers.location, `${server.origin}/`);
  const attacker = res.headers["set-auth-token"];
  assert.ok(attacker, "signed in, as the link says");
  assert.equal((await getSession(server, { bearer: attacker })).json.user.email, attackerEmail);
  // Not linked: the guest, its session and its record stay where they were.
  assert.ok(userRow(server, victim.user.id), "the guest is not deleted");
  assert.equal(asBool(userRow(server, victim.user.id).isAnonymous), true);
  assert.deepEqual(syncRecordsOf(victim.user.id), [{ collection: "notes", recordId: "n1" }]);
  const pulled = await raw(server, "GET", "/api/sync/pull?since=0", { abs: true, bearer: attacker });
  expectOk(pulled, server);
  assert.deepEqual(pulled.json.changes, [], "nothing reached the attacker's account");
  const own = await raw(server, "GET", "/api/sync/pull?since=0", { abs: true, bearer: victim.signed });
  assert.equal(own.json.changes.length, 1, "the guest's token still reaches its data");
});

test("a guest at verify that did not request the link is not linked: link requested signed out, or by another guest", T, async () => {
  const other = await signInAnonymous(server);
  for (const requester of [{}, { cookie: other.cookie }]) {
    const email = uniqueEmail("nolink");
    expectOk(await raw(server, "POST", "/sign-in/magic-link", { json: { email }, origin: true, ...requester }), server);
    const mail = server.lastMail("magic-link");
    assert.equal(mail.email, email);
    const guest = await signInAnonymous(server);
    const res = await raw(server, "GET", relative(mail.url), { cookie: guest.cookie });
    assert.equal(res.status, 302, describe(res, server));
    const signedIn = await getSession(server, { bearer: res.headers["set-auth-token"] });
    assert.equal(signedIn.json.user.email, email);
    assert.ok(userRow(server, guest.user.id), "not linked: the guest is still there");
    assert.equal((await getSession(server, { cookie: guest.cookie })).json.user.id, guest.user.id);
  }
  assert.ok(userRow(server, other.user.id), "the requesting guest was not at the click: not linked either");
});

test("--magic-link-disable-sign-up: unknown emails → ?error=new_user_signup_disabled", T, async () => {
  const s = await startMailServer({ tag: "magic-nosignup", args: ["--magic-link-disable-sign-up"] });
  try {
    const { client } = mlCookieClient(s);
    const email = uniqueEmail("nosignup");
    expectClientOk(await client.signIn.magicLink({ email, callbackURL: "/in" }), s);
    const res = await raw(s, "GET", relative(s.lastMail("magic-link").url));
    assert.equal(res.status, 302);
    assert.equal(res.headers.location, `${s.origin}/in?error=new_user_signup_disabled`);
    assert.equal(userByEmail(s, email), undefined);
  } finally { await s.stop(); }
});
