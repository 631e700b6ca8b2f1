/**
 * @module Two instances on one PostgreSQL: an Idempotency-Key is reserved by exactly one of them (the insert
 * decides, not a read), the other replays its answer; a server secret created on both at once is one key.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { FakeClock } from "../../src/core/clock.ts";
import type { Db } from "../../src/db/client.ts";
import { createIdempotency, type StoredResponse } from "../../src/http/idempotency.ts";
import { loadMasterKeys } from "../../src/vault/master-key.ts";
import { createServerSecrets } from "../../src/vault/server-secrets.ts";
import { createVault } from "../../src/vault/vault.ts";
import { codeOf } from "../support/fixtures.ts";
import { twoInstances } from "../support/postgres.ts";
import { newKeyFile, START } from "./keys-fixtures.ts";

let a: Db;
let b: Db;
let closeInstances: () => Promise<void>;
const clock = new FakeClock(START);

beforeAll(async () => {
  ({ a, b, close: closeInstances } = await twoInstances(2));
});
afterAll(async () => {
  await closeInstances();
});

describe("Idempotency-Key across instances", () => {
  test("concurrent first uses of one key: one runs the work, the other is refused; then both replay it", async () => {
    const [onA, onB] = [createIdempotency({ db: a, clock }), createIdempotency({ db: b, clock })];
    let runs = 0;
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const work = async (): Promise<StoredResponse> => {
      runs++;
      await gate;
      return { status: 201, body: { id: "made-once" } };
    };
    const body = { name: "x" };
    const first = onA.run("scope", "key-1", body, work);
    const second = onB.run("scope", "key-1", body, work);
    const refused = await codeOf(Promise.race([first, second]));
    expect(refused).toBe("IDEMPOTENCY_KEY_IN_USE");
    open();
    const settled = await Promise.allSettled([first, second]);
    expect(settled.filter((s) => s.status === "fulfilled")).toHaveLength(1);
    expect(runs).toBe(1);
    for (const instance of [onA, onB]) {
      expect(await instance.run("scope", "key-1", body, work)).toEqual({
        status: 201,
        body: { id: "made-once" },
        replayed: true,
      });
    }
    expect(runs).toBe(1);
    expect(await codeOf(onB.run("scope", "key-1", { name: "y" }, work))).toBe("IDEMPOTENCY_KEY_REUSE");
  });

  test("many instances racing for an expired key: exactly one takes it over", async () => {
    const instances = [a, b, a, b].map((db) => createIdempotency({ db, clock }));
    await instances[0]!.run("scope", "key-2", {}, async () => ({ status: 201, body: 1 }));
    clock.advance(25 * 3600 * 1000);
    let runs = 0;
    const results = await Promise.allSettled(
      instances.map((i) =>
        i.run("scope", "key-2", {}, async () => {
          runs++;
          await Bun.sleep(50);
          return { status: 201, body: 2 };
        }),
      ),
    );
    expect(runs).toBe(1);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
  });
});

describe("server secrets across instances", () => {
  test("two instances creating the same secret at once end with one key", async () => {
    const keys = loadMasterKeys(newKeyFile());
    const [onA, onB] = [a, b].map((db) =>
      createServerSecrets({ db, clock, vault: createVault({ db, keys, clock }) }),
    );
    const [ka, kb] = await Promise.all([onA!.get("code_pepper"), onB!.get("code_pepper")]);
    expect(Buffer.from(ka).equals(Buffer.from(kb))).toBe(true);
  });
});
