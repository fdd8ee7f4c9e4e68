// Concurrency: password hashing must not stall other requests, and racing requests must
// not double anything (one account per email, distinct guests).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { T, PASSWORD, startServer, raw, uniqueEmail, userByEmail, signInAnonymous } from "./harness.mjs";

let server;
before(async () => { server = await startServer({ tag: "concurrency" }); });
after(async () => { await server?.stop(); });

test("scrypt hashing runs off the event loop: cheap requests finish while sign-ups hash", T, async () => {
  // Six sign-ups need six scrypt hashes (~100 ms each, at most two at a time), so they
  // take several hundred milliseconds in total. If hashing blocked the HTTP thread, the
  // cheap requests below would queue behind them and finish last.
  const order = [];
  const signUps = Array.from({ length: 6 }, (_, i) =>
    raw(server, "POST", "/sign-up/email", {
      json: { name: `Hasher ${i}`, email: uniqueEmail(`hash${i}`), password: PASSWORD }, origin: true,
    }).then((res) => { order.push("sign-up"); return res; }));
  const cheap = (async () => {
    for (let i = 0; i < 5; i++) {
      const res = await raw(server, "GET", "/ok");
      assert.equal(res.status, 200);
      order.push("ok");
    }
  })();
  const results = await Promise.all(signUps);
  await cheap;
  for (const res of results) assert.equal(res.status, 200, res.text);
  const lastOk = order.lastIndexOf("ok");
  const lastSignUp = order.lastIndexOf("sign-up");
  assert.ok(lastOk < lastSignUp, `every /ok must finish before the last sign-up; order was ${order.join(", ")}`);
});

test("racing sign-ups for one email create exactly one account", T, async () => {
  const email = uniqueEmail("race");
  const results = await Promise.all(Array.from({ length: 6 }, () =>
    raw(server, "POST", "/sign-up/email", { json: { name: "Racer", email, password: PASSWORD }, origin: true })));
  const statuses = results.map((r) => r.status).sort();
  assert.deepEqual(statuses, [200, 422, 422, 422, 422, 422], results.map((r) => r.text).join("\n"));
  for (const r of results.filter((r) => r.status === 422))
    assert.equal(r.json.code, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL");
  assert.ok(userByEmail(server, email), "the one account exists");
  const count = server.sql(`SELECT count(*) AS n FROM "user" WHERE email = '${email.toLowerCase()}'`)[0].n;
  assert.equal(Number(count), 1);
});

test("concurrent anonymous sign-ins give distinct guests and sessions", T, async () => {
  const guests = await Promise.all(Array.from({ length: 20 }, () => signInAnonymous(server, { origin: false })));
  assert.equal(new Set(guests.map((g) => g.user.id)).size, 20);
  assert.equal(new Set(guests.map((g) => g.token)).size, 20);
  assert.equal(new Set(guests.map((g) => g.user.email)).size, 20);
});
