// Passkeys with the official client: passkeyClient() from @better-auth/passkey/client (and
// its @simplewebauthn/browser) runs in Node against a global software authenticator that
// implements navigator.credentials.create/get with node:crypto keys (ES256, EdDSA, RS256)
// and produces real CBOR attestation objects ("none") and signed assertions.
// Raw HTTP covers what a well-behaved client never sends: replays, wrong origin/RP ID,
// garbage CBOR.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, randomBytes, sign as cryptoSign } from "node:crypto";

import { createAuthClient } from "better-auth/client";
import { anonymousClient } from "better-auth/client/plugins";
import { passkeyClient } from "@better-auth/passkey/client";

import {
  T, PASSWORD, SESSION_COOKIE, CookieJar, startServer, raw, expectError, expectOk, expectClientOk, expectClientError,
  expectUser, expectSession, uniqueEmail, userRow, sessionsOf, sqlite, q, describe,
} from "./harness.mjs";
import { startMailServer } from "./mail-helpers.mjs";

const CHALLENGE_COOKIE = "better-auth.better-auth-passkey";

// ---------------------------------------------------------------------------
// Minimal canonical CBOR encoder + base64url
// ---------------------------------------------------------------------------
function head(major, n) {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  if (n < 0x10000) { const b = Buffer.alloc(3); b[0] = (major << 5) | 25; b.writeUInt16BE(n, 1); return b; }
  const b = Buffer.alloc(5); b[0] = (major << 5) | 26; b.writeUInt32BE(n, 1); return b;
}
const cbor = {
  int: (v) => (v >= 0 ? head(0, v) : head(1, -1 - v)),
  bytes: (b) => Buffer.concat([head(2, b.length), Buffer.from(b)]),
  text: (s) => { const b = Buffer.from(s, "utf8"); return Buffer.concat([head(3, b.length), b]); },
  map: (entries) => Buffer.concat([head(5, entries.length), ...entries.flat()]),
};
const b64url = (b) => Buffer.from(b).toString("base64url");
const sha256 = (b) => createHash("sha256").update(b).digest();
const toArrayBuffer = (b) => { const u = Uint8Array.from(b); return u.buffer; };

// ---------------------------------------------------------------------------
// Software authenticator installed as navigator.credentials
// ---------------------------------------------------------------------------
class SoftAuthenticator {
  constructor() {
    this.credentials = new Map(); // credId(b64url) -> {alg, privateKey, counter, rpId}
    this.alg = -7;                // algorithm for the next create()
    this.origin = null;           // clientData origin (default: set per test)
    this.rpIdOverride = null;     // sign a different RP ID hash
    this.freezeCounter = false;   // do not increase the counter
    this.lastAssertion = null;    // the last AuthenticationResponse, JSON form
  }

  static coseKey(alg, publicKey) {
    const jwk = publicKey.export({ format: "jwk" });
    const d = (s) => Buffer.from(s, "base64url");
    if (alg === -7) return cbor.map([[cbor.int(1), cbor.int(2)], [cbor.int(3), cbor.int(-7)], [cbor.int(-1), cbor.int(1)],
      [cbor.int(-2), cbor.bytes(d(jwk.x))], [cbor.int(-3), cbor.bytes(d(jwk.y))]]);
    if (alg === -8) return cbor.map([[cbor.int(1), cbor.int(1)], [cbor.int(3), cbor.int(-8)], [cbor.int(-1), cbor.int(6)],
      [cbor.int(-2), cbor.bytes(d(jwk.x))]]);
    return cbor.map([[cbor.int(1), cbor.int(3)], [cbor.int(3), cbor.int(-257)],
      [cbor.int(-1), cbor.bytes(d(jwk.n))], [cbor.int(-2), cbor.bytes(d(jwk.e))]]);
  }

  static keyPair(alg) {
    if (alg === -7) return generateKeyPairSync("ec", { namedCurve: "P-256" });
    if (alg === -8) return generateKeyPairSync("ed25519");
    return generateKeyPairSync("rsa", { modulusLength: 2048 });
  }

  static signWith(alg, privateKey, data) {
    return cryptoSign(alg === -8 ? null : "sha256", data, privateKey); // ECDSA: DER
  }

  clientData(type, challenge) {
    return Buffer.from(JSON.stringify({ type, challenge: b64url(challenge), origin: this.origin, crossOrigin: false }));
  }

  async create({ publicKey: o }) {
    assert.ok(o.pubKeyCredParams.some((p) => p.alg === this.alg), "server offers the algorithm");
    for (const ex of o.excludeCredentials ?? []) {
      if (this.credentials.has(b64url(ex.id))) throw Object.assign(new Error("excluded"), { name: "InvalidStateError" });
    }
    const { publicKey, privateKey } = SoftAuthenticator.keyPair(this.alg);
    const credId = randomBytes(16);
    const rpId = o.rp.id;
    const len = Buffer.alloc(2); len.writeUInt16BE(credId.length);
    const authData = Buffer.concat([sha256(this.rpIdOverride ?? rpId), Buffer.from([0x45]), Buffer.alloc(4),
      Buffer.alloc(16), len, credId, SoftAuthenticator.coseKey(this.alg, publicKey)]);
    const clientDataJSON = this.clientData("webauthn.create", Buffer.from(o.challenge));
    const attestationObject = cbor.map([[cbor.text("fmt"), cbor.text("none")], [cbor.text("attStmt"), cbor.map([])],
      [cbor.text("authData"), cbor.bytes(authData)]]);
    this.credentials.set(b64url(credId), { alg: this.alg, privateKey, counter: 0, rpId });
    const alg = this.alg;
    return {
      id: b64url(credId), rawId: toArrayBuffer(credId), type: "public-key", authenticatorAttachment: "platform",
      response: {
        clientDataJSON: toArrayBuffer(clientDataJSON), attestationObject: toArrayBuffer(attestationObject),
        getTransports: () => ["internal"], getPublicKeyAlgorithm: () => alg, getAuthenticatorData: () => toArrayBuffer(authData),
        getPublicKey: () => null,
      },
      getClientExtensionResults: () => ({}),
    };
  }

  async get({ publicKey: o }) {
    const allowed = (o.allowCredentials ?? []).map((c) => b64url(c.id));
    const entry = [...this.credentials].reverse().find(([id, c]) => c.rpId === o.rpId && (allowed.length === 0 || allowed.includes(id)));
    if (!entry) throw Object.assign(new Error("no credential"), { name: "NotAllowedError" });
    const [id, cred] = entry;
    if (!this.freezeCounter) cred.counter += 1;
    const counter = Buffer.alloc(4); counter.writeUInt32BE(cred.counter);
    const authData = Buffer.concat([sha256(this.rpIdOverride ?? o.rpId), Buffer.from([0x05]), counter]);
    const clientDataJSON = this.clientData("webauthn.get", Buffer.from(o.challenge));
    const signature = SoftAuthenticator.signWith(cred.alg, cred.privateKey, Buffer.concat([authData, sha256(clientDataJSON)]));
    const credId = Buffer.from(id, "base64url");
    this.lastAssertion = {
      id, rawId: id, type: "public-key",
      response: { clientDataJSON: b64url(clientDataJSON), authenticatorData: b64url(authData), signature: b64url(signature),
        userHandle: b64url("handle") },
      clientExtensionResults: {}, authenticatorAttachment: "platform",
    };
    return {
      id, rawId: toArrayBuffer(credId), type: "public-key", authenticatorAttachment: "platform",
      response: { clientDataJSON: toArrayBuffer(clientDataJSON), authenticatorData: toArrayBuffer(authData),
        signature: toArrayBuffer(signature), userHandle: toArrayBuffer(Buffer.from("handle")) },
      getClientExtensionResults: () => ({}),
    };
  }
}

const authenticator = new SoftAuthenticator();
// What a browser provides and @simplewebauthn/browser looks for.
globalThis.PublicKeyCredential ??= class PublicKeyCredential {};
Object.defineProperty(globalThis, "navigator", {
  value: { credentials: { create: (o) => authenticator.create(o), get: (o) => authenticator.get(o) }, userAgent: "node" },
  configurable: true, writable: true,
});

/** Official client with a cookie jar, the passkey and anonymous plugins. */
function passkeyCookieClient(server, { origin = server.origin, jar = new CookieJar() } = {}) {
  const customFetchImpl = async (input, init) => {
    const headers = new Headers(init?.headers ?? {});
    const cookie = jar.header();
    if (cookie) headers.set("cookie", cookie); else headers.delete("cookie");
    if (origin) headers.set("origin", origin);
    const url = typeof input === "string" ? input : input.toString();
    const res = await fetch(url, { method: init?.method ?? "GET", headers, body: init?.body ?? undefined, redirect: "manual" });
    jar.store(res.headers.getSetCookie());
    return res;
  };
  const client = createAuthClient({ baseURL: server.base, plugins: [passkeyClient(), anonymousClient()], fetchOptions: { customFetchImpl } });
  return { client, jar, cookie: () => jar.header() };
}

async function signedUpClient(server, tag = "pk") {
  const c = passkeyCookieClient(server);
  const email = uniqueEmail(tag);
  const up = expectClientOk(await c.client.signUp.email({ name: "Pat", email, password: PASSWORD }), server);
  return { ...c, user: up.user, email };
}

const LINK_AUDIT = "INSERT INTO link_audit(anon, new_user, path) VALUES (:anonymous_user_id, :new_user_id, 'x')";
let server;
let nativeServer;
before(async () => {
  server = await startServer({
    tag: "passkey",
    setupDb: (db) => sqlite(db, "CREATE TABLE link_audit(anon TEXT, new_user TEXT, path TEXT);"),
    config: { anonymous: { on_link: { sql: [LINK_AUDIT] } } },
  });
  nativeServer = await startServer({
    tag: "passkey-native",
    args: ["--passkey-rp-id", "app.example", "--passkey-rp-name", "Example App",
      "--passkey-origin", "android:apk-key-hash:Zm9vYmFy", "--passkey-origin", "https://app.example"],
  });
});
after(async () => { await server?.stop(); await nativeServer?.stop(); });

function resetAuthenticator(s, alg = -7) {
  authenticator.alg = alg;
  authenticator.origin = s.origin;
  authenticator.rpIdOverride = null;
  authenticator.freezeCounter = false;
  authenticator.credentials.clear(); // a fresh device per test
}

for (const [alg, name] of [[-7, "ES256"], [-8, "EdDSA"], [-257, "RS256"]]) {
  test(`official client (${name}): register, list, update, sign out, sign in with the passkey, delete`, T, async () => {
    resetAuthenticator(server, alg);
    const { client, user } = await signedUpClient(server, `pk-${name}`);
    const added = expectClientOk(await client.passkey.addPasskey({ name: `${name} key` }), server);
    assert.equal(added.name, `${name} key`);
    assert.equal(added.userId, user.id);
    assert.equal(added.counter, 0);
    assert.equal(added.deviceType, "singleDevice");
    assert.equal(added.backedUp, false);
    assert.equal(added.transports, "internal");
    assert.equal(added.aaguid, "00000000-0000-0000-0000-000000000000");
    assert.ok(authenticator.credentials.has(added.credentialID), "credentialID = base64url of the authenticator's id");
    const cose = Buffer.from(added.publicKey, "base64");
    assert.equal(cose[0] & 0xe0, 0xa0, "publicKey is standard base64 of a CBOR map");

    const list = expectClientOk(await client.passkey.listUserPasskeys(), server);
    assert.deepEqual(list.map((p) => p.id), [added.id]);
    const updated = expectClientOk(await client.passkey.updatePasskey({ id: added.id, name: " renamed " }), server);
    assert.equal(updated.passkey.name, "renamed");

    expectClientOk(await client.signOut(), server);
    assert.equal((await client.getSession()).data, null);
    const signedIn = expectClientOk(await client.signIn.passkey(), server);
    expectUser(signedIn.user, { id: user.id, isAnonymous: false });
    expectSession(signedIn.session, { userId: user.id });
    const session = expectClientOk(await client.getSession(), server);
    assert.equal(session.user.id, user.id);
    const row = server.sql(`SELECT counter FROM passkey WHERE id = ${q(added.id)}`)[0];
    assert.equal(Number(row.counter), 1, "counter stored");

    assert.deepEqual(expectClientOk(await client.passkey.deletePasskey({ id: added.id }), server), { status: true });
    assert.deepEqual(expectClientOk(await client.passkey.listUserPasskeys(), server), []);
  });
}

test("official client: generate-register-options needs a session; unknown passkey id errors", T, async () => {
  resetAuthenticator(server);
  const { client } = passkeyCookieClient(server);
  const r = await client.passkey.addPasskey();
  expectClientError(r, 401, "UNAUTHORIZED");
  const { client: c2 } = await signedUpClient(server);
  expectClientError(await c2.passkey.deletePasskey({ id: "nope" }), 404, "PASSKEY_NOT_FOUND");
  expectClientError(await c2.passkey.updatePasskey({ id: "nope", name: "x" }), 404, "PASSKEY_NOT_FOUND");
});

test("guest signs in with an existing account's passkey: session for the account, on_link once, guest gone", T, async () => {
  resetAuthenticator(server);
  const owner = await signedUpClient(server, "owner");
  expectClientOk(await owner.client.passkey.addPasskey(), server);

  const guest = passkeyCookieClient(server);
  const anon = expectClientOk(await guest.client.signIn.anonymous(), server);
  const guestCookie = `${SESSION_COOKIE}=${guest.jar.get(SESSION_COOKIE)}`;
  const res = expectClientOk(await guest.client.signIn.passkey(), server);
  assert.equal(res.user.id, owner.user.id);
  const audit = server.sql(`SELECT * FROM link_audit WHERE anon = ${q(anon.user.id)}`);
  assert.deepEqual(audit.map((r) => r.new_user), [owner.user.id], "on_link ran exactly once");
  assert.equal(userRow(server, anon.user.id), undefined, "guest deleted");
  assert.equal(sessionsOf(server, anon.user.id).length, 0);
  const old = await raw(server, "GET", "/get-session", { cookie: guestCookie });
  assert.equal(old.text.trim(), "null");
  assert.equal(expectClientOk(await guest.client.getSession(), server).user.id, owner.user.id);
});

test("guest signs in with its own passkey: guest kept", T, async () => {
  resetAuthenticator(server, -8);
  const guest = passkeyCookieClient(server);
  const anon = expectClientOk(await guest.client.signIn.anonymous(), server);
  const added = expectClientOk(await guest.client.passkey.addPasskey(), server);
  assert.equal(added.userId, anon.user.id);
  const res = expectClientOk(await guest.client.signIn.passkey(), server);
  assert.equal(res.user.id, anon.user.id);
  assert.equal(res.user.isAnonymous, true);
  assert.ok(userRow(server, anon.user.id), "guest kept");
});

/** Raw helpers: a challenge cookie + the options. */
async function authOptions(s, cookie) {
  const r = await raw(s, "GET", "/passkey/generate-authenticate-options", { cookie });
  expectOk(r, s);
  const c = r.setCookies.find((x) => x.startsWith(`${CHALLENGE_COOKIE}=`));
  assert.ok(c, `challenge cookie; got ${describe(r)}`);
  assert.match(c, /; Max-Age=300; Path=\/; HttpOnly; SameSite=Lax$/);
  return { options: r.json, cookie: c.split(";")[0] };
}

async function ownerWithPasskey(s, alg = -7) {
  resetAuthenticator(s, alg);
  const owner = await signedUpClient(s, "raw");
  const added = expectClientOk(await owner.client.passkey.addPasskey(), s);
  return { owner, added };
}

test("pre-account hijack: the owner's password reset ends the passkey and session of whoever signed up with the address first", T, async () => {
  const s = await startMailServer({ tag: "prehijack" });
  try {
    resetAuthenticator(s);
    // The attacker signs up with the victim's address (unverified; sign-up signs in) and adds a passkey.
    const attacker = await signedUpClient(s, "victim");
    expectClientOk(await attacker.client.passkey.addPasskey(), s);
    // The owner: "forgot password" → mailed link → new password.
    expectOk(await raw(s, "POST", "/request-password-reset", { json: { email: attacker.email, redirectTo: "/reset" }, origin: true }), s);
    const mail = s.lastMail("reset-password");
    assert.equal(mail.email, attacker.email);
    expectOk(await raw(s, "POST", "/reset-password", { json: { token: mail.token, newPassword: "ownerpassword123" }, origin: true }), s);
    // The attacker's session and passkey no longer work.
    assert.equal((await attacker.client.getSession()).data, null, "the attacker's session is revoked");
    const stranger = passkeyCookieClient(s);
    expectClientError(await stranger.client.signIn.passkey(), 401, "PASSKEY_NOT_FOUND");
    assert.equal(s.sql(`SELECT count(*) AS n FROM passkey WHERE userId = ${q(attacker.user.id)}`)[0].n, 0);
    // The owner signs in with the new password; the address counts as verified.
    const owner = await raw(s, "POST", "/sign-in/email", { json: { email: attacker.email, password: "ownerpassword123" }, origin: true });
    expectOk(owner, s);
    assert.equal(owner.json.user.id, attacker.user.id);
    assert.equal(owner.json.user.emailVerified, true);
    expectError(await raw(s, "POST", "/sign-in/email", { json: { email: attacker.email, password: PASSWORD }, origin: true }),
      401, "INVALID_EMAIL_OR_PASSWORD", undefined, s);
  } finally { await s.stop(); }
});

test("replayed assertion: spent challenge → 400 CHALLENGE_NOT_FOUND; new challenge → 400 AUTHENTICATION_FAILED", T, async () => {
  await ownerWithPasskey(server);
  const { options, cookie } = await authOptions(server);
  await authenticator.get({ publicKey: { ...options, challenge: Buffer.from(options.challenge, "base64url") } });
  const assertion = authenticator.lastAssertion;
  const ok = await raw(server, "POST", "/passkey/verify-authentication", { json: { response: assertion }, origin: true, cookie });
  expectOk(ok, server);
  const again = await raw(server, "POST", "/passkey/verify-authentication", { json: { response: assertion }, origin: true, cookie });
  expectError(again, 400, "CHALLENGE_NOT_FOUND", "Challenge not found", server);
  const fresh = await authOptions(server);
  const replay = await raw(server, "POST", "/passkey/verify-authentication", { json: { response: assertion }, origin: true, cookie: fresh.cookie });
  expectError(replay, 400, "AUTHENTICATION_FAILED", "Authentication failed", server);
});

test("cloned authenticator (counter does not increase) → 400 AUTHENTICATION_FAILED", T, async () => {
  const { owner } = await ownerWithPasskey(server, -257);
  expectClientOk(await owner.client.signIn.passkey(), server);
  authenticator.freezeCounter = true;
  expectClientError(await owner.client.signIn.passkey(), 400, "AUTHENTICATION_FAILED");
});

test("wrong origin and wrong RP ID in the signed data → 400 AUTHENTICATION_FAILED (official client)", T, async () => {
  const { owner } = await ownerWithPasskey(server);
  authenticator.origin = "https://evil.example";
  expectClientError(await owner.client.signIn.passkey(), 400, "AUTHENTICATION_FAILED");
  authenticator.origin = server.origin;
  authenticator.rpIdOverride = "evil.example";
  expectClientError(await owner.client.signIn.passkey(), 400, "AUTHENTICATION_FAILED");
  authenticator.rpIdOverride = null;
  expectClientOk(await owner.client.signIn.passkey(), server);
  // registration with a wrong origin (from another device: the first one is excluded)
  authenticator.credentials.clear();
  authenticator.origin = "https://evil.example";
  expectClientError(await owner.client.passkey.addPasskey(), 400, "FAILED_TO_VERIFY_REGISTRATION");
});

test("bad signature → 401 AUTHENTICATION_FAILED", T, async () => {
  await ownerWithPasskey(server);
  const { options, cookie } = await authOptions(server);
  await authenticator.get({ publicKey: { ...options, challenge: Buffer.from(options.challenge, "base64url") } });
  const assertion = structuredClone(authenticator.lastAssertion);
  const sig = Buffer.from(assertion.response.signature, "base64url");
  sig[sig.length - 2] ^= 0x01;
  assertion.response.signature = b64url(sig);
  const r = await raw(server, "POST", "/passkey/verify-authentication", { json: { response: assertion }, origin: true, cookie });
  expectError(r, 401, "AUTHENTICATION_FAILED", "Authentication failed", server);
});

test("garbage CBOR and malformed responses: 4xx with a code, never 500", T, async () => {
  const { owner, added } = await ownerWithPasskey(server);
  const garbage = [Buffer.from([]), Buffer.from("ff", "hex"), Buffer.from("bf5bffffffffffffffff", "hex"),
    Buffer.from("a3636d6d", "hex"), randomBytes(300), Buffer.from("9f".repeat(400), "hex")];
  for (const g of garbage) {
    // registration: a real challenge + garbage attestation object
    const session = `${SESSION_COOKIE}=${owner.jar.get(SESSION_COOKIE)}`;
    const o = await raw(server, "GET", "/passkey/generate-register-options", { cookie: session });
    expectOk(o, server);
    const cookie = `${session}; ${o.setCookies.find((x) => x.startsWith(CHALLENGE_COOKIE)).split(";")[0]}`;
    const id = b64url(randomBytes(16));
    const cd = b64url(JSON.stringify({ type: "webauthn.create", challenge: o.json.challenge, origin: server.origin }));
    const reg = await raw(server, "POST", "/passkey/verify-registration", {
      json: { response: { id, rawId: id, type: "public-key", response: { clientDataJSON: cd, attestationObject: b64url(g) } } },
      origin: true, cookie });
    expectError(reg, 400, "FAILED_TO_VERIFY_REGISTRATION", "Failed to verify registration", server);

    // authentication: garbage authenticatorData / signature for a real passkey
    const a = await authOptions(server);
    const acd = b64url(JSON.stringify({ type: "webauthn.get", challenge: a.options.challenge, origin: server.origin }));
    const auth = await raw(server, "POST", "/passkey/verify-authentication", {
      json: { response: { id: added.credentialID, rawId: added.credentialID, type: "public-key",
        response: { clientDataJSON: acd, authenticatorData: b64url(g), signature: b64url(g) } } },
      origin: true, cookie: a.cookie });
    assert.ok(auth.status === 400 || auth.status === 401, describe(auth, server));
    expectError(auth, auth.status, "AUTHENTICATION_FAILED", undefined, server);
  }
  // not even JSON-shaped
  const a = await authOptions(server);
  for (const response of [{ id: added.credentialID }, { id: added.credentialID, rawId: added.credentialID, type: "public-key", response: "x" },
    { id: added.credentialID, rawId: added.credentialID, type: "public-key", response: { clientDataJSON: "%%%", authenticatorData: 5 } }]) {
    const fresh = await authOptions(server);
    const r = await raw(server, "POST", "/passkey/verify-authentication", { json: { response }, origin: true, cookie: fresh.cookie });
    expectError(r, 400, "AUTHENTICATION_FAILED", undefined, server);
  }
  const noResponse = await raw(server, "POST", "/passkey/verify-authentication", { json: {}, origin: true, cookie: a.cookie });
  expectError(noResponse, 400, "VALIDATION_ERROR", undefined, server);
  assert.equal(server.exited(), null, "server still running");
});

test("transcript 08 error paths", T, async () => {
  const noOrigin = await raw(server, "POST", "/passkey/verify-authentication", { json: { response: { id: "nope" } } });
  expectError(noOrigin, 400, null, "origin missing", server);
  const noCookie = await raw(server, "POST", "/passkey/verify-authentication", { json: { response: { id: "nope" } }, origin: true });
  expectError(noCookie, 400, "CHALLENGE_NOT_FOUND", "Challenge not found", server);
  const { cookie } = await authOptions(server);
  const unknown = await raw(server, "POST", "/passkey/verify-authentication", {
    json: { response: { id: "nope", rawId: "nope", type: "public-key", response: {} } }, origin: true, cookie });
  expectError(unknown, 401, "PASSKEY_NOT_FOUND", "Passkey not found", server);
  const opts = await raw(server, "GET", "/passkey/generate-authenticate-options");
  assert.deepEqual(Object.keys(opts.json).sort(), ["challenge", "rpId", "timeout", "userVerification"]);
  assert.equal(opts.json.rpId, "127.0.0.1");
  assert.equal(opts.json.userVerification, "preferred");
  const unauth = await raw(server, "GET", "/passkey/generate-register-options");
  expectError(unauth, 401, "UNAUTHORIZED", "Unauthorized", server);
  const list = await raw(server, "GET", "/passkey/list-user-passkeys");
  expectError(list, 401, "UNAUTHORIZED", undefined, server);
});

test("native app: --passkey-rp-id / --passkey-rp-name / --passkey-origin", T, async () => {
  const s = nativeServer;
  resetAuthenticator(s);
  authenticator.origin = "android:apk-key-hash:Zm9vYmFy";
  const { client } = await signedUpClient(s, "native");
  const o = await raw(s, "GET", "/passkey/generate-register-options");
  expectError(o, 401, "UNAUTHORIZED", undefined, s);
  const added = expectClientOk(await client.passkey.addPasskey(), s);
  assert.equal(authenticator.credentials.get(added.credentialID).rpId, "app.example");
  expectClientOk(await client.signOut(), s);
  const signedIn = expectClientOk(await client.signIn.passkey(), s);
  assert.equal(signedIn.user.id, added.userId);
  // the browser origin of the server itself is not in the configured list
  authenticator.origin = s.origin;
  expectClientError(await client.signIn.passkey(), 400, "AUTHENTICATION_FAILED");
  const opts = await raw(s, "GET", "/passkey/generate-authenticate-options");
  assert.equal(opts.json.rpId, "app.example");
});
