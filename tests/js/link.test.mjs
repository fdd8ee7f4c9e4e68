// Anonymous → real account linking: sign-up and sign-in (cookie and bearer),
// failures that must not link, on_link SQL, atomicity and concurrency.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  T, PASSWORD, SESSION_COOKIE, startServer, raw, cookieClient, bearerClient, sign, signedCookieValue,
  expectError, expectOk, expectSessionCookie, expectClearingCookies, expectNoCookies,
  expectClientError, expectClientOk, expectUser, signUp, signIn, signInAnonymous, getSession,
  uniqueEmail, userRow, userByEmail, sessionsOf, asBool, describe, sqlite, q, sessionSetCookie,
} from "./harness.mjs";

const CART_DDL = "CREATE TABLE cart(user_id TEXT NOT NULL, item TEXT NOT NULL);";
const AUDIT_DDL = "CREATE TABLE link_audit(anon TEXT, new_user TEXT, anon_email TEXT, new_email TEXT);";
const MOVE_CART = "UPDATE cart SET user_id = :new_user_id WHERE user_id = :anonymous_user_id";
const AUDIT = "INSERT INTO link_audit(anon, new_user, anon_email, new_email) VALUES (:anonymous_user_id, :new_user_id, :anonymous_email, :new_email)";

function setupAppTables(dbPath) { sqlite(dbPath, CART_DDL + AUDIT_DDL); }

function addCart(s, userId, ...items) {
  s.sql(items.map((i) => `INSERT INTO cart(user_id, item) VALUES (${q(userId)}, ${q(i)});`).join(""));
}
function cartOf(s, userId) {
  return s.sql(`SELECT item FROM cart WHERE user_id = ${q(userId)} ORDER BY item`).map((r) => r.item);
}

let server; // plain server, default options
let linkServer; // with on_link SQL moving the cart + audit row
before(async () => {
  server = await startServer({ tag: "link" });
  linkServer = await startServer({
    tag: "link-sql", setupDb: setupAppTables,
    config: { anonymous: { on_link: { sql: [MOVE_CART, AUDIT] } } },
  });
});
after(async () => { await server?.stop(); await linkServer?.stop(); });

/** The guest is gone: no user row, no sessions, old credential → null + clearing cookies. */
async function expectGuestGone(s, anon, how = { cookie: anon.cookie }) {
  assert.equal(userRow(s, anon.user.id), undefined, "anonymous user deleted");
  assert.equal(sessionsOf(s, anon.user.id).length, 0, "anonymous sessions deleted");
  const gs = await getSession(s, how);
  expectOk(gs, s);
  assert.equal(gs.text.trim(), "null", `old anonymous credential must be dead; got ${describe(gs, s)}`);
  expectClearingCookies(gs);
}

async function expectGuestIntact(s, anon) {
  const row = userRow(s, anon.user.id);
  assert.ok(row, "guest user still exists");
  assert.equal(asBool(row.isAnonymous), true);
  const gs = await getSession(s, { cookie: anon.cookie });
  expectOk(gs, s);
  assert.equal(gs.json?.user?.id, anon.user.id, `guest session still valid; got ${describe(gs, s)}`);
  assert.equal(gs.json.user.isAnonymous, true);
  expectNoCookies(gs);
}

test("guest → sign-up/email (official client): normal response, guest and its sessions gone, new session works", T, async () => {
  const { client, jar } = cookieClient(server);
  const anon = expectClientOk(await client.signIn.anonymous(), server);
  const anonCookie = `${SESSION_COOKIE}=${jar.get(SESSION_COOKIE)}`;
  const email = uniqueEmail("alice");
  const up = expectClientOk(await client.signUp.email({ name: "Alice", email: email.toUpperCase(), password: PASSWORD }), server);
  assert.deepEqual(Object.keys(up).sort(), ["token", "user"]);
  expectUser(up.user, { name: "Alice", email, isAnonymous: false });
  assert.notEqual(up.user.id, anon.user.id);
  assert.equal(jar.get(SESSION_COOKIE), signedCookieValue(up.token), "new cookie replaced the guest cookie");
  await expectGuestGone(server, { user: anon.user, cookie: anonCookie });
  const s = expectClientOk(await client.getSession(), server);
  assert.equal(s.user.id, up.user.id);
  assert.equal(s.user.isAnonymous, false);
  assert.equal(asBool(userByEmail(server, email).isAnonymous), false);
});

test("guest → sign-up/email raw: only the new session cookie in the response (no clearing cookies)", T, async () => {
  const anon = await signInAnonymous(server);
  const email = uniqueEmail("raw-link");
  const res = await raw(server, "POST", "/sign-up/email", { json: { name: "R", email, password: PASSWORD }, origin: true, cookie: anon.cookie });
  expectOk(res, server);
  expectSessionCookie(res, res.json.token);
  assert.equal(res.setCookies.length, 1, `one Set-Cookie; got ${JSON.stringify(res.setCookies)}`);
  await expectGuestGone(server, anon);
});

test("guest → sign-in/email to an EXISTING account (cookie): guest deleted, existing user signed in", T, async () => {
  const bob = await signUp(server, { name: "Bob" });
  const anon = await signInAnonymous(server);
  const res = await raw(server, "POST", "/sign-in/email", { json: { email: bob.email, password: PASSWORD }, origin: true, cookie: anon.cookie });
  expectOk(res, server);
  assert.equal(res.json.redirect, false);
  expectUser(res.json.user, { id: bob.user.id, name: "Bob", isAnonymous: false });
  expectSessionCookie(res, res.json.token);
  await expectGuestGone(server, anon);
  const gs = await getSession(server, { cookie: `${SESSION_COOKIE}=${sessionSetCookie(res).value}` });
  assert.equal(gs.json?.user?.id, bob.user.id);
  assert.ok(userRow(server, bob.user.id), "existing account untouched");
});

test("guest → sign-in/email to an EXISTING account (bearer, no cookie, no Origin): linked", T, async () => {
  const bob = await signUp(server, { name: "BobB" });
  const anon = await signInAnonymous(server);
  const res = await raw(server, "POST", "/sign-in/email", { json: { email: bob.email, password: PASSWORD }, bearer: anon.signed });
  expectOk(res, server);
  expectUser(res.json.user, { id: bob.user.id });
  assert.equal(res.headers["set-auth-token"], sign(res.json.token));
  await expectGuestGone(server, anon, { bearer: anon.signed });
});

test("guest → sign-in/email with the official bearer client: token switches to the account", T, async () => {
  const bob = await signUp(server, { name: "BobC" });
  const b = bearerClient(server, { origin: server.origin });
  const anon = expectClientOk(await b.client.signIn.anonymous(), server);
  const anonToken = b.token;
  assert.equal(anonToken, sign(anon.token));
  const data = expectClientOk(await b.client.signIn.email({ email: bob.email, password: PASSWORD }), server);
  assert.equal(data.user.id, bob.user.id);
  assert.equal(b.token, sign(data.token), "client switched to the new token");
  const s = expectClientOk(await b.client.getSession(), server);
  assert.equal(s.user.id, bob.user.id);
  await expectGuestGone(server, { user: anon.user }, { bearer: anonToken });
});

test("failed sign-in / duplicate sign-up while anonymous → error, no link, guest intact", T, async () => {
  const bob = await signUp(server, { name: "BobF" });
  const anon = await signInAnonymous(server);
  let res = await raw(server, "POST", "/sign-in/email", { json: { email: bob.email, password: "bad-password" }, origin: true, cookie: anon.cookie });
  expectError(res, 401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password", server);
  expectNoCookies(res);
  await expectGuestIntact(server, anon);
  res = await raw(server, "POST", "/sign-up/email", { json: { name: "B", email: bob.email, password: PASSWORD }, origin: true, cookie: anon.cookie });
  expectError(res, 422, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", "User already exists. Use another email.", server);
  expectNoCookies(res);
  res = await raw(server, "POST", "/sign-up/email", { json: { name: "B", email: uniqueEmail("short"), password: "short" }, origin: true, cookie: anon.cookie });
  expectError(res, 400, "PASSWORD_TOO_SHORT", "Password too short", server);
  await expectGuestIntact(server, anon);
  // and a later successful link still works
  await signIn(server, { email: bob.email, cookie: anon.cookie });
  await expectGuestGone(server, anon);
});

test("isAnonymous:true in a sign-up body is ignored", T, async () => {
  const email = uniqueEmail("sneaky");
  const res = await raw(server, "POST", "/sign-up/email", { json: { name: "X", email, password: PASSWORD, isAnonymous: true }, origin: true });
  expectOk(res, server);
  assert.equal(res.json.user.isAnonymous, false);
  assert.equal(asBool(userByEmail(server, email).isAnonymous), false);
  // so a later anonymous sign-in with its cookie creates a separate guest (the user is not anonymous)
  const again = await raw(server, "POST", "/sign-in/anonymous", { origin: true, cookie: `${SESSION_COOKIE}=${sessionSetCookie(res).value}` });
  expectOk(again, server);
  assert.notEqual(again.json.user.id, res.json.user.id);
});

// --- on_link SQL ---------------------------------------------------------------

test("on_link SQL: guest's cart moves to the NEW user on sign-up; binds anonymous/new ids and emails", T, async () => {
  const s = linkServer;
  const anon = await signInAnonymous(s);
  addCart(s, anon.user.id, "apple", "pear");
  const email = uniqueEmail("cart");
  const up = await signUp(s, { name: "Cart", email, cookie: anon.cookie });
  assert.deepEqual(cartOf(s, up.user.id), ["apple", "pear"], "cart re-owned");
  assert.deepEqual(cartOf(s, anon.user.id), []);
  const audit = s.sql(`SELECT * FROM link_audit WHERE anon = ${q(anon.user.id)}`);
  assert.equal(audit.length, 1);
  assert.deepEqual(audit[0], { anon: anon.user.id, new_user: up.user.id, anon_email: anon.user.email, new_email: email });
  await expectGuestGone(s, anon);
});

test("on_link SQL: guest's cart merges into an EXISTING account on sign-in", T, async () => {
  const s = linkServer;
  const carol = await signUp(s, { name: "Carol" });
  addCart(s, carol.user.id, "book");
  const anon = await signInAnonymous(s);
  addCart(s, anon.user.id, "lamp");
  const res = await signIn(s, { email: carol.email, cookie: anon.cookie });
  assert.equal(res.user.id, carol.user.id);
  assert.deepEqual(cartOf(s, carol.user.id), ["book", "lamp"]);
  assert.deepEqual(cartOf(s, anon.user.id), []);
  assert.equal(s.sql(`SELECT count(*) AS n FROM link_audit WHERE anon = ${q(anon.user.id)}`)[0].n, 1);
  await expectGuestGone(s, anon);
});

test("on_link does not run for a sign-in without an anonymous session, nor for failed sign-ins", T, async () => {
  const s = linkServer;
  const dan = await signUp(s, { name: "Dan" });
  const before = s.sql("SELECT count(*) AS n FROM link_audit")[0].n;
  await signIn(s, { email: dan.email });
  const anon = await signInAnonymous(s);
  addCart(s, anon.user.id, "kept");
  const bad = await raw(s, "POST", "/sign-in/email", { json: { email: dan.email, password: "wrong-password" }, origin: true, cookie: anon.cookie });
  expectError(bad, 401, "INVALID_EMAIL_OR_PASSWORD", undefined, s);
  assert.equal(s.sql("SELECT count(*) AS n FROM link_audit")[0].n, before);
  assert.deepEqual(cartOf(s, anon.user.id), ["kept"]);
  await expectGuestIntact(s, anon);
});

test("--on-link-sql flags (repeatable) run in order inside the link", T, async () => {
  const s = await startServer({
    tag: "link-flags", setupDb: setupAppTables,
    // the audit row is written after the cart moved: it counts the guest's rows left (must be 0)
    args: ["--on-link-sql", MOVE_CART,
      "--on-link-sql", "INSERT INTO link_audit(anon, new_user, anon_email) SELECT :anonymous_user_id, :new_user_id, count(*) FROM cart WHERE user_id = :anonymous_user_id"],
  });
  try {
    const anon = await signInAnonymous(s);
    addCart(s, anon.user.id, "a", "b", "c");
    const up = await signUp(s, { name: "Flags", cookie: anon.cookie });
    assert.deepEqual(cartOf(s, up.user.id), ["a", "b", "c"]);
    const audit = s.sql("SELECT * FROM link_audit");
    assert.equal(audit.length, 1);
    assert.equal(audit[0].anon, anon.user.id);
    assert.equal(audit[0].new_user, up.user.id);
    assert.equal(String(audit[0].anon_email), "0", "statements ran in order (cart already moved)");
    await expectGuestGone(s, anon);
  } finally { await s.stop(); }
});

test("on_link runs even with disable_delete_anonymous_user (guest kept, cart moved)", T, async () => {
  const s = await startServer({
    tag: "link-keep", setupDb: setupAppTables,
    config: { anonymous: { disable_delete_anonymous_user: true, on_link: { sql: [MOVE_CART] } } },
  });
  try {
    const anon = await signInAnonymous(s);
    addCart(s, anon.user.id, "mug");
    const up = await signUp(s, { name: "Keep", cookie: anon.cookie });
    assert.deepEqual(cartOf(s, up.user.id), ["mug"]);
    await expectGuestIntact(s, anon);
  } finally { await s.stop(); }
});

test("atomic link: failing 2nd on_link statement → 500 ACCOUNT_LINK_FAILED; guest, session, cart intact; no new user/session", T, async () => {
  const s = await startServer({
    tag: "link-fail", setupDb: setupAppTables,
    config: { anonymous: { on_link: { sql: [MOVE_CART, "INSERT INTO table_that_does_not_exist(x) VALUES (:new_user_id)"] } } },
  });
  try {
    const anon = await signInAnonymous(s);
    addCart(s, anon.user.id, "apple", "pear");
    const email = uniqueEmail("atomic");
    const res = await raw(s, "POST", "/sign-up/email", { json: { name: "Atomic", email, password: PASSWORD }, origin: true, cookie: anon.cookie });
    expectError(res, 500, "ACCOUNT_LINK_FAILED", undefined, s);
    const live = res.setCookies.map((c) => c.split(";")[0]).filter((c) => c.startsWith(`${SESSION_COOKIE}=`) && c !== `${SESSION_COOKIE}=`);
    assert.deepEqual(live, [], `no new session cookie on a failed link; got ${JSON.stringify(res.setCookies)}`);
    assert.equal(userByEmail(s, email), undefined, "no user with the new email");
    assert.equal(s.sql(`SELECT count(*) AS n FROM "account" a LEFT JOIN "user" u ON u.id = a.userId WHERE u.id IS NULL`)[0].n, 0, "no orphan account");
    assert.deepEqual(cartOf(s, anon.user.id), ["apple", "pear"], "cart untouched (UPDATE rolled back)");
    await expectGuestIntact(s, anon);
    assert.equal(sessionsOf(s, anon.user.id).length, 1);

    // Existing account: same rollback, and the account gets no new session.
    const eve = await signUp(s, { name: "Eve" });
    const evSessions = sessionsOf(s, eve.user.id).length;
    const res2 = await raw(s, "POST", "/sign-in/email", { json: { email: eve.email, password: PASSWORD }, origin: true, cookie: anon.cookie });
    expectError(res2, 500, "ACCOUNT_LINK_FAILED", undefined, s);
    assert.equal(sessionsOf(s, eve.user.id).length, evSessions, "no session created for the existing account");
    assert.deepEqual(cartOf(s, anon.user.id), ["apple", "pear"]);
    assert.deepEqual(cartOf(s, eve.user.id), []);
    await expectGuestIntact(s, anon);

    // The official client sees a clean error and keeps the guest cookie.
    const { client, jar } = cookieClient(s);
    const g = expectClientOk(await client.signIn.anonymous(), s);
    const guestCookie = jar.get(SESSION_COOKIE);
    expectClientError(await client.signUp.email({ name: "C", email: uniqueEmail("atomic-c"), password: PASSWORD }), 500, "ACCOUNT_LINK_FAILED");
    assert.equal(jar.get(SESSION_COOKIE), guestCookie, "client still holds the guest cookie");
    const gs = expectClientOk(await client.getSession(), s);
    assert.equal(gs.user.id, g.user.id);

    // Without an anonymous session (no link), sign-in is unaffected.
    await signIn(s, { email: eve.email });
  } finally { await s.stop(); }
});

test("concurrent link attempts from one guest run on_link exactly once", T, async () => {
  const s = await startServer({
    tag: "link-race", setupDb: setupAppTables,
    config: { anonymous: { on_link: { sql: [AUDIT, MOVE_CART] } } },
  });
  try {
    const owner = await signUp(s, { name: "Owner" });
    for (let round = 0; round < 3; round++) {
      const anon = await signInAnonymous(s);
      addCart(s, anon.user.id, `item-${round}`);
      const attempt = () => raw(s, "POST", "/sign-in/email", { json: { email: owner.email, password: PASSWORD }, origin: true, cookie: anon.cookie });
      const results = await Promise.all([attempt(), attempt()]);
      let ok = 0;
      for (const r of results) {
        if (r.status === 200) {
          ok++;
          assert.equal(r.json.user.id, owner.user.id, describe(r, s));
          expectSessionCookie(r, r.json.token);
        } else {
          // a losing attempt must still be a well-formed Better Auth error
          assert.ok(r.status >= 400 && r.status < 600, describe(r, s));
          assert.equal(typeof r.json?.code, "string", `error code; got ${describe(r, s)}`);
          assert.equal(typeof r.json?.message, "string");
          assert.ok(!r.setCookies.some((c) => c.startsWith(`${SESSION_COOKIE}=`) && !c.startsWith(`${SESSION_COOKIE}=;`)),
            "a failed attempt sets no live session cookie");
        }
      }
      assert.ok(ok >= 1, `at least one attempt succeeds; got ${results.map((r) => r.status)}`);
      const audit = s.sql(`SELECT * FROM link_audit WHERE anon = ${q(anon.user.id)}`);
      assert.equal(audit.length, 1, `on_link ran exactly once; got ${audit.length} rows (statuses ${results.map((r) => r.status)})`);
      assert.equal(audit[0].new_user, owner.user.id);
      assert.ok(cartOf(s, owner.user.id).includes(`item-${round}`));
      await expectGuestGone(s, anon);
    }
  } finally { await s.stop(); }
});
