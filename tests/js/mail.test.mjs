// Email verification and password reset with the official client (sendVerificationEmail,
// verifyEmail, requestPasswordReset, resetPassword), tokens read from --mail-outbox;
// "not enabled" answers without a mailer; SMTP delivery to a real local SMTP server
// together with the outbox; start-up refusal of bad SMTP settings.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import {
  T, PASSWORD, startServer, runServerToExit, raw, makeTempDir, expectOk, expectError, expectClientOk,
  expectClientError, signUp, uniqueEmail, userByEmail, asBool, describe, sleep,
} from "./harness.mjs";
import { startMailServer, mlCookieClient, relative, startSmtpSink } from "./mail-helpers.mjs";

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

test("without a mailer: verification, reset and magic link answer 'not enabled'", T, async () => {
  const s = await startServer({ tag: "nomail" });
  try {
    const { client } = mlCookieClient(s);
    expectClientError(await client.sendVerificationEmail({ email: uniqueEmail("a") }), 400, "VERIFICATION_EMAIL_NOT_ENABLED", "Verification email isn't enabled");
    expectClientError(await client.requestPasswordReset({ email: uniqueEmail("a") }), 400, "RESET_PASSWORD_DISABLED", "Reset password isn't enabled");
    expectClientError(await client.signIn.magicLink({ email: uniqueEmail("a") }), 400, "MAGIC_LINK_NOT_ENABLED");
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
