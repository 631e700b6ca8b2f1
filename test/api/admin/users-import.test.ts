/**
 * @module The user import service (`deps.userImport`, behind `heimdall users import` and the seed file's users):
 * JSON lines and CSV, idempotency by email, every per-line refusal, role names in any case, the verified flag,
 * the one `users.imported` audit row, and `importRecords` inside a caller's transaction.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { tx } from "../../../src/db/client.ts";
import {
  csvRecords,
  ImportFileError,
  type ImportLine,
  jsonlRecords,
} from "../../../src/users/import-model.ts";
import { queryRow, signIn, signUp } from "../../support/end-users.ts";
import { type AppBody, auditRows, createApp } from "../../support/fixtures.ts";
import { closeTestContext, createTestContext, type TestContext } from "../../support/harness.ts";

let ctx: TestContext;
let app: AppBody;
/** Heimdall's own argon2id hash and a bcrypt hash (Bun's implementation) of PASSWORD, made once. */
let argon = "";
let bcrypt = "";
const PASSWORD = "Quartz-Harbour-92-Meadow";

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "import-app");
  const role = await ctx.call("POST", "/v1/apps/{app_id}/roles", {
    params: { app_id: app.id },
    body: { name: "auditor" },
  });
  expect(role.status).toBe(201);
  argon = await ctx.deps.passwords.hash(PASSWORD);
  bcrypt = await Bun.password.hash(PASSWORD, { algorithm: "bcrypt", cost: 4 });
});

afterAll(async () => {
  if (ctx) await closeTestContext(ctx);
});

const jsonl = (...records: unknown[]) =>
  jsonlRecords(records.map((r) => (typeof r === "string" ? r : JSON.stringify(r))));

async function run(lines: AsyncIterable<ImportLine> | Iterable<ImportLine>, opts = {}) {
  return await ctx.deps.userImport.importUsers(app.id, lines, { source: "test", ...opts });
}

interface AccountRow {
  id: string;
  username: string;
  display_name: string | null;
  password_hash: string | null;
  role: string;
  verified_at: number | null;
}

async function account(email: string): Promise<AccountRow | null> {
  const r = await queryRow(
    ctx,
    `SELECT u.id, u.username, u.display_name, u.password_hash, u.role, c.verified_at
       FROM end_user_contacts c JOIN end_users u ON u.id = c.user_id
      WHERE c.app_id = ? AND c.type = 'email' AND c.value = ?`,
    app.id,
    email,
  );
  // verified_at is a bigint on PostgreSQL, which hands it back as a string.
  return r
    ? ({ ...r, verified_at: r.verified_at === null ? null : Number(r.verified_at) } as AccountRow)
    : null;
}

const accountCount = async () =>
  Number((await queryRow(ctx, "SELECT count(*) AS n FROM end_users WHERE app_id = ?", app.id))!.n);

const imported = async () => await auditRows(ctx, { app_id: app.id, action: "users.imported" });

describe("JSON lines", () => {
  const file = () =>
    jsonl(
      {
        email: "Ada@Example.test",
        username: "ada",
        display_name: "Ada Lovelace",
        email_verified: true,
        password_hash: argon,
      },
      { email: "grace@example.test", role: "Auditor", password_hash: bcrypt, email_verified: false },
      { email: "edsger@example.test" },
      "",
      { email: "barbara@example.test", password: PASSWORD, role: "AUDITOR" },
    );

  test("creates accounts: emails normalised, usernames derived, role in any case, verified flag, hashes as given", async () => {
    const before = await accountCount();
    const result = await run(file());
    expect(result).toEqual({
      created: 4,
      updated: 0,
      unchanged: 0,
      failed: 0,
      passwords_hashed: 1,
      errors: [],
    });
    expect(await accountCount()).toBe(before + 4);

    const ada = (await account("ada@example.test"))!;
    expect(ada).toMatchObject({
      username: "ada",
      display_name: "Ada Lovelace",
      password_hash: argon,
      role: "member",
    });
    expect(ada.verified_at).toBe(ctx.clock.now());
    const grace = (await account("grace@example.test"))!;
    expect(grace).toMatchObject({
      username: "grace",
      role: "auditor",
      password_hash: bcrypt,
      verified_at: null,
    });
    // No password: the account uses the reset flow; the app's signup default role.
    expect(await account("edsger@example.test")).toMatchObject({
      username: "edsger",
      password_hash: null,
      role: "member",
    });
    const barbara = (await account("barbara@example.test"))!;
    expect(barbara.role).toBe("auditor");
    expect(barbara.password_hash).toStartWith("$argon2id$v=19$m=19456,t=2,p=1$");
    expect(await ctx.deps.passwords.verify(barbara.password_hash!, PASSWORD)).toBe(true);

    const rows = await imported();
    expect(rows).toHaveLength(1);
    expect(rows[0]!).toMatchObject({ actor_type: "system", resource_type: "user", resource_id: null });
    expect(rows[0]!.details).toEqual({
      source: "test",
      created: 4,
      updated: 0,
      unchanged: 0,
      failed: 0,
      passwords_hashed: 1,
    });
    // Counts only: no address and no hash in the row.
    const row = JSON.stringify(rows[0]);
    expect(row).not.toContain("@example.test");
    expect(row).not.toContain("$argon2id$");
    expect(row).not.toContain("$2b$");
  });

  test("an imported verified account signs in with its password (Heimdall's own hash)", async () => {
    const tokens = await signIn(ctx, app.slug, "ada@example.test", PASSWORD);
    expect(tokens.userId).toBe((await account("ada@example.test"))!.id);
  });

  test("the same file again: every line unchanged, no duplicate, no audit row (nothing changed)", async () => {
    const before = await accountCount();
    const result = await run(file());
    expect(result).toEqual({
      created: 0,
      updated: 0,
      unchanged: 4,
      failed: 0,
      passwords_hashed: 0,
      errors: [],
    });
    expect(await accountCount()).toBe(before);
    expect(await imported()).toHaveLength(1);
  });

  test("changed fields update the existing account; a new hash ends its sessions", async () => {
    const signed = await signUp(ctx, app.slug, {
      username: "alan",
      email: "alan@example.test",
      password: PASSWORD,
    });
    const result = await run(
      jsonl(
        {
          email: "alan@example.test",
          display_name: "Alan Turing",
          role: "auditor",
          email_verified: true,
          password_hash: bcrypt,
        },
        { email: "ada@example.test", email_verified: false },
      ),
    );
    expect(result).toMatchObject({ created: 0, updated: 2, unchanged: 0, failed: 0 });
    const alan = (await account("alan@example.test"))!;
    expect(alan).toMatchObject({
      id: signed.userId,
      username: "alan",
      display_name: "Alan Turing",
      role: "auditor",
      password_hash: bcrypt,
    });
    expect(alan.verified_at).not.toBeNull();
    expect((await account("ada@example.test"))!.verified_at).toBeNull();
    const session = (await queryRow(
      ctx,
      "SELECT revoked_at FROM end_user_sessions WHERE id = ?",
      signed.sessionId,
    ))!;
    expect(session.revoked_at).not.toBeNull();
    expect((await imported()).at(-1)!.details).toMatchObject({
      created: 0,
      updated: 2,
      unchanged: 0,
      failed: 0,
    });
  });

  test("every per-line refusal is reported with its line; the other lines are imported", async () => {
    const taken = (await account("grace@example.test"))!.username;
    const result = await run(
      jsonl(
        "{not json",
        "[1, 2]",
        { email: "not-an-email" },
        { email: "hash@example.test", password_hash: "md5:5f4dcc3b5aa765d61d8327deb882cf99" },
        { email: "both@example.test", password_hash: argon, password: PASSWORD },
        { email: "extra@example.test", nickname: "x" },
        { email: "ok1@example.test" },
        { email: "OK1@example.test", display_name: "again" },
        { email: "role@example.test", role: "wizard" },
        { email: "taken@example.test", username: taken },
        { email: "weak@example.test", password: "password" },
        { display_name: "no email" },
        { email: "ok2@example.test", username: "ok-two" },
      ),
    );
    expect(result).toMatchObject({ created: 2, updated: 0, unchanged: 0, failed: 11 });
    expect(result.errors.map((e) => e.line)).toEqual([1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12]);
    const byLine = new Map(result.errors.map((e) => [e.line, e]));
    expect(byLine.get(1)!.error).toBe("malformed JSON");
    expect(byLine.get(2)!.error).toContain("not a JSON object");
    expect(byLine.get(3)!.error).toStartWith("email:");
    expect(byLine.get(4)!).toMatchObject({ email: "hash@example.test" });
    expect(byLine.get(4)!.error).toStartWith("password_hash:");
    expect(byLine.get(5)!.error).toContain("not both");
    expect(byLine.get(6)!.error).toContain("unknown field nickname");
    expect(byLine.get(8)!).toEqual({
      line: 8,
      email: "ok1@example.test",
      error: "duplicate email in the file (first on line 7)",
    });
    expect(byLine.get(9)!.error).toBe("this app has no role named wizard");
    expect(byLine.get(10)!.error).toBe(`username ${taken} is taken by another account`);
    expect(byLine.get(11)!.error).toStartWith("password:");
    expect(byLine.get(12)!.error).toBe("email: is required");
    expect((await account("ok1@example.test"))!.display_name).toBeNull();
    expect((await account("ok2@example.test"))!.username).toBe("ok-two");
    for (const email of [
      "hash@example.test",
      "both@example.test",
      "extra@example.test",
      "role@example.test",
      "taken@example.test",
      "weak@example.test",
    ])
      expect(await account(email)).toBeNull();
    expect((await imported()).at(-1)!.details).toMatchObject({ created: 2, failed: 11 });
  });

  test("a username derived from an email that another account holds gets a suffix", async () => {
    // `ada` is taken by ada@example.test.
    const result = await run(jsonl({ email: "ada@elsewhere.test" }));
    expect(result.created).toBe(1);
    expect((await account("ada@elsewhere.test"))!.username).toBe("ada-2");
  });

  test("chunks: every chunk is written, duplicates are found across chunks, one audit row for the run", async () => {
    const rowsBefore = (await imported()).length;
    const records = Array.from({ length: 7 }, (_, i) => ({ email: `chunk${i}@example.test` }));
    const result = await run(jsonl(...records, { email: "chunk0@example.test" }), { chunkSize: 3 });
    expect(result).toMatchObject({ created: 7, failed: 1 });
    expect(result.errors[0]!.error).toBe("duplicate email in the file (first on line 1)");
    expect(await imported()).toHaveLength(rowsBefore + 1);
  });
});

describe("CSV", () => {
  test("header columns, quoted fields (commas, quotes, line breaks), booleans, empty cells", async () => {
    const lines = [
      "email,display_name,email_verified,role,password_hash",
      `csv1@example.test,"Lovelace, Ada",1,AUDITOR,"${argon}"`,
      `csv2@example.test,"The ""Countess""",false,,`,
      `csv3@example.test,"two`,
      `lines",TRUE,,`,
      "csv4@example.test,,yes,,",
      "csv5@example.test,too,many,fields,here,really",
      `csv6@example.test,a"b,0,,`,
      "",
    ];
    const result = await run(csvRecords(lines));
    expect(result).toMatchObject({ created: 3, failed: 3 });
    expect(result.errors.map((e) => e.line)).toEqual([6, 7, 8]);
    expect(result.errors[0]!.error).toContain("email_verified");
    expect(result.errors[1]!.error).toContain("fields");
    expect(result.errors[2]!.error).toContain("malformed");
    expect(await account("csv1@example.test")).toMatchObject({
      display_name: "Lovelace, Ada",
      role: "auditor",
      password_hash: argon,
    });
    expect((await account("csv1@example.test"))!.verified_at).not.toBeNull();
    expect(await account("csv2@example.test")).toMatchObject({
      display_name: 'The "Countess"',
      verified_at: null,
      password_hash: null,
    });
    expect((await account("csv3@example.test"))!.display_name).toBe("two\nlines");
    // The same rows again, from JSON lines this time: the same accounts, unchanged.
    const again = await run(
      jsonl(
        {
          email: "csv1@example.test",
          display_name: "Lovelace, Ada",
          email_verified: true,
          role: "auditor",
          password_hash: argon,
        },
        { email: "csv2@example.test", display_name: 'The "Countess"', email_verified: false },
      ),
    );
    expect(again).toMatchObject({ created: 0, updated: 0, unchanged: 2, failed: 0 });
  });

  test("a header naming an unknown column, or no email column, refuses the file before any row", async () => {
    const before = await accountCount();
    for (const header of ["email,nickname", "username,display_name", "email,email"]) {
      await expect(run(csvRecords([header, "x@example.test,y"]))).rejects.toBeInstanceOf(ImportFileError);
    }
    expect(await accountCount()).toBe(before);
  });
});

describe("importRecords (the seed file's users)", () => {
  test("writes inside the caller's transaction: a rollback leaves nothing, not even the audit row", async () => {
    const before = await accountCount();
    const rows = (await imported()).length;
    await expect(
      tx(ctx.deps.db, async () => {
        const r = await ctx.deps.userImport.importRecords(
          app.id,
          [{ line: 1, record: { email: "seed1@example.test", password_hash: argon } }],
          { source: "seed" },
        );
        expect(r.created).toBe(1);
        throw new Error("the seed failed later");
      }),
    ).rejects.toThrow("the seed failed later");
    expect(await accountCount()).toBe(before);
    expect(await imported()).toHaveLength(rows);
  });

  test("commits with the caller; a plain password is refused (hash it first)", async () => {
    const result = await tx(
      ctx.deps.db,
      async () =>
        await ctx.deps.userImport.importRecords(
          app.id,
          [
            {
              line: 1,
              record: {
                email: "seed2@example.test",
                role: "auditor",
                email_verified: true,
                password_hash: argon,
              },
            },
            { line: 2, record: { email: "seed3@example.test", password: PASSWORD } },
          ],
          { source: "seed" },
        ),
    );
    expect(result).toMatchObject({ created: 1, failed: 1 });
    expect(result.errors[0]!.error).toContain("hashed before");
    expect(await account("seed2@example.test")).toMatchObject({ role: "auditor", password_hash: argon });
    expect((await imported()).at(-1)!.details).toMatchObject({ source: "seed", created: 1, failed: 1 });
  });
});
