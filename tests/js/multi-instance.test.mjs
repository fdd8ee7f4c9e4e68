// Several kernia-server processes on one database: PostgreSQL (what runs behind a load
// balancer) in the postgres configuration, one SQLite file otherwise (its writers take
// turns through SQLite's lock and Kernia's writer lock file). Sessions work on every
// instance, and the read-check-write paths stay correct when the racing requests land on
// different processes — on_link runs once per guest, one email gets one user.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import {
  T, PASSWORD, startServer, raw, signUp, signInAnonymous, getSession, uniqueEmail, usePostgres,
  createPgDatabase, dropPgDatabase, makeTempDir, sqlite, q, describe,
} from "./harness.mjs";

const AUDIT_DDL = usePostgres()
  ? "CREATE TABLE link_audit(anon TEXT NOT NULL, new_user TEXT NOT NULL, at TIMESTAMPTZ DEFAULT now())"
  : "CREATE TABLE link_audit(anon TEXT NOT NULL, new_user TEXT NOT NULL, at TEXT DEFAULT CURRENT_TIMESTAMP)";
const AUDIT = "INSERT INTO link_audit(anon, new_user) VALUES (:anonymous_user_id, :new_user_id)";
const ROUNDS = 3;
const ATTEMPTS = 8; // concurrent link attempts per guest, split over both instances

{
  let db;
  let a;
  let b;
  before(async () => {
    db = usePostgres() ? createPgDatabase("multi") : path.join(makeTempDir("multi-sqlite"), "shared.db");
    sqlite(db, AUDIT_DDL);
    // Both start (and migrate) at the same moment: the migration lock keeps them apart.
    [a, b] = await Promise.all(["a", "b"].map((tag) =>
      startServer({ tag: `multi-${tag}`, database: db, args: ["--on-link-sql", AUDIT] })));
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    if (usePostgres() && db && !process.env.KERNIA_KEEP_TMP) dropPgDatabase(db);
  });

  test("two instances starting together migrate the database once", T, async () => {
    const [row] = sqlite(db, `SELECT count(*) AS n, count(DISTINCT id) AS d FROM kernia_migrations`);
    assert.ok(row.n >= 4, `migrations recorded; got ${JSON.stringify(row)}`);
    assert.equal(row.n, row.d, "every migration recorded exactly once");
  });

  test("a session made on one instance works on the other (cookie and bearer), sign-out too", T, async () => {
    const made = await signUp(a, { email: uniqueEmail("multi") });
    for (const how of [{ cookie: made.cookie }, { bearer: made.signed }]) {
      const res = await getSession(b, how);
      assert.equal(res.status, 200, describe(res, b));
      assert.equal(res.json?.user?.id, made.user.id, `session from A seen on B; got ${describe(res, b)}`);
      assert.equal(res.json?.session?.token, made.token);
    }
    // Signed out on B → gone on A as well.
    const out = await raw(b, "POST", "/sign-out", { cookie: made.cookie, origin: true });
    assert.equal(out.status, 200, describe(out, b));
    const after = await getSession(a, { cookie: made.cookie });
    assert.equal(after.status, 200);
    assert.equal(after.json, null, `session must be gone on A; got ${after.text}`);
  });

  test("concurrent links of one guest across both instances run on_link exactly once", T, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const guest = await signInAnonymous(a);
      const attempts = Array.from({ length: ATTEMPTS }, (_, i) =>
        raw(i % 2 === 0 ? a : b, "POST", "/sign-up/email", {
          json: { name: `Linker ${i}`, email: uniqueEmail(`link${round}-${i}`), password: PASSWORD },
          origin: true,
          cookie: guest.cookie,
        }));
      const results = await Promise.all(attempts);
      for (const res of results) {
        assert.equal(res.status, 200, `every attempt signs up (the losers without linking); got ${describe(res)}` +
          a.logs() + b.logs());
      }
      const audit = sqlite(db, `SELECT new_user FROM link_audit WHERE anon = ${q(guest.user.id)}`);
      assert.equal(audit.length, 1, `on_link ran once for guest ${guest.user.id}; audit rows: ${JSON.stringify(audit)}`);
      const newIds = results.map((r) => r.json.user.id);
      assert.ok(newIds.includes(audit[0].new_user), "the audit row names one of the new users");
      const [gone] = sqlite(db, `SELECT count(*) AS n FROM "user" WHERE "id" = ${q(guest.user.id)}`);
      assert.equal(gone.n, 0, "the guest was deleted by the one link");
      const [users] = sqlite(db, `SELECT count(*) AS n FROM "user" WHERE "id" IN (${newIds.map(q).join(", ")})`);
      assert.equal(users.n, ATTEMPTS, "every attempt created its user");
    }
  });

  test("concurrent sign-ups of one email across both instances create exactly one user", T, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const email = uniqueEmail(`same${round}`);
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) =>
        raw(i % 2 === 0 ? a : b, "POST", "/sign-up/email", {
          json: { name: `Racer ${i}`, email, password: PASSWORD }, origin: true,
        })));
      const statuses = results.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 422, 422, 422, 422, 422, 422, 422],
        results.map((r) => `${r.status} ${r.text}`).join("\n") + a.logs() + b.logs());
      for (const r of results.filter((x) => x.status === 422)) {
        assert.equal(r.json.code, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL");
      }
      const [row] = sqlite(db, `SELECT count(*) AS n FROM "user" WHERE email = ${q(email.toLowerCase())}`);
      assert.equal(row.n, 1);
      const [accounts] = sqlite(db,
        `SELECT count(*) AS n FROM "account" a JOIN "user" u ON u.id = a.userId WHERE u.email = ${q(email.toLowerCase())}`);
      assert.equal(accounts.n, 1, "one credential account");
    }
  });
}
