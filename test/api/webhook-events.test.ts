/**
 * @module The events the account and app changes emit (docs/webhooks.md, "Event types"): each action, driven
 * over HTTP as a user or operator would, writes exactly one `events` row of its type (two for a verified email)
 * with the documented data and no secret in it, queues the delivery to the app's webhook in the same
 * transaction, and a refused, no-op or rolled-back action writes none.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp as createHttpApp } from "../../src/app.ts";
import { createUserRules } from "../../src/users/scope.ts";
import { createUserAdminService } from "../../src/users/service.ts";
import { GOOD_PASSWORD, queryRow, queryRows, signIn, signUp } from "../support/end-users.ts";
import { type AppBody, createApp, insertEndUser, userRow } from "../support/fixtures.ts";
import { createTestContext, PUBLIC_URL, type TestContext } from "../support/harness.ts";
import { mintCode, NEW_PASSWORD, submitReset, submitVerify } from "./consumer/codes-fixtures.ts";
import { challenge, codeAt, userWithFactor, verify } from "./consumer/mfa-signin-fixtures.ts";
import { createM2mClient } from "./consumer/verify-fixtures.ts";

interface EventRow {
  id: string;
  type: string;
  app_id: string | null;
  data: Record<string, unknown>;
  created_at: number;
}

let ctx: TestContext;
let app: AppBody;
let other: AppBody;
let receiver: ReturnType<typeof Bun.serve>;
/** An M2M token of `app` for the Consumer admin lane. */
let machine: string;
let machineClientId: string;
let pakId: string;
/** Every secret a test handled: none may appear in any event's data. */
const secrets = new Set<string>([GOOD_PASSWORD, NEW_PASSWORD]);

/** Ids of every event so far: what a later read leaves out to see only the new ones (no rowid on PostgreSQL). */
const eventIds = async () =>
  new Set((await queryRows(ctx, "SELECT id FROM events")).map((r) => String(r.id)));

/** The events `action` wrote, oldest first (every app's, so a stray event elsewhere shows too). */
async function during(action: () => Promise<unknown>): Promise<EventRow[]> {
  const mark = await eventIds();
  await action();
  // Event ids are time-ordered UUIDv7s, so id order is write order.
  return (await queryRows(ctx, "SELECT * FROM events ORDER BY id"))
    .filter((r) => !mark.has(String(r.id)))
    .map((r) => ({
      ...(r as unknown as EventRow),
      created_at: Number(r.created_at),
      // jsonb arrives parsed from PostgreSQL, SQLite's JSON as text.
      data: typeof r.data === "string" ? JSON.parse(r.data) : r.data,
    }));
}

const SECRET_KEY = /password|code|token|secret|hash/i;

/** No key names a secret and no value is one: the test's own secrets, argon2 hashes, JWTs, 6-digit codes. */
function expectNoSecrets(value: unknown, path = "data"): void {
  if (typeof value === "string") {
    for (const s of secrets) expect(value.includes(s), `${path} holds a secret`).toBe(false);
    expect(value, path).not.toMatch(/^\$argon2|^eyJ|^\d{6}$|^hdk_|^pcft_|^whsec_/);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      expectNoSecrets(v, `${path}[${i}]`);
    });
    return;
  }
  if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      expect(k, `${path}.${k}`).not.toMatch(SECRET_KEY);
      expectNoSecrets(v, `${path}.${k}`);
    }
  }
}

/**
 * Exactly the events of `types`, in order, all of `app`, none secret-bearing, each with its delivery queued
 * to the app's webhook (the fan-out runs in the emitting transaction). Returns their data by type.
 */
async function expectEvents(events: EventRow[], types: string[], of: { id: string } = app) {
  expect(events.map((e) => e.type)).toEqual(types);
  for (const e of events) {
    expect(e.app_id).toBe(of.id);
    expect(e.created_at).toBe(ctx.clock.now());
    expectNoSecrets(e.data);
    expect(await queryRows(ctx, "SELECT status FROM webhook_deliveries WHERE event_id = ?", e.id)).toEqual([
      { status: "pending" },
    ]);
  }
  return events.map((e) => e.data);
}

const one = async (events: EventRow[], type: string, of: { id: string } = app) =>
  (await expectEvents(events, [type], of))[0]!;

const pakActor = () => ({ type: "pak", id: pakId });
const selfActor = (userId: string) => ({ type: "end_user", id: userId });
const machineActor = () => ({ type: "m2m", id: machineClientId });

const admin = (method: string, path: string, params: Record<string, string>, body?: unknown) =>
  ctx.call(method, path, { params: { app_id: app.id, ...params }, body });
const lane = (method: string, path: string, params: Record<string, string>, body?: unknown) =>
  ctx.call(method, path, { params: { app_slug: app.slug, ...params }, body, auth: { bearer: machine } });

let n = 0;
const unique = (stem: string) => `${stem}${++n}`;
/** An active account with a verified email, written directly (no event): the subject of an admin action. */
const subject = async (opts: Parameters<typeof insertEndUser>[3] = {}) =>
  await insertEndUser(ctx, app, unique("subject"), opts);

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "evt-app");
  other = await createApp(ctx, "evt-other");
  receiver = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(null, { status: 204 }) });
  for (const a of [app, other]) {
    const res = await ctx.call("PUT", "/v1/apps/{app_id}/webhook", {
      params: { app_id: a.id },
      body: { url: `http://127.0.0.1:${receiver.port}/hook`, event_types: [] },
    });
    expect(res.status).toBe(200);
    secrets.add(res.body.signing_secret);
  }
  const m2m = await createM2mClient(ctx, app, [
    "user.list",
    "user.read",
    "user.create",
    "user.update",
    "user.delete",
    "user.status",
    "role.assign",
    "role.read",
  ]);
  machine = m2m.token;
  machineClientId = m2m.clientId;
  secrets.add(machine);
  secrets.add(ctx.pak);
  pakId = String((await queryRow(ctx, "SELECT id FROM paks LIMIT 1"))?.id ?? "");
});

afterAll(() => {
  receiver.stop(true);
});

describe("user.signup", () => {
  test("a self sign-up emits it with the account's facts; a refused sign-up emits nothing", async () => {
    let tokens!: Awaited<ReturnType<typeof signUp>>;
    const events = await during(async () => {
      tokens = await signUp(ctx, app.slug, {
        username: "ada",
        email: "ada@example.test",
        password: GOOD_PASSWORD,
      });
    });
    secrets.add(tokens.access_token).add(tokens.refresh_token);
    expect(await one(events, "user.signup")).toEqual({
      user_id: tokens.userId,
      username: "ada",
      email: "ada@example.test",
      role: "member",
      via: "self",
      actor: selfActor(tokens.userId),
    });

    const taken = await during(async () => {
      const res = await ctx.call("POST", "/{app_slug}/v1/auth/signup", {
        params: { app_slug: app.slug },
        body: { username: "ada2", email: "ada@example.test", password: GOOD_PASSWORD },
        auth: null,
      });
      expect(res.status).toBe(409);
      expect(res.body.code).toBe("EMAIL_TAKEN");
    });
    expect(taken).toEqual([]);
  });

  test("a sign-up a PAK makes is `via: pak`, the account still its actor (as in its audit row)", async () => {
    let tokens!: Awaited<ReturnType<typeof signUp>>;
    const events = await during(async () => {
      tokens = await signUp(
        ctx,
        app.slug,
        { username: "backend-made", email: "backend-made@example.test", password: GOOD_PASSWORD },
        { pak: ctx.pak },
      );
    });
    secrets.add(tokens.access_token).add(tokens.refresh_token);
    expect(await one(events, "user.signup")).toEqual({
      user_id: tokens.userId,
      username: "backend-made",
      email: "backend-made@example.test",
      role: "member",
      via: "pak",
      actor: selfActor(tokens.userId),
    });
  });

  test("an account an admin-lane caller creates is a sign-up `via: admin`, its actor the caller", async () => {
    let id = "";
    const events = await during(async () => {
      const res = await lane("POST", "/{app_slug}/v1/admin/users", {}, { email: "made@example.test" });
      expect(res.status).toBe(201);
      id = res.body.id;
    });
    expect(await one(events, "user.signup")).toEqual({
      user_id: id,
      username: "made",
      email: "made@example.test",
      role: "member",
      via: "admin",
      actor: machineActor(),
    });
  });
});

describe("user.signin", () => {
  test("a password sign-in emits it with the session it opened; a wrong password and a refresh do not", async () => {
    const user = await subject({ password: GOOD_PASSWORD });
    let tokens!: Awaited<ReturnType<typeof signIn>>;
    const events = await during(async () => {
      tokens = await signIn(ctx, app.slug, user.username, GOOD_PASSWORD);
    });
    secrets.add(tokens.access_token).add(tokens.refresh_token);
    expect(await one(events, "user.signin")).toEqual({
      user_id: user.id,
      session_id: tokens.sessionId,
      amr: ["pwd"],
      actor: selfActor(user.id),
    });

    const refused = await during(async () => {
      const res = await ctx.call("POST", "/{app_slug}/v1/auth/signin", {
        params: { app_slug: app.slug },
        body: { identifier: user.username, password: "not the password at all" },
        auth: null,
      });
      expect(res.status).toBe(401);
      expect(res.body.code).toBe("INVALID_CREDENTIALS");
    });
    expect(refused).toEqual([]);

    const refreshed = await during(async () => {
      const res = await ctx.call("POST", "/{app_slug}/v1/auth/refresh", {
        params: { app_slug: app.slug },
        body: { refresh_token: tokens.refresh_token },
        auth: null,
      });
      expect(res.status).toBe(200);
      secrets.add(res.body.access_token).add(res.body.refresh_token);
    });
    expect(refreshed).toEqual([]);
  });

  test("with MFA the challenge emits nothing; the verified second factor emits it once", async () => {
    const u = await userWithFactor(ctx, app, unique("mfa"));
    secrets.add(u.access_token).add(u.refresh_token);
    let token = "";
    const challenged = await during(async () => {
      token = await challenge(ctx, app, u.username);
    });
    secrets.add(token);
    expect(challenged).toEqual([]);

    let sessionId = "";
    const events = await during(async () => {
      const code = codeAt(u.secret, ctx.clock.now());
      secrets.add(code);
      const res = await verify(ctx, app, token, code);
      expect(res.status).toBe(200);
      secrets.add(res.body.access_token).add(res.body.refresh_token);
      sessionId = String(
        (
          await queryRow(
            ctx,
            "SELECT id FROM end_user_sessions WHERE user_id = ? ORDER BY created_at DESC",
            u.userId,
          )
        )?.id,
      );
    });
    const data = await one(events, "user.signin");
    // A JSON column read raw: text on SQLite, already parsed on PostgreSQL.
    const stored = (
      await queryRow(ctx, "SELECT amr FROM end_user_sessions WHERE id = ?", data.session_id as string)
    )?.amr;
    const amr = typeof stored === "string" ? JSON.parse(stored) : stored;
    expect(data).toEqual({ user_id: u.userId, session_id: sessionId, amr, actor: selfActor(u.userId) });
    expect(amr).toContain("pwd");
    expect(amr.length).toBeGreaterThan(1);
  });
});

describe("user.contact_verified and user.email_verified", () => {
  test("an email verified by its code emits both; a phone only the first; a wrong code neither", async () => {
    const user = await subject({ emailVerified: false, phone: "+15550100001" });
    const code = await mintCode(ctx, app, "verification", { email: `${user.username}@example.test` });
    secrets.add(code);
    const events = await during(async () => {
      const res = await submitVerify(ctx, app, code);
      expect(res.status).toBe(200);
    });
    const [contact, email] = await expectEvents(events, ["user.contact_verified", "user.email_verified"]);
    const facts = { user_id: user.id, contact_id: user.emailContactId, is_primary: true };
    expect(contact).toEqual({
      ...facts,
      contact_type: "email",
      value: `${user.username}@example.test`,
      actor: selfActor(user.id),
    });
    expect(email).toEqual({ ...facts, email: `${user.username}@example.test`, actor: selfActor(user.id) });

    const phoneCode = await mintCode(ctx, app, "verification", { phone: "+15550100001" });
    secrets.add(phoneCode);
    const phone = await during(async () => {
      expect((await submitVerify(ctx, app, phoneCode)).status).toBe(200);
    });
    expect(await one(phone, "user.contact_verified")).toEqual({
      user_id: user.id,
      contact_id: user.phoneContactId,
      is_primary: false,
      contact_type: "phone",
      value: "+15550100001",
      actor: selfActor(user.id),
    });

    const wrong = await during(async () => {
      const res = await submitVerify(ctx, app, code === "000000" ? "000001" : "000000");
      expect(res.status).toBe(410);
      expect(res.body.code).toBe("CODE_INVALID");
    });
    expect(wrong).toEqual([]);
  });
});

describe("user.password_reset.requested and .completed", () => {
  test("a code issued emits requested; using it emits completed with the sessions it ended", async () => {
    const user = await subject({ password: GOOD_PASSWORD });
    const tokens = await signIn(ctx, app.slug, user.username, GOOD_PASSWORD);
    secrets.add(tokens.access_token).add(tokens.refresh_token);
    let code = "";
    const requested = await during(async () => {
      code = await mintCode(ctx, app, "password-reset", { email: `${user.username}@example.test` });
    });
    secrets.add(code);
    expect(await one(requested, "user.password_reset.requested")).toEqual({
      user_id: user.id,
      contact_id: user.emailContactId,
      contact_type: "email",
      delivery: "response",
      actor: pakActor(),
    });

    const completed = await during(async () => {
      expect((await submitReset(ctx, app, code)).status).toBe(204);
    });
    expect(await one(completed, "user.password_reset.completed")).toEqual({
      user_id: user.id,
      sessions_revoked: 1,
      actor: selfActor(user.id),
    });
  });

  test("no code, no event: an unknown address, an unverified one, a wrong code", async () => {
    const unverified = await subject({ emailVerified: false });
    const events = await during(async () => {
      for (const email of ["nobody@example.test", `${unverified.username}@example.test`]) {
        const res = await ctx.call("POST", "/{app_slug}/v1/auth/request-password-reset", {
          params: { app_slug: app.slug },
          body: { email },
          // `{}` is the enumeration-safe answer, which the contract's schema does not describe.
          unchecked: true,
        });
        expect(res.status).toBe(201);
        expect(res.body).toEqual({});
      }
      const res = await submitReset(ctx, app, "123456");
      expect(res.status).toBe(410);
    });
    expect(events).toEqual([]);
  });
});

describe("user.suspended, user.deactivated, user.reinstated", () => {
  const STATUS = "/v1/apps/{app_id}/end-users/{user_id}/status";

  test("each status change on the Admin API emits its type with both statuses; the same status again none", async () => {
    const user = await subject();
    const step = async (status: string) =>
      during(async () => {
        expect((await admin("PATCH", STATUS, { user_id: user.id }, { status })).status).toBe(200);
      });
    const base = { user_id: user.id, actor: pakActor() };
    expect(await one(await step("suspended"), "user.suspended")).toEqual({
      ...base,
      previous_status: "active",
      status: "suspended",
    });
    expect(await step("suspended")).toEqual([]);
    expect(await one(await step("deactivated"), "user.deactivated")).toEqual({
      ...base,
      previous_status: "suspended",
      status: "deactivated",
    });
    expect(await one(await step("active"), "user.reinstated")).toEqual({
      ...base,
      previous_status: "deactivated",
      status: "active",
    });
  });

  test("the Consumer admin lane emits the same, its actor the caller", async () => {
    const user = await subject();
    const events = await during(async () => {
      const res = await lane(
        "PATCH",
        "/{app_slug}/v1/admin/users/{user_id}/status",
        { user_id: user.id },
        { status: "suspended" },
      );
      expect(res.status).toBe(200);
    });
    expect(await one(events, "user.suspended")).toEqual({
      user_id: user.id,
      previous_status: "active",
      status: "suspended",
      actor: machineActor(),
    });
  });

  test("a bulk status change emits one event per changed account, with the operation id", async () => {
    const a = await subject();
    const b = await subject({ status: "suspended" });
    const events = await during(async () => {
      const res = await admin(
        "POST",
        "/v1/apps/{app_id}/end-users/bulk-update-status",
        {},
        { selection: { mode: "ids", ids: [a.id, b.id] }, status: "suspended" },
      );
      expect(res.status).toBe(200);
    });
    // b was suspended already: nothing changed for it, so nothing to report.
    const data = await one(events, "user.suspended");
    expect(data).toEqual({
      user_id: a.id,
      previous_status: "active",
      status: "suspended",
      actor: pakActor(),
      bulk_operation_id: expect.any(String),
    });
    const summary = await queryRow(
      ctx,
      "SELECT details FROM audit_log WHERE action = 'end_user.bulk_update_status' ORDER BY seq DESC",
    );
    expect(JSON.parse(String(summary?.details)).operation_id).toBe(data.bulk_operation_id);

    const back = await during(async () => {
      const res = await admin(
        "POST",
        "/v1/apps/{app_id}/end-users/bulk-update-status",
        {},
        { selection: { mode: "ids", ids: [a.id, b.id] }, status: "active" },
      );
      expect(res.status).toBe(200);
    });
    expect(
      (await expectEvents(back, ["user.reinstated", "user.reinstated"])).map((d) => d.user_id).sort(),
    ).toEqual([a.id, b.id].sort());
  });
});

describe("user.role_changed", () => {
  test("every path that changes a role emits it with both roles; an unknown or unchanged role none", async () => {
    const expectChange = async (events: EventRow[], userId: string, actor: unknown) =>
      expect(await one(events, "user.role_changed")).toMatchObject({
        user_id: userId,
        previous_role: "member",
        role: "admin",
        actor,
      });

    const viaAdmin = await subject();
    const path = "/v1/apps/{app_id}/end-users/{user_id}/role";
    await expectChange(
      await during(async () => {
        expect((await admin("PATCH", path, { user_id: viaAdmin.id }, { role_name: "admin" })).status).toBe(
          200,
        );
      }),
      viaAdmin.id,
      pakActor(),
    );
    const unchanged = await during(async () => {
      expect((await admin("PATCH", path, { user_id: viaAdmin.id }, { role_name: "admin" })).status).toBe(200);
      const res = await admin("PATCH", path, { user_id: viaAdmin.id }, { role_name: "no-such-role" });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("UNKNOWN_ROLE");
    });
    expect(unchanged).toEqual([]);

    const viaAssign = await subject();
    await expectChange(
      await during(async () => {
        const res = await admin(
          "POST",
          "/v1/apps/{app_id}/roles/assign",
          {},
          {
            account_id: viaAssign.id,
            role: "admin",
          },
        );
        expect(res.status).toBe(200);
      }),
      viaAssign.id,
      pakActor(),
    );

    const viaLane = await subject();
    await expectChange(
      await during(async () => {
        const res = await lane(
          "PATCH",
          "/{app_slug}/v1/admin/users/{user_id}/role",
          { user_id: viaLane.id },
          { role_name: "admin" },
        );
        expect(res.status).toBe(200);
      }),
      viaLane.id,
      machineActor(),
    );

    const viaBulk = await subject();
    const bulk = await during(async () => {
      const res = await admin(
        "POST",
        "/v1/apps/{app_id}/end-users/bulk-update-role",
        {},
        { selection: { mode: "ids", ids: [viaBulk.id] }, role_name: "admin" },
      );
      expect(res.status).toBe(200);
    });
    await expectChange(bulk, viaBulk.id, pakActor());
    expect(bulk[0]!.data.bulk_operation_id).toEqual(expect.any(String));
  });
});

describe("user.deleted", () => {
  test("the Admin API, the admin lane, bulk and DELETE /me each emit it once, naming the route", async () => {
    const viaAdmin = await subject();
    expect(
      await one(
        await during(async () => {
          const res = await admin("DELETE", "/v1/apps/{app_id}/end-users/{user_id}", {
            user_id: viaAdmin.id,
          });
          expect(res.status).toBe(204);
        }),
        "user.deleted",
      ),
    ).toEqual({ user_id: viaAdmin.id, via: "admin", actor: pakActor() });

    const viaLane = await subject();
    expect(
      await one(
        await during(async () => {
          const res = await lane("DELETE", "/{app_slug}/v1/admin/users/{user_id}", { user_id: viaLane.id });
          expect(res.status).toBe(204);
        }),
        "user.deleted",
      ),
    ).toEqual({ user_id: viaLane.id, via: "admin", actor: machineActor() });

    const viaBulk = await subject();
    expect(
      await one(
        await during(async () => {
          const res = await admin(
            "POST",
            "/v1/apps/{app_id}/end-users/bulk-delete",
            {},
            { selection: { mode: "ids", ids: [viaBulk.id] } },
          );
          expect(res.status).toBe(200);
        }),
        "user.deleted",
      ),
    ).toEqual({ user_id: viaBulk.id, via: "bulk", actor: pakActor(), bulk_operation_id: expect.any(String) });

    const self = await subject({ password: GOOD_PASSWORD });
    const tokens = await signIn(ctx, app.slug, self.username, GOOD_PASSWORD);
    secrets.add(tokens.access_token).add(tokens.refresh_token);
    expect(
      await one(
        await during(async () => {
          const res = await ctx.call("DELETE", "/{app_slug}/v1/me", {
            params: { app_slug: app.slug },
            auth: { bearer: tokens.access_token },
          });
          expect(res.status).toBe(204);
        }),
        "user.deleted",
      ),
    ).toEqual({ user_id: self.id, via: "self", actor: selfActor(self.id) });
  });

  test("a deletion that rolls back leaves neither the event nor its delivery", async () => {
    const user = await subject();
    // The same service, except that forgetting the account's MFA factors fails after the event is written.
    const broken = createHttpApp({
      ...ctx.deps,
      users: createUserAdminService({
        ...ctx.deps,
        rules: createUserRules(ctx.deps),
        mfa: {
          forgetUser() {
            throw new Error("simulated failure after the event");
          },
        },
      }),
    });
    const mark = await eventIds();
    const deliveries = Number((await queryRow(ctx, "SELECT count(*) AS n FROM webhook_deliveries"))?.n);
    const res = await broken.handle(
      new Request(`${PUBLIC_URL}/v1/apps/${app.id}/end-users/${user.id}`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${ctx.pak}` },
      }),
    );
    expect(res.status).toBe(500);
    expect((await queryRows(ctx, "SELECT id FROM events")).filter((r) => !mark.has(String(r.id)))).toEqual(
      [],
    );
    expect(Number((await queryRow(ctx, "SELECT count(*) AS n FROM webhook_deliveries"))?.n)).toBe(deliveries);
    expect((await userRow(ctx, user.id))?.id).toBe(user.id);
  });
});

describe("app.slug_changed", () => {
  test("a rename emits both slugs; a taken slug or another field emits nothing", async () => {
    const renamed = await createApp(ctx, "evt-rename");
    const events = await during(async () => {
      const res = await ctx.call("PATCH", "/v1/apps/{app_id}", {
        params: { app_id: renamed.id },
        body: { slug: "evt-renamed" },
      });
      expect(res.status).toBe(200);
    });
    // No webhook on this app: the event is written all the same, with nothing to deliver.
    expect(events.map((e) => [e.type, e.app_id])).toEqual([["app.slug_changed", renamed.id]]);
    expect(events[0]!.data).toEqual({ previous_slug: "evt-rename", slug: "evt-renamed", actor: pakActor() });
    expect(
      await queryRows(ctx, "SELECT id FROM webhook_deliveries WHERE event_id = ?", events[0]!.id),
    ).toEqual([]);

    const none = await during(async () => {
      const taken = await ctx.call("PATCH", "/v1/apps/{app_id}", {
        params: { app_id: renamed.id },
        body: { slug: other.slug },
      });
      expect(taken.status).toBe(409);
      const named = await ctx.call("PATCH", "/v1/apps/{app_id}", {
        params: { app_id: renamed.id },
        body: { display_name: "Renamed" },
      });
      expect(named.status).toBe(200);
    });
    expect(none).toEqual([]);
  });
});

describe("m2m.credential.created, .rotated, .deleted", () => {
  test("each emits the client's public facts and never its secret", async () => {
    const BASE = "/v1/apps/{app_id}/credentials";
    const ONE = `${BASE}/{client_id}`;
    let clientId = "";
    const created = await during(async () => {
      const res = await admin("POST", BASE, {}, { name: "ci pipeline" });
      expect(res.status).toBe(201);
      clientId = res.body.client_id;
      secrets.add(res.body.client_secret);
    });
    const facts = { client_id: clientId, name: "ci pipeline", scopes: [], actor: pakActor() };
    expect(await one(created, "m2m.credential.created")).toEqual(facts);

    const rotated = await during(async () => {
      const res = await admin("POST", `${ONE}/rotate`, { client_id: clientId }, { grace_period_seconds: 60 });
      expect(res.status).toBe(200);
      secrets.add(res.body.client_secret);
    });
    expect(await one(rotated, "m2m.credential.rotated")).toEqual({
      ...facts,
      grace_period_seconds: 60,
      grace_ends_at: new Date(ctx.clock.now() + 60_000).toISOString(),
    });

    const deleted = await during(async () => {
      expect((await admin("DELETE", ONE, { client_id: clientId })).status).toBe(204);
      const again = await admin("DELETE", ONE, { client_id: clientId });
      expect(again.status).toBe(404);
      expect(again.body.code).toBe("M2M_CLIENT_NOT_FOUND");
    });
    expect(await one(deleted, "m2m.credential.deleted")).toEqual(facts);
  });
});
