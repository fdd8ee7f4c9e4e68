// Deleting an account with the official client when a mailer is configured: deleteUser()
// of a user with a verified address mails a confirmation link (Kernia's default; Better
// Auth's sendDeleteAccountVerification flow), and the account goes only when the link is
// opened signed in (GET /delete-user/callback) or its token is sent back
// (deleteUser({ token })). Wrong, foreign, replayed and superseded links delete nothing;
// unverified users, guests and --disable-delete-user-confirmation delete at once.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  T, PASSWORD, raw, expectClientOk, expectClientError, expectClearingCookies, uniqueEmail, userRow, sessionsOf,
} from "./harness.mjs";
import { startMailServer, mlCookieClient, mlBearerClient, relative } from "./mail-helpers.mjs";

let server;
before(async () => { server = await startMailServer({ tag: "del" }); });
after(async () => { await server?.stop(); });

/** Signs `client` up and verifies the address through the mailed link. */
async function verifiedUser(client, target = server) {
  const email = uniqueEmail("del");
  const up = expectClientOk(await client.signUp.email({ name: "Del", email, password: PASSWORD }), target);
  expectClientOk(await client.sendVerificationEmail({ email }), target);
  expectClientOk(await client.verifyEmail({ query: { token: target.lastMail("verify-email").token } }), target);
  return { email, id: up.user.id };
}

async function requestLink(client) {
  const before = server.mails().length;
  const data = expectClientOk(await client.deleteUser({ callbackURL: "/bye" }), server);
  assert.deepEqual(data, { success: true, message: "Verification email sent" });
  assert.equal(server.mails().length, before + 1, "one mail");
  return server.lastMail("delete-account");
}

test("cookie client: deleteUser() mails a link; opened in the signed-in browser it deletes and clears the cookies", T, async () => {
  const { client, jar } = mlCookieClient(server);
  const user = await verifiedUser(client);
  const mail = await requestLink(client);
  assert.ok(userRow(server, user.id), "nothing is deleted before the link is opened");
  assert.equal(mail.email, user.email);
  assert.equal(mail.userId, user.id);
  assert.match(mail.token, /^[0-9a-z]{32}$/);
  assert.equal(mail.url, `${server.base}/delete-user/callback?token=${mail.token}&callbackURL=%2Fbye`);

  // Opened where nobody is signed in (another browser): Better Auth's 404, nothing deleted.
  let res = await raw(server, "GET", relative(mail.url));
  assert.equal(res.status, 404, res.text);
  assert.deepEqual(res.json, { code: "FAILED_TO_GET_USER_INFO", message: "Failed to get user info" });
  assert.ok(userRow(server, user.id));

  res = await raw(server, "GET", relative(mail.url), { cookie: jar.header() });
  assert.equal(res.status, 302, res.text);
  assert.equal(res.headers.location, "/bye");
  expectClearingCookies(res);
  assert.equal(userRow(server, user.id), undefined, "user deleted");
  assert.equal(sessionsOf(server, user.id).length, 0, "sessions deleted");
  jar.store(res.headers["set-cookie"]);
  assert.equal(expectClientOk(await client.getSession(), server), null);
});

test("bearer client: deleteUser() then deleteUser({ token }) deletes; the token works once", T, async () => {
  const app = mlBearerClient(server, { origin: server.origin });   // node's fetch sends fetch metadata
  const user = await verifiedUser(app.client);
  const mail = await requestLink(app.client);
  const token = app.token;
  const data = expectClientOk(await app.client.deleteUser({ token: mail.token }), server);
  assert.deepEqual(data, { success: true, message: "User deleted" });
  assert.equal(userRow(server, user.id), undefined);
  const res = await raw(server, "GET", "/get-session", { bearer: token });
  assert.equal(res.text.trim(), "null");
});

test("links that are not the user's newest, live one delete nothing", T, async () => {
  const owner = mlCookieClient(server);
  const other = mlCookieClient(server);
  const user = await verifiedUser(owner.client);
  const bystander = await verifiedUser(other.client);
  const first = await requestLink(owner.client);
  const mail = await requestLink(owner.client);   // the newer request voids the first link

  // Someone else's session, by link or by token.
  let res = await raw(server, "GET", relative(mail.url), { cookie: other.jar.header() });
  assert.equal(res.status, 404, res.text);
  assert.equal(res.json.code, "INVALID_TOKEN");
  expectClientError(await other.client.deleteUser({ token: mail.token }), 404, "INVALID_TOKEN", "Invalid token");
  // The superseded link, a made-up token, no token, a foreign callbackURL.
  res = await raw(server, "GET", relative(first.url), { cookie: owner.jar.header() });
  assert.equal(res.status, 404, res.text);
  assert.equal(res.json.code, "INVALID_TOKEN");
  expectClientError(await owner.client.deleteUser({ token: "0123456789abcdefghijklmnopqrstuv" }), 404, "INVALID_TOKEN");
  res = await raw(server, "GET", "/delete-user/callback", { cookie: owner.jar.header() });
  assert.equal(res.status, 400, res.text);
  assert.equal(res.json.code, "VALIDATION_ERROR");
  res = await raw(server, "GET", `/delete-user/callback?token=${mail.token}&callbackURL=${encodeURIComponent("https://evil.example/")}`,
    { cookie: owner.jar.header() });
  assert.equal(res.status, 403, res.text);
  assert.equal(res.json.code, "INVALID_CALLBACK_URL");
  expectClientError(await owner.client.deleteUser({ token: 42 }), 400, "VALIDATION_ERROR");
  assert.ok(userRow(server, user.id));
  assert.ok(userRow(server, bystander.id));

  // The right link still works, once.
  res = await raw(server, "GET", relative(mail.url), { cookie: owner.jar.header() });
  assert.equal(res.status, 302, res.text);
  assert.equal(userRow(server, user.id), undefined);
  res = await raw(server, "GET", relative(mail.url), { cookie: other.jar.header() });
  assert.equal(res.status, 404, res.text);
  assert.ok(userRow(server, bystander.id), "a replayed link deletes nobody");
});

test("a wrong password is refused before any mail; the right one still asks the mailbox", T, async () => {
  const { client } = mlCookieClient(server);
  const user = await verifiedUser(client);
  const before = server.mails().length;
  expectClientError(await client.deleteUser({ password: "wrong-password" }), 400, "INVALID_PASSWORD", "Invalid password");
  assert.equal(server.mails().length, before);
  const data = expectClientOk(await client.deleteUser({ password: PASSWORD }), server);
  assert.deepEqual(data, { success: true, message: "Verification email sent" });
  assert.ok(userRow(server, user.id));
});

test("deleted at once, nothing mailed: an unverified address, a guest", T, async () => {
  const before = server.mails().length;
  const unverified = mlCookieClient(server);
  const up = expectClientOk(await unverified.client.signUp.email({ name: "U", email: uniqueEmail("unv"), password: PASSWORD }), server);
  assert.deepEqual(expectClientOk(await unverified.client.deleteUser({}), server), { success: true, message: "User deleted" });
  assert.equal(userRow(server, up.user.id), undefined);
  const guest = mlCookieClient(server);
  const anon = expectClientOk(await guest.client.signIn.anonymous(), server);
  assert.deepEqual(expectClientOk(await guest.client.deleteUser({}), server), { success: true, message: "User deleted" });
  assert.equal(userRow(server, anon.user.id), undefined);
  assert.equal(server.mails().length, before);
});

test("--disable-delete-user-confirmation: a verified user is deleted at once (Better Auth's default)", T, async () => {
  const plain = await startMailServer({ tag: "delnc", args: ["--disable-delete-user-confirmation"] });
  try {
    const { client } = mlCookieClient(plain);
    const user = await verifiedUser(client, plain);
    const before = plain.mails().length;
    assert.deepEqual(expectClientOk(await client.deleteUser({}), plain), { success: true, message: "User deleted" });
    assert.equal(userRow(plain, user.id), undefined);
    assert.equal(plain.mails().length, before);
  } finally {
    await plain.stop();
  }
});

test("the same link opened 8 times at once deletes once: one 302, the rest 404, nothing else touched", T, async () => {
  const owner = mlCookieClient(server);
  const user = await verifiedUser(owner.client);
  const bystander = await verifiedUser(mlCookieClient(server).client);
  const mail = await requestLink(owner.client);
  const answers = await Promise.all(Array.from({ length: 8 },
    () => raw(server, "GET", relative(mail.url), { cookie: owner.jar.header() })));
  const statuses = answers.map((r) => r.status).sort();
  assert.deepEqual(statuses, [302, 404, 404, 404, 404, 404, 404, 404], JSON.stringify(answers.map((r) => [r.status, r.text])));
  for (const r of answers.filter((a) => a.status === 404))
    assert.ok(["INVALID_TOKEN", "FAILED_TO_GET_USER_INFO"].includes(r.json?.code), r.text);
  assert.equal(userRow(server, user.id), undefined);
  assert.ok(userRow(server, bystander.id));
});
