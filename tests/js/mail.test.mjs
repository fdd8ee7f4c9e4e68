// Email verification, email change (the confirmation step for a verified address, the
// notice to the old address) and password reset with the official client
// (sendVerificationEmail, verifyEmail, changeEmail, requestPasswordReset, resetPassword),
// tokens read from --mail-outbox;
// "not enabled" answers without a mailer; SMTP delivery to a real local SMTP server
// together with the outbox; start-up refusal of bad SMTP settings.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { createHmac } from "node:crypto";
import {
  T, PASSWORD, SECRET, q, startServer, runServerToExit, raw, makeTempDir, expectOk, expectError, expectClientOk,
  expectClientError, signUp, signInAnonymous, uniqueEmail, userByEmail, asBool, describe, sleep,
} from "./harness.mjs";
import { startMailServer, mlCookieClient, mlBearerClient, relative, startSmtpSink } from "./mail-helpers.mjs";

const RESET_MESSAGE = "If this email exists in our system, check your email for the reset link";

let server;
before(async () => { server = await startMailServer({ tag: "mail" }); });
after(async () => { await server?.stop(); });

test("verification: sendVerificationEmail (signed in) → mailed JWT; verifyEmail marks the user verified", T, async () => {
  const { client } = mlCookieClient(server);
  const email = uniqueEmail("gina");
  const up = expectClientOk(await client.signUp.email({ name: "Gina", email, password: PASSWORD }), server);
  assert.equal(up.user.emailVerified, false);
  expectClientError(await client.sendVerificationEmail({ email: uniqueEmail("other") }), 400, "EMAIL_MISMATCH", "Email mismatch");
  assert.deepEqual(expectClientOk(await client.sendVerificationEmail({ email, callbackURL: "/verified" }), server), { status: true });
  const mail = server.lastMail("verify-email");
  assert.equal(mail.email, email);
  assert.equal(mail.userId, up.user.id);
  assert.match(mail.token, /^eyJhbGciOiJIUzI1NiJ9\.[\w-]+\.[\w-]+$/);
  assert.equal(mail.url, `${server.base}/verify-email?token=${mail.token}&callbackURL=%2Fverified`);
  const payload = JSON.parse(Buffer.from(mail.token.split(".")[1], "base64url").toString());
  assert.deepEqual(Object.keys(payload), ["email", "userId", "iat", "exp"]);
  assert.equal(payload.exp - payload.iat, 3600);

  const data = expectClientOk(await client.verifyEmail({ query: { token: mail.token } }), server);
  assert.deepEqual(data, { status: true, user: null });
  assert.equal(asBool(userByEmail(server, email).emailVerified), true);
  const s = expectClientOk(await client.getSession(), server);
  assert.equal(s.user.emailVerified, true);
  expectClientError(await client.sendVerificationEmail({ email }), 400, "EMAIL_ALREADY_VERIFIED", "Email is already verified");
  // The mailed link (302 to the callback) still answers after verification.
  const res = await raw(server, "GET", relative(mail.url));
  assert.equal(res.status, 302);
  assert.equal(res.headers.location, "/verified");
});

test("verification without a session: same 200 for unknown, unverified and verified emails; mail only for unverified", T, async () => {
  const { client } = mlCookieClient(server);
  const known = await signUp(server, { name: "Hal" });
  const before = server.mails().length;
  for (const email of [uniqueEmail("nobody"), known.email]) {
    const started = Date.now();
    assert.deepEqual(expectClientOk(await client.sendVerificationEmail({ email }), server), { status: true });
    assert.ok(Date.now() - started >= 450, "answers take at least ~500 ms either way");
  }
  const mails = server.mails().slice(before);
  assert.equal(mails.length, 1);
  assert.equal(mails[0].email, known.email);
});

test("verifyEmail bad input: garbage → 401 INVALID_TOKEN; with callbackURL → 302 ?error=; untrusted callback → 403", T, async () => {
  const { client } = mlCookieClient(server);
  expectClientError(await client.verifyEmail({ query: { token: "abc" } }), 401, "INVALID_TOKEN", "Invalid token");
  let res = await raw(server, "GET", "/verify-email?token=abc&callbackURL=/x");
  assert.equal(res.status, 302);
  assert.equal(res.headers.location, "/x?error=INVALID_TOKEN");
  res = await raw(server, "GET", `/verify-email?token=abc&callbackURL=${encodeURIComponent("https://evil.example/")}`);
  expectError(res, 403, "INVALID_CALLBACK_URL", "Invalid callbackURL", server);
  res = await raw(server, "GET", "/verify-email");
  expectError(res, 400, "VALIDATION_ERROR", "[query.token] Invalid input: expected string, received undefined", server);
});

/** The latest change-email link mailed to `email` (kind verify-email, its token carries updateTo). */
function changeMail(s, email) {
  return latestMail(s, "verify-email", email);
}

/** The latest confirmation link mailed to the current address `email`. */
function confirmationMail(s, email) {
  return latestMail(s, "change-email-confirmation", email);
}

function latestMail(s, kind, email) {
  const mails = s.mails().filter((m) => m.kind === kind && m.email === email.toLowerCase());
  assert.ok(mails.length > 0, `expected a ${kind} mail to ${email}`);
  const mail = mails[mails.length - 1];
  return { ...mail, payload: mail.token ? JSON.parse(Buffer.from(mail.token.split(".")[1], "base64url").toString()) : null };
}

/** "nina@example.com" -> "n***@example.com", as the mails show the new address. */
function masked(email) {
  return `${email[0]}***${email.slice(email.lastIndexOf("@"))}`;
}

/** The notice of a committed change: to the old address, no link, the new address masked. */
function expectNotice(s, oldEmail, newEmail, userId) {
  const notice = latestMail(s, "email-changed", oldEmail);
  assert.equal(notice.userId, userId);
  assert.equal(notice.url, "");
  assert.equal(notice.token, "");
  assert.equal(notice.subject, "Your email address was changed");
  assert.ok(notice.text.includes(`to ${masked(newEmail)} on ${new Date().toISOString().slice(0, 10)}`), notice.text);
  assert.ok(!notice.text.includes(newEmail), "the new address is masked");
  assert.doesNotMatch(notice.text, /http/, "no link");
  return notice;
}

/** An HS256 token signed with the server's secret, as Better Auth's verify-email reads it. */
function signedToken(payload, secret = SECRET) {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const body = `${part({ alg: "HS256" })}.${part(payload)}`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
}

test("change-email: changeEmail → link mailed to the new address → followed → get-session shows the new email", T, async () => {
  const { client, jar } = mlCookieClient(server);
  const email = uniqueEmail("lena");
  const up = expectClientOk(await client.signUp.email({ name: "Lena", email, password: PASSWORD }), server);
  const newEmail = uniqueEmail("lena-new");
  const before = server.mails().length;
  assert.deepEqual(expectClientOk(await client.changeEmail({ newEmail: newEmail.toUpperCase() }), server), { status: true });
  assert.equal(server.mails().length, before + 1, "one mail");
  assert.equal(server.mails().filter((m) => m.kind === "change-email-confirmation").filter((m) => m.email === email).length, 0,
    "an unverified address is not asked to confirm: the link goes straight to the new address");
  const mail = changeMail(server, newEmail);
  assert.equal(mail.userId, up.user.id);
  assert.equal(mail.url, `${server.base}/verify-email?token=${mail.token}&callbackURL=%2F`);
  assert.deepEqual(Object.keys(mail.payload), ["email", "updateTo", "requestType", "userId", "iat", "exp"]);
  assert.equal(mail.payload.email, email);
  assert.equal(mail.payload.updateTo, newEmail);
  assert.equal(mail.payload.requestType, "change-email-verification");
  assert.equal(mail.payload.userId, up.user.id);
  assert.equal(mail.payload.exp - mail.payload.iat, 3600);
  // Nothing changes until the link is followed.
  assert.equal(expectClientOk(await client.getSession(), server).user.email, email);

  // Followed from a mail app (no cookie): 302 to the callback, the address changes.
  const res = await raw(server, "GET", relative(mail.url));
  assert.equal(res.status, 302, describe(res, server));
  assert.equal(res.headers.location, "/");
  assert.equal(res.setCookies.length, 0, "no session, no cookie");
  const session = expectClientOk(await client.getSession(), server);
  assert.equal(session.user.email, newEmail);
  assert.equal(session.user.emailVerified, false, "emailVerified stays as it was");
  assert.equal(userByEmail(server, email), undefined);
  expectNotice(server, email, newEmail, up.user.id);
  // The password goes with the new address; the old one signs no one in.
  expectOk(await raw(server, "POST", "/sign-in/email", { json: { email: newEmail, password: PASSWORD }, origin: true }), server);
  expectError(await raw(server, "POST", "/sign-in/email", { json: { email, password: PASSWORD }, origin: true }), 401, "INVALID_EMAIL_OR_PASSWORD", undefined, server);
  // Replayed: refused (401 for the client, ?error= for the mail link).
  expectClientError(await client.verifyEmail({ query: { token: mail.token } }), 401, "INVALID_TOKEN", "Invalid token");
  const again = await raw(server, "GET", relative(mail.url));
  assert.equal(again.headers.location, "/?error=INVALID_TOKEN");

  // A verified user, callbackURL: first the confirmation mailed to the current address,
  // followed from the mail (302 to the callback); then the link to the new address,
  // followed with the client (its own session): JSON with the changed user, the session
  // cookie set again, still verified.
  expectClientOk(await client.sendVerificationEmail({ email: newEmail }), server);
  expectClientOk(await client.verifyEmail({ query: { token: server.lastMail("verify-email").token } }), server);
  const third = uniqueEmail("lena-third");
  expectClientOk(await client.changeEmail({ newEmail: third, callbackURL: "/settings" }), server);
  const confirmation = confirmationMail(server, newEmail);
  const confirmed = await raw(server, "GET", relative(confirmation.url));
  assert.equal(confirmed.status, 302, describe(confirmed, server));
  assert.equal(confirmed.headers.location, "/settings");
  const mail3 = changeMail(server, third);
  assert.equal(mail3.url, `${server.base}/verify-email?token=${mail3.token}&callbackURL=%2Fsettings`);
  const cookieBefore = jar.header();
  const data = expectClientOk(await client.verifyEmail({ query: { token: mail3.token } }), server);
  assert.equal(data.status, true);
  assert.equal(data.user.email, third);
  assert.equal(data.user.emailVerified, true);
  assert.equal(data.user.id, up.user.id);
  assert.equal(jar.header(), cookieBefore, "the same session");
  assert.equal(expectClientOk(await client.getSession(), server).user.email, third);
});

test("change-email with a bearer client (a native app): same flow, get-session shows the new email", T, async () => {
  const bearer = mlBearerClient(server, { origin: server.origin });
  const email = uniqueEmail("nia");
  expectClientOk(await bearer.client.signUp.email({ name: "Nia", email, password: PASSWORD }), server);
  assert.ok(bearer.token, "set-auth-token");
  const newEmail = uniqueEmail("nia-new");
  assert.deepEqual(expectClientOk(await bearer.client.changeEmail({ newEmail }), server), { status: true });
  const data = expectClientOk(await bearer.client.verifyEmail({ query: { token: changeMail(server, newEmail).token } }), server);
  assert.equal(data.user.email, newEmail);
  assert.equal(expectClientOk(await bearer.client.getSession(), server).user.email, newEmail);
});

test("change-email bad input: no/invalid newEmail → 400, no session → 401, foreign origin → 403, same email → 400 without code, guest → 400", T, async () => {
  const { client, jar } = mlCookieClient(server);
  const email = uniqueEmail("omar");
  expectClientOk(await client.signUp.email({ name: "Omar", email, password: PASSWORD }), server);
  const before = server.mails().length;
  // (the client sends a call without arguments as a GET, a 404 like Better Auth's: raw POST)
  expectError(await raw(server, "POST", "/change-email", { json: {}, origin: true, cookie: jar.header() }),
    400, "VALIDATION_ERROR", "[body.newEmail] Invalid input: expected string, received undefined", server);
  expectClientError(await client.changeEmail({ newEmail: "not-an-email" }), 400, "VALIDATION_ERROR", "[body.newEmail] Invalid email address");
  expectClientError(await client.changeEmail({ newEmail: uniqueEmail("x"), callbackURL: "https://evil.example/" }), 403, "INVALID_CALLBACK_URL");
  expectClientError(await client.changeEmail({ newEmail: email.toUpperCase() }), 400, undefined, "Email is the same");
  let res = await raw(server, "POST", "/change-email", { json: { newEmail: email }, origin: true, cookie: (await signUp(server, { email: uniqueEmail("p") })).cookie });
  assert.equal(res.status, 200, "someone else's address: the same 200");
  res = await raw(server, "POST", "/change-email", { json: { newEmail: uniqueEmail("x") }, origin: true });
  expectError(res, 401, "UNAUTHORIZED", "Unauthorized", server);
  res = await raw(server, "POST", "/change-email", { origin: true });
  expectError(res, 400, "VALIDATION_ERROR", "[body] Invalid input: expected object, received undefined", server);
  const owner = await signUp(server, { email: uniqueEmail("q") });
  res = await raw(server, "POST", "/change-email", { json: { newEmail: uniqueEmail("x") }, origin: "https://evil.example", cookie: owner.cookie });
  expectError(res, 403, "INVALID_ORIGIN", "Invalid origin", server);
  res = await raw(server, "POST", "/change-email", { json: { newEmail: owner.email }, origin: true, cookie: owner.cookie });
  expectError(res, 400, null, "Email is the same", server);
  const guest = await signInAnonymous(server);
  res = await raw(server, "POST", "/change-email", { json: { newEmail: uniqueEmail("guest") }, origin: true, cookie: guest.cookie });
  expectError(res, 400, "ANONYMOUS_USERS_CANNOT_CHANGE_EMAIL", "Anonymous users cannot change their email. Sign up instead.", server);
  assert.equal(server.mails().length, before, "none of these sent a mail");
  assert.equal(userByEmail(server, email).name, "Omar", "the taken address still belongs to its owner");
});

test("change-email links that no longer apply: taken address, address taken before the click, email changed meanwhile, older request, another user's session", T, async () => {
  const { client } = mlCookieClient(server);
  const email = uniqueEmail("pia");
  const pia = expectClientOk(await client.signUp.email({ name: "Pia", email, password: PASSWORD }), server);
  const other = await signUp(server, { email: uniqueEmail("quinn") });

  // A taken address: 200 after ~500 ms like a free one, no mail.
  for (const target of [other.email, uniqueEmail("pia-free")]) {
    const before = server.mails().length;
    const started = Date.now();
    assert.deepEqual(expectClientOk(await client.changeEmail({ newEmail: target }), server), { status: true });
    assert.ok(Date.now() - started >= 450, "answers take at least ~500 ms either way");
    assert.equal(server.mails().length - before, target === other.email ? 0 : 1);
  }

  // The address is taken between the request and the click: refused, nothing changes.
  const wanted = uniqueEmail("pia-wanted");
  expectClientOk(await client.changeEmail({ newEmail: wanted }), server);
  const taken = changeMail(server, wanted);
  await signUp(server, { email: wanted });
  expectClientError(await client.verifyEmail({ query: { token: taken.token } }), 401, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", "User already exists. Use another email.");
  let res = await raw(server, "GET", `${relative(taken.url).replace("callbackURL=%2F", "callbackURL=%2Fdone")}`);
  assert.equal(res.headers.location, "/done?error=USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL");
  assert.equal(expectClientOk(await client.getSession(), server).user.email, email);

  // Only the newest request's link works; another user's session cannot use it.
  const first = uniqueEmail("pia-first");
  const second = uniqueEmail("pia-second");
  expectClientOk(await client.changeEmail({ newEmail: first }), server);
  expectClientOk(await client.changeEmail({ newEmail: second }), server);
  expectClientError(await client.verifyEmail({ query: { token: changeMail(server, first).token } }), 401, "INVALID_TOKEN");
  res = await raw(server, "GET", `/verify-email?token=${changeMail(server, second).token}`, { cookie: other.cookie });
  expectError(res, 401, "INVALID_USER", "Invalid user", server);
  expectClientOk(await client.verifyEmail({ query: { token: changeMail(server, second).token } }), server);
  assert.equal(expectClientOk(await client.getSession(), server).user.email, second);

  // A link made for an email the user no longer has; a reset link mailed to the old
  // address before the change.
  const third = uniqueEmail("pia-third");
  expectClientOk(await client.requestPasswordReset({ email: second }), server);
  const reset = server.lastMail("reset-password");
  expectClientOk(await client.changeEmail({ newEmail: third }), server);
  const toThird = changeMail(server, third);
  expectClientOk(await client.verifyEmail({ query: { token: toThird.token } }), server);
  expectClientError(await client.resetPassword({ newPassword: "resetpass123", token: reset.token }), 400, "INVALID_TOKEN");
  // Back to `second`, then the spent link to `third` again: refused although the email
  // is once more the one it was made for.
  expectClientOk(await client.changeEmail({ newEmail: second }), server);
  expectClientOk(await client.verifyEmail({ query: { token: changeMail(server, second).token } }), server);
  expectClientError(await client.verifyEmail({ query: { token: toThird.token } }), 401, "INVALID_TOKEN");
  const user = expectClientOk(await client.getSession(), server).user;
  assert.equal(user.email, second);
  assert.equal(user.id, pia.user.id);
});

test("change-email of a verified address (cookie client): confirmation to the current address, nothing to the new one until it is followed; then the link to the new address; then the change and a notice to the old address", T, async () => {
  const { client, email } = await verifiedUser(server, "rita");
  const userId = expectClientOk(await client.getSession(), server).user.id;
  const newEmail = uniqueEmail("rita-new");
  const before = server.mails().length;
  const started = Date.now();
  assert.deepEqual(expectClientOk(await client.changeEmail({ newEmail, callbackURL: "/settings" }), server), { status: true });
  assert.ok(Date.now() - started >= 450, "answered no sooner than 500 ms");
  let mails = server.mails().slice(before);
  assert.equal(mails.length, 1, "one mail");
  const confirmation = confirmationMail(server, email);
  assert.equal(confirmation.userId, userId);
  assert.equal(confirmation.url, `${server.base}/verify-email?token=${confirmation.token}&callbackURL=%2Fsettings`);
  assert.deepEqual(Object.keys(confirmation.payload), ["email", "updateTo", "requestType", "userId", "iat", "exp"]);
  assert.deepEqual({ ...confirmation.payload, iat: 0, exp: 0 },
    { email, updateTo: newEmail, requestType: "change-email-confirmation", userId, iat: 0, exp: 0 });
  assert.equal(confirmation.payload.exp - confirmation.payload.iat, 3600);
  assert.ok(confirmation.text.includes(confirmation.url));
  assert.ok(confirmation.text.includes(masked(newEmail)) && !confirmation.text.includes(newEmail), confirmation.text);
  assert.equal(expectClientOk(await client.getSession(), server).user.email, email);

  // Followed with the client (its own session, no callbackURL): Better Auth's {status:true},
  // the session cookie untouched; only now the link to the new address goes out.
  const jarBefore = await client.getSession();
  assert.deepEqual(expectClientOk(await client.verifyEmail({ query: { token: confirmation.token } }), server), { status: true });
  assert.equal(expectClientOk(await client.getSession(), server).session.token, jarBefore.data.session.token);
  mails = server.mails().slice(before);
  assert.equal(mails.length, 2);
  const link = changeMail(server, newEmail);
  assert.equal(link.url, `${server.base}/verify-email?token=${link.token}&callbackURL=%2F`);
  assert.deepEqual(Object.keys(link.payload), ["email", "updateTo", "requestType", "userId", "iat", "exp"]);
  assert.deepEqual({ ...link.payload, iat: 0, exp: 0 },
    { email, updateTo: newEmail, requestType: "change-email-verification", userId, iat: 0, exp: 0 });
  assert.equal(expectClientOk(await client.getSession(), server).user.email, email, "nothing changed yet");
  // The confirmation works once.
  expectClientError(await client.verifyEmail({ query: { token: confirmation.token } }), 401, "INVALID_TOKEN", "Invalid token");
  assert.equal((await raw(server, "GET", relative(confirmation.url))).headers.location, "/settings?error=INVALID_TOKEN");

  // The link to the new address, from a mail app: the change, still verified, and the notice.
  const res = await raw(server, "GET", relative(link.url));
  assert.equal(res.status, 302, describe(res, server));
  assert.equal(res.headers.location, "/");
  const user = expectClientOk(await client.getSession(), server).user;
  assert.equal(user.email, newEmail);
  assert.equal(user.emailVerified, true);
  expectNotice(server, email, newEmail, userId);
  assert.equal(server.mails().length - before, 3);
  expectClientError(await client.verifyEmail({ query: { token: link.token } }), 401, "INVALID_TOKEN");
});

test("change-email of a verified address with a bearer client: confirmation, link, change, notice", T, async () => {
  const bearer = mlBearerClient(server, { origin: server.origin });
  const email = uniqueEmail("sam");
  const up = expectClientOk(await bearer.client.signUp.email({ name: "Sam", email, password: PASSWORD }), server);
  expectClientOk(await bearer.client.sendVerificationEmail({ email }), server);
  expectClientOk(await bearer.client.verifyEmail({ query: { token: server.lastMail("verify-email").token } }), server);
  const newEmail = uniqueEmail("sam-new");
  assert.deepEqual(expectClientOk(await bearer.client.changeEmail({ newEmail }), server), { status: true });
  assert.equal(server.mails().filter((m) => m.email === newEmail).length, 0, "nothing to the new address yet");
  const confirmation = confirmationMail(server, email);
  assert.equal(confirmation.payload.requestType, "change-email-confirmation");
  assert.deepEqual(expectClientOk(await bearer.client.verifyEmail({ query: { token: confirmation.token } }), server), { status: true });
  const data = expectClientOk(await bearer.client.verifyEmail({ query: { token: changeMail(server, newEmail).token } }), server);
  assert.equal(data.user.email, newEmail);
  assert.equal(data.user.emailVerified, true);
  assert.equal(expectClientOk(await bearer.client.getSession(), server).user.email, newEmail);
  expectNotice(server, email, newEmail, up.user.id);
});

test("change-email confirmation links that no longer apply: superseded, another user's session, replayed, stale, expired, never issued, malformed; taken addresses reveal nothing", T, async () => {
  const { client, email } = await verifiedUser(server, "tia");
  const userId = expectClientOk(await client.getSession(), server).user.id;
  const other = await signUp(server, { email: uniqueEmail("ulf") });

  // Superseded: only the newest request's link works.
  const first = uniqueEmail("tia-typo");
  const second = uniqueEmail("tia-second");
  expectClientOk(await client.changeEmail({ newEmail: first }), server);
  const firstLink = confirmationMail(server, email);
  expectClientOk(await client.changeEmail({ newEmail: second }), server);
  const secondLink = confirmationMail(server, email);
  expectClientError(await client.verifyEmail({ query: { token: firstLink.token } }), 401, "INVALID_TOKEN");
  // Another user's session: Better Auth's INVALID_USER; the link stays good for its owner.
  let res = await raw(server, "GET", `/verify-email?token=${secondLink.token}`, { cookie: other.cookie });
  expectError(res, 401, "INVALID_USER", "Invalid user", server);
  res = await raw(server, "GET", `/verify-email?token=${secondLink.token}&callbackURL=%2Fc`, { cookie: other.cookie });
  assert.equal(res.headers.location, "/c?error=INVALID_USER");
  assert.equal(server.mails().filter((m) => m.email === second || m.email === first).length, 0);
  expectClientOk(await client.verifyEmail({ query: { token: secondLink.token } }), server);
  const secondVerification = changeMail(server, second);
  // Replayed.
  expectClientError(await client.verifyEmail({ query: { token: secondLink.token } }), 401, "INVALID_TOKEN");
  // A new request voids the link an earlier confirmation mailed to the new address.
  const third = uniqueEmail("tia-third");
  expectClientOk(await client.changeEmail({ newEmail: third }), server);
  const thirdLink = confirmationMail(server, email);
  expectClientError(await client.verifyEmail({ query: { token: secondVerification.token } }), 401, "INVALID_TOKEN");
  // Expired, or signed with the secret but never issued by this server.
  const now = Math.floor(Date.now() / 1000);
  const claims = { email, updateTo: uniqueEmail("tia-forged"), requestType: "change-email-confirmation", userId };
  expectClientError(await client.verifyEmail({ query: { token: signedToken({ ...claims, iat: now - 7200, exp: now - 3600 }) } }), 401, "TOKEN_EXPIRED");
  expectClientError(await client.verifyEmail({ query: { token: signedToken({ ...claims, iat: now, exp: now + 3600 }) } }), 401, "INVALID_TOKEN");
  // Malformed claims: no userId, updateTo not an address.
  const { userId: _, ...withoutUser } = claims;
  expectClientError(await client.verifyEmail({ query: { token: signedToken({ ...withoutUser, iat: now, exp: now + 3600 }) } }), 401, "INVALID_TOKEN");
  expectClientError(await client.verifyEmail({ query: { token: signedToken({ ...claims, updateTo: "not-an-email", iat: now, exp: now + 3600 }) } }), 401, "INVALID_TOKEN");
  // Stale: the email is no longer the one the link was made for (an operator changed it).
  server.sql(`UPDATE "user" SET email = ${q(uniqueEmail("tia-moved"))} WHERE id = ${q(userId)}`);
  expectClientError(await client.verifyEmail({ query: { token: thirdLink.token } }), 401, "INVALID_TOKEN");
  server.sql(`UPDATE "user" SET email = ${q(email)} WHERE id = ${q(userId)}`);
  assert.equal(server.mails().filter((m) => [first, third, claims.updateTo].includes(m.email)).length, 0, "no link went to those addresses");

  // A taken address: the same answers after the same time, the confirmation mailed all the
  // same; only the link to the new address is left out.
  for (const target of [other.email, uniqueEmail("tia-free")]) {
    let started = Date.now();
    assert.deepEqual(expectClientOk(await client.changeEmail({ newEmail: target }), server), { status: true });
    assert.ok(Date.now() - started >= 450, "answers take at least ~500 ms either way");
    const link = confirmationMail(server, email);
    assert.equal(link.payload.updateTo, target);
    const before = server.mails().length;
    started = Date.now();
    assert.deepEqual(expectClientOk(await client.verifyEmail({ query: { token: link.token } }), server), { status: true });
    assert.ok(Date.now() - started >= 450, "answers take at least ~500 ms either way");
    assert.equal(server.mails().length - before, target === other.email ? 0 : 1);
  }
  assert.equal(expectClientOk(await client.getSession(), server).user.email, email);
  assert.equal(userByEmail(server, other.email).id, other.user.id);
});

test("--disable-change-email-confirmation: a verified address gets the link straight to the new address (Better Auth's reference flow)", T, async () => {
  const s = await startMailServer({ tag: "mail-noconfirm", args: ["--disable-change-email-confirmation"] });
  try {
    const { client, email } = await verifiedUser(s, "vic");
    const newEmail = uniqueEmail("vic-new");
    const before = s.mails().length;
    expectClientOk(await client.changeEmail({ newEmail }), s);
    const mails = s.mails().slice(before);
    assert.equal(mails.length, 1);
    assert.equal(mails[0].kind, "verify-email");
    assert.equal(mails[0].email, newEmail);
    const link = changeMail(s, newEmail);
    assert.equal(link.payload.requestType, "change-email-verification");
    assert.equal(expectClientOk(await client.verifyEmail({ query: { token: link.token } }), s).user.email, newEmail);
    expectNotice(s, email, newEmail, link.userId);
  } finally { await s.stop(); }
});

test("SMTP refusing the notice to the old address: the change stands, the failure is logged (kernia.mail)", T, async () => {
  const dir = makeTempDir("smtp-notice");
  const email = uniqueEmail("wyn");
  const sink = await startSmtpSink(dir, ["--refuse-rcpt", email]);
  const s = await startMailServer({
    tag: "smtp-notice",
    args: ["--smtp-url", `smtp://127.0.0.1:${sink.port}`, "--smtp-tls", "none", "--smtp-from", "no-reply@kernia.example"],
  });
  try {
    const { client } = mlCookieClient(s);
    expectClientOk(await client.signUp.email({ name: "Wyn", email, password: PASSWORD }), s);
    const newEmail = uniqueEmail("wyn-new");
    expectClientOk(await client.changeEmail({ newEmail }), s);
    assert.deepEqual(sink.mails().map((m) => m.rcpt_tos), [[newEmail]], "the link reached the new address");
    const link = changeMail(s, newEmail);
    const res = await raw(s, "GET", relative(link.url));
    assert.equal(res.status, 302, describe(res, s));
    assert.equal(res.headers.location, "/");
    assert.equal(expectClientOk(await client.getSession(), s).user.email, newEmail);
    assert.equal(userByEmail(s, email), undefined);
    assert.equal(sink.mails().length, 1, "the SMTP server refused the notice");
    for (let i = 0; i < 40 && !/could not send the email-changed mail/.test(s.stderr()); i++) await sleep(50);
    assert.match(s.stderr(), /kernia\.mail: could not send the email-changed mail for \/verify-email: .*550/, s.logs());
  } finally { await s.stop(); await sink.stop(); }
});

test("password reset: requestPasswordReset → mailed link → 302 with token → resetPassword; single use", T, async () => {
  const { client } = mlCookieClient(server);
  const ivo = await signUp(server, { name: "Ivo" });
  const before = server.mails().length;
  assert.deepEqual(expectClientOk(await client.requestPasswordReset({ email: uniqueEmail("nobody") }), server),
    { status: true, message: RESET_MESSAGE });
  assert.equal(server.mails().length, before, "no mail for an unknown address");
  assert.deepEqual(expectClientOk(await client.requestPasswordReset({ email: ivo.email.toUpperCase(), redirectTo: "/reset" }), server),
    { status: true, message: RESET_MESSAGE });
  const mail = server.lastMail("reset-password");
  assert.equal(mail.email, ivo.email);
  assert.equal(mail.userId, ivo.user.id);
  assert.match(mail.token, /^[A-Za-z0-9]{24}$/);
  assert.equal(mail.url, `${server.base}/reset-password/${mail.token}?callbackURL=%2Freset`);

  let res = await raw(server, "GET", relative(mail.url));
  assert.equal(res.status, 302, describe(res, server));
  assert.equal(res.headers.location, `${server.origin}/reset?token=${mail.token}`);
  res = await raw(server, "GET", "/reset-password/unknownToken123?callbackURL=/reset");
  assert.equal(res.headers.location, `${server.origin}/reset?error=INVALID_TOKEN`);

  expectClientError(await client.resetPassword({ newPassword: "short", token: mail.token }), 400, "PASSWORD_TOO_SHORT");
  assert.deepEqual(expectClientOk(await client.resetPassword({ newPassword: "resetpass123", token: mail.token }), server), { status: true });
  expectClientError(await client.resetPassword({ newPassword: "resetpass456", token: mail.token }), 400, "INVALID_TOKEN", "Invalid token");
  res = await raw(server, "GET", relative(mail.url));
  assert.equal(res.headers.location, `${server.origin}/reset?error=INVALID_TOKEN`, "a used token no longer redirects with it");
  let signIn = await raw(server, "POST", "/sign-in/email", { json: { email: ivo.email, password: PASSWORD }, origin: true });
  expectError(signIn, 401, "INVALID_EMAIL_OR_PASSWORD", undefined, server);
  signIn = await raw(server, "POST", "/sign-in/email", { json: { email: ivo.email, password: "resetpass123" }, origin: true });
  expectOk(signIn, server);
});

/** A signed-up user who verified the address (cookie client). */
async function verifiedUser(s, tag) {
  const { client } = mlCookieClient(s);
  const email = uniqueEmail(tag);
  expectClientOk(await client.signUp.email({ name: tag, email, password: PASSWORD }), s);
  expectClientOk(await client.sendVerificationEmail({ email }), s);
  expectClientOk(await client.verifyEmail({ query: { token: s.lastMail("verify-email").token } }), s);
  return { client, email };
}

async function resetPasswordOf(s, email, newPassword) {
  const { client } = mlCookieClient(s);
  expectClientOk(await client.requestPasswordReset({ email }), s);
  expectClientOk(await client.resetPassword({ newPassword, token: s.lastMail("reset-password").token }), s);
}

test("password reset ends the user's sessions; --keep-sessions-on-password-reset keeps a verified user's (Better Auth's default)", T, async () => {
  const user = await verifiedUser(server, "revoke");
  await resetPasswordOf(server, user.email, "resetpass123");
  assert.equal((await user.client.getSession()).data, null, "signed out by the reset");

  const s = await startMailServer({ tag: "mail-keep", args: ["--keep-sessions-on-password-reset"] });
  try {
    const kept = await verifiedUser(s, "keep");
    await resetPasswordOf(s, kept.email, "resetpass123");
    assert.equal(expectClientOk(await kept.client.getSession(), s).user.email, kept.email, "still signed in");
    // An unverified user's sessions end all the same: the reset proves the mailbox.
    const { client } = mlCookieClient(s);
    const email = uniqueEmail("unproven");
    expectClientOk(await client.signUp.email({ name: "U", email, password: PASSWORD }), s);
    await resetPasswordOf(s, email, "resetpass123");
    assert.equal((await client.getSession()).data, null);
  } finally { await s.stop(); }
});

test("password reset bad input: untrusted redirectTo → 403, no token → 400, missing callbackURL → 400", T, async () => {
  const { client } = mlCookieClient(server);
  expectClientError(await client.requestPasswordReset({ email: uniqueEmail("x"), redirectTo: "https://evil.example/" }),
    403, "INVALID_REDIRECT_URL", "Invalid redirectURL");
  expectClientError(await client.resetPassword({ newPassword: "resetpass123" }), 400, "INVALID_TOKEN");
  const res = await raw(server, "GET", "/reset-password/abc");
  expectError(res, 400, "VALIDATION_ERROR", "[query.callbackURL] Invalid input: expected string, received undefined", server);
});

test("without a mailer: verification, change-email, reset and magic link answer 'not enabled'", T, async () => {
  const s = await startServer({ tag: "nomail" });
  try {
    const { client } = mlCookieClient(s);
    expectClientError(await client.sendVerificationEmail({ email: uniqueEmail("a") }), 400, "VERIFICATION_EMAIL_NOT_ENABLED", "Verification email isn't enabled");
    expectClientError(await client.requestPasswordReset({ email: uniqueEmail("a") }), 400, "RESET_PASSWORD_DISABLED", "Reset password isn't enabled");
    expectClientError(await client.signIn.magicLink({ email: uniqueEmail("a") }), 400, "MAGIC_LINK_NOT_ENABLED");
    expectClientOk(await client.signUp.email({ name: "A", email: uniqueEmail("a"), password: PASSWORD }), s);
    const res = await client.changeEmail({ newEmail: uniqueEmail("b") });
    expectClientError(res, 400, undefined, "Verification email isn't enabled");
    assert.equal(res.error.code, undefined, "Better Auth's answer has no code");
  } finally { await s.stop(); }
});

test("--disable-change-email: 400 CHANGE_EMAIL_DISABLED", T, async () => {
  const s = await startMailServer({ tag: "mail-nochange", args: ["--disable-change-email"] });
  try {
    const { client } = mlCookieClient(s);
    expectClientOk(await client.signUp.email({ name: "A", email: uniqueEmail("a"), password: PASSWORD }), s);
    expectClientError(await client.changeEmail({ newEmail: uniqueEmail("b") }), 400, "CHANGE_EMAIL_DISABLED", "Change email is disabled");
    assert.equal(s.mails().length, 0);
  } finally { await s.stop(); }
});

test("SMTP + outbox: every mail reaches the local SMTP server and the outbox", T, async () => {
  const dir = makeTempDir("smtp");
  const sink = await startSmtpSink(dir);
  const s = await startMailServer({
    tag: "smtp",
    args: ["--smtp-url", `smtp://127.0.0.1:${sink.port}`, "--smtp-tls", "none", "--smtp-from", "Kernia <no-reply@kernia.example>"],
  });
  try {
    const { client } = mlCookieClient(s);
    const email = uniqueEmail("smtp");
    expectClientOk(await client.signIn.magicLink({ email, callbackURL: "/in" }), s);
    const outboxMail = s.lastMail("magic-link");
    const mails = sink.mails();
    assert.equal(mails.length, 1);
    assert.deepEqual(mails[0].rcpt_tos, [email]);
    assert.equal(mails[0].mail_from, "no-reply@kernia.example");
    assert.equal(mails[0].subject, "Your sign-in link");
    assert.ok(mails[0].text.includes(outboxMail.url), `the mailed text carries the link:\n${mails[0].text}`);
    // The link from the SMTP mail works.
    const url = /(http:\/\/\S+magic-link\/verify\S+)/.exec(mails[0].text)[1];
    const res = await raw(s, "GET", relative(url));
    assert.equal(res.status, 302);
    assert.equal(res.headers.location, `${s.origin}/in`);
  } finally { await s.stop(); await sink.stop(); }
});

test("SMTP failure: magic link → 500 FAILED_TO_SEND_EMAIL; reset still answers 200 (no enumeration)", T, async () => {
  const s = await startServer({
    tag: "smtp-down",
    args: ["--smtp-url", "smtp://127.0.0.1:9", "--smtp-tls", "none", "--smtp-from", "no-reply@kernia.example", "--smtp-timeout", "5"],
  });
  try {
    const { client } = mlCookieClient(s);
    expectClientError(await client.signIn.magicLink({ email: uniqueEmail("down") }), 500, "FAILED_TO_SEND_EMAIL");
    const ivo = await signUp(s, { name: "Down" });
    assert.deepEqual(expectClientOk(await client.requestPasswordReset({ email: ivo.email }), s), { status: true, message: RESET_MESSAGE });
    for (let i = 0; i < 40 && !/could not send the reset-password mail/.test(s.stderr()); i++) await sleep(50);
    assert.match(s.stderr(), /could not send the reset-password mail/, "the operator sees the failure in the log");
  } finally { await s.stop(); }
});

// Mail and the 500 ms floor of "no enumeration" answers must not hold a request loop: one
// loop here, two magic links waiting for an SMTP server that never greets, four padded
// resets, and /ok must still answer at once. (They used to run on the loop: /ok waited
// for both mail timeouts.)
test("slow mail and padded answers never hold up other requests", T, async () => {
  const silent = net.createServer(() => {});   // accepts, never says a word
  await new Promise((resolve) => silent.listen(0, "127.0.0.1", resolve));
  const s = await startServer({
    tag: "smtp-silent",
    args: ["--worker-threads", "1", "--smtp-url", `smtp://127.0.0.1:${silent.address().port}`, "--smtp-tls", "none",
      "--smtp-from", "no-reply@kernia.example", "--smtp-timeout", "3"],
  });
  try {
    const timed = async (request) => { const started = Date.now(); const res = await request; return { res, ms: Date.now() - started }; };
    const magicLinks = [1, 2].map(() => timed(raw(s, "POST", "/sign-in/magic-link", { json: { email: uniqueEmail("slow") }, origin: true })));
    const resets = [1, 2, 3, 4].map(() => timed(raw(s, "POST", "/request-password-reset", { json: { email: uniqueEmail("nobody") }, origin: true })));
    await sleep(150);
    const ok = await timed(raw(s, "GET", "/ok"));
    assert.equal(ok.res.status, 200);
    assert.ok(ok.ms < 400, `/ok took ${ok.ms} ms while mail requests were waiting`);
    for (const { res, ms } of await Promise.all(resets)) {
      assert.deepEqual(res.json, { status: true, message: RESET_MESSAGE }, describe(res, s));
      assert.ok(ms >= 450, `a reset for an unknown address answered after ${ms} ms, before its 500 ms floor`);
    }
    for (const { res, ms } of await Promise.all(magicLinks)) {
      expectError(res, 500, "FAILED_TO_SEND_EMAIL", undefined, s);
      assert.ok(ms < 5500, `the two magic links waited for each other (${ms} ms)`);
    }
  } finally {
    await s.stop();
    silent.close();
  }
});

test("bad SMTP settings stop the server at start-up with a clear message", T, async () => {
  const dir = makeTempDir("smtp-cli");
  const base = ["--port", "0", "--data-dir", dir, "--secret", "kernia-js-conformance-secret-0123456789A"];
  const cases = [
    [["--smtp-url", "http://mail.example.com", "--smtp-from", "a@example.com"], /--smtp-url must look like smtp:\/\/host:port/],
    [["--smtp-url", "smtps://mail.example.com", "--smtp-tls", "starttls", "--smtp-from", "a@example.com"], /contradicts smtps:\/\//],
    [["--smtp-url", "smtp://mail.example.com", "--smtp-tls", "bogus", "--smtp-from", "a@example.com"], /--smtp-tls must be/],
    [["--smtp-url", "smtp://mail.example.com"], /--smtp-from is required/],
    [["--smtp-url", "smtp://mail.example.com", "--smtp-from", "a@example.com", "--smtp-user", "u"], /no password/],
    [["--smtp-url", "smtp://mail.example.com", "--smtp-from", "a@example.com", "--smtp-user", "u", "--smtp-password", "p", "--smtp-tls", "none"], /clear text/],
    [["--smtp-from", "a@example.com"], /without --smtp-url/],
    [["--magic-link-expires-in", "0"], /--magic-link-expires-in must be a number between 1/],
  ];
  for (const [args, message] of cases) {
    const r = await runServerToExit([...base, ...args], { cwd: dir });
    assert.equal(r.timedOut, false, `must exit: ${args.join(" ")}`);
    assert.notEqual(r.code, 0, `non-zero exit for ${args.join(" ")}`);
    assert.match(r.stderr, message, `message for ${args.join(" ")}`);
    assert.doesNotMatch(r.stdout, /listening on/);
  }
  // KERNIA_SMTP_PASSWORD supplies the password; the config file's "smtp" object works too.
  const ok = await startServer({
    tag: "smtp-env", env: { KERNIA_SMTP_PASSWORD: "from-env" },
    config: { smtp: { url: "smtp://127.0.0.1:2525", user: "kernia", from: "a@example.com", tls: "none" },
      magic_link: { expires_in: 60, disable_sign_up: false, store_token: "hashed" } },
  });
  await ok.stop();
  const bad = await runServerToExit([...base, "--smtp-url", "smtp://127.0.0.1:2525", "--smtp-from", "a@example.com", "--smtp-user", "u"],
    { cwd: dir, env: { KERNIA_SMTP_PASSWORD: "" } });
  assert.notEqual(bad.code, 0);
});

test("change-password (official client): a verified address gets a password-changed notice without a link; a refused change mails nothing", T, async () => {
  const { client } = mlCookieClient(server);
  const email = uniqueEmail("pwd");
  expectClientOk(await client.signUp.email({ name: "Pat", email, password: PASSWORD }), server);
  expectClientOk(await client.sendVerificationEmail({ email }), server);
  expectClientOk(await client.verifyEmail({ query: { token: server.lastMail("verify-email").token } }), server);
  const notices = () => server.mails().filter((m) => m.kind === "password-changed" && m.email === email);

  expectClientError(await client.changePassword({ currentPassword: "wrong-password", newPassword: "password456" }),
    400, "INVALID_PASSWORD");
  assert.equal(notices().length, 0);
  expectClientOk(await client.changePassword({ currentPassword: PASSWORD, newPassword: "password456" }), server);
  assert.equal(notices().length, 1);
  const notice = notices()[0];
  assert.equal(notice.subject, "Your password was changed");
  assert.equal(notice.url ?? "", "");
  assert.ok(!/https?:/.test(notice.text), notice.text);
  assert.ok(!notice.text.includes("password456"));
});

test("change-email links opened 6 times at once: the confirmation mails one link to the new address, that link changes the email once and sends one notice", T, async () => {
  const { client, email } = await verifiedUser(server, "conc");
  const newEmail = uniqueEmail("conc-new");
  expectClientOk(await client.changeEmail({ newEmail }), server);
  const confirmation = confirmationMail(server, email);
  const count = (kind, to) => server.mails().filter((m) => m.kind === kind && m.email === to.toLowerCase()).length;

  let answers = await Promise.all(Array.from({ length: 6 }, () => raw(server, "GET", relative(confirmation.url))));
  assert.deepEqual(answers.map((r) => r.status).sort(), [302, 302, 302, 302, 302, 302]);
  const errors = answers.map((r) => r.headers.location).filter((l) => l.includes("error="));
  assert.equal(errors.length, 5, JSON.stringify(answers.map((r) => r.headers.location)));
  assert.ok(errors.every((l) => l.endsWith("?error=INVALID_TOKEN")), JSON.stringify(errors));
  assert.equal(count("verify-email", newEmail), 1, "one link to the new address");

  const link = changeMail(server, newEmail);
  answers = await Promise.all(Array.from({ length: 6 }, () => raw(server, "GET", relative(link.url))));
  const changed = answers.filter((r) => !r.headers.location.includes("error="));
  assert.equal(changed.length, 1, JSON.stringify(answers.map((r) => r.headers.location)));
  assert.equal(expectClientOk(await client.getSession(), server).user.email, newEmail);
  assert.equal(count("email-changed", email), 1, "one notice");
});
