/** @module App API keys with an optional expiry: accepted on the Consumer admin lane until `expires_at`, then 401 INVALID_TOKEN. */
import { beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { DAY, HOUR, SECOND } from "../../../src/core/clock.ts";
import { MAX_KEY_LIFETIME_MS } from "../../../src/core/expiry.ts";
import type { Tables } from "../../../src/db/client.ts";
import { type AppBody, createApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { expectResponseMatches } from "../../support/openapi.ts";
import { auditCount, detailFields, errCode, expectLastAudit } from "./fixtures.ts";

type Created = {
  id: string;
  name: string;
  key: string;
  key_prefix: string;
  permissions: string[];
  expires_at: string | null;
  created_at: string;
};

let ctx: TestContext;
// The context's tables (PostgreSQL's twins on a PostgreSQL run), taken once the context exists.
let { appApiKeys } = {} as Tables;
let app: AppBody;

const BASE = "/v1/apps/{app_id}/api-keys";
const LANE = "/{app_slug}/v1/admin/users";

const at = (ms: number) => new Date(ms).toISOString();
const rowOf = async (id: string) =>
  (await ctx.deps.db.select().from(appApiKeys).where(eq(appApiKeys.id, id)).limit(1))[0];

beforeAll(async () => {
  ctx = await createTestContext();
  ({ appApiKeys } = ctx.deps.db.tables);
  app = await createApp(ctx, "key-expiry");
});

function mint(body: Record<string, unknown>) {
  return ctx.call<Created>("POST", BASE, {
    params: { app_id: app.id },
    body: { name: "expiring", permissions: ["user.list"], ...body },
  });
}

const useOnLane = (key: string) =>
  ctx.call("GET", LANE, { params: { app_slug: app.slug }, auth: { bearer: key } });

describe("creating a key with expires_at", () => {
  test("201: stored, shown on create and in the list, audited", async () => {
    const expiresAt = at(ctx.clock.now() + 30 * DAY);
    const res = await mint({ expires_at: expiresAt });
    expect(res.status).toBe(201);
    const { expires_at, ...contractPart } = res.body;
    expectResponseMatches("heimdall", "POST", BASE, 201, contractPart, { strict: true });
    expect(expires_at).toBe(expiresAt);
    expect((await rowOf(res.body.id))!.expiresAt).toBe(Date.parse(expiresAt));
    const audit = await expectLastAudit(ctx, app.id, "api_key.created", "pak");
    expect(audit.details).toMatchObject({ expires_at: expiresAt });

    const list = await ctx.call("GET", BASE, { params: { app_id: app.id } });
    expect(list.body.data.find((k: Created) => k.id === res.body.id).expires_at).toBe(expiresAt);
  });

  test("an offset is accepted and normalised to UTC", async () => {
    const res = await mint({ expires_at: "2026-11-02T14:00:00+02:00" });
    expect(res.status).toBe(201);
    expect(res.body.expires_at).toBe("2026-11-02T12:00:00.000Z");
  });

  test("null or absent means never", async () => {
    for (const body of [{ expires_at: null }, {}]) {
      const res = await mint(body);
      expect(res.status).toBe(201);
      expect(res.body.expires_at).toBeNull();
      expect((await rowOf(res.body.id))!.expiresAt).toBeNull();
    }
  });

  test.each([
    ["in the past", () => at(ctx.clock.now() - HOUR)],
    ["exactly now", () => at(ctx.clock.now())],
    ["more than 730 days ahead", () => at(ctx.clock.now() + MAX_KEY_LIFETIME_MS + SECOND)],
    ["not a date-time", () => "next tuesday"],
    ["a date without a time", () => "2027-01-01"],
    ["a number", () => ctx.clock.now() + DAY],
  ] as [string, () => unknown][])("expires_at %s → 400 VALIDATION_ERROR, no key", async (_n, value) => {
    const before = await auditCount(ctx);
    const res = await mint({ expires_at: value() });
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
    expect(detailFields(res)).toEqual(["expires_at"]);
    expect(await auditCount(ctx)).toBe(before);
  });

  test("the maximum, 730 days ahead, is accepted", async () => {
    const res = await mint({ expires_at: at(ctx.clock.now() + MAX_KEY_LIFETIME_MS) });
    expect(res.status).toBe(201);
  });
});

describe("using an expiring key on the Consumer admin lane", () => {
  test("works until expires_at, then 401 INVALID_TOKEN exactly like a deleted key", async () => {
    const created = await mint({ expires_at: at(ctx.clock.now() + HOUR) });
    expect(created.status).toBe(201);
    const key = created.body.key;
    expect((await useOnLane(key)).status).toBe(200);

    ctx.clock.advance(HOUR - SECOND);
    expect((await useOnLane(key)).status).toBe(200);

    ctx.clock.advance(SECOND);
    const expired = await useOnLane(key);
    expect(expired.status).toBe(401);
    expect(errCode(expired)).toBe("INVALID_TOKEN");
    expect(await ctx.deps.apiKeys.authenticate(app.id, key)).toBeNull();

    // The same answer, status, code and challenge, as a key that was deleted.
    const gone = await mint({});
    await ctx.call("DELETE", "/v1/apps/{app_id}/api-keys/{key_id}", {
      params: { app_id: app.id, key_id: gone.body.id },
    });
    const deleted = await useOnLane(gone.body.key);
    expect(deleted.status).toBe(401);
    expect(errCode(deleted)).toBe(errCode(expired));
    expect(expired.headers.get("www-authenticate")).toBe(deleted.headers.get("www-authenticate"));
    // The row stays (it shows when the key expired) and still lists.
    expect(await rowOf(created.body.id)).toBeDefined();
  });
});
