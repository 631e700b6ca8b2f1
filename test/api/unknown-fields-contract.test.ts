/**
 * @module Every JSON request body of the vendored contracts, sent with all its documented properties, is
 * never refused for an unknown field: the unknown-field check (docs/decisions.md, "Unknown body fields")
 * refuses only what the contract does not define. A probe field proves each served route really checks.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { type AppBody, createApp } from "../support/fixtures.ts";
import { type Auth, createTestContext, type TestContext } from "../support/harness.ts";
import { loadContract, type Operation, type Schema, type SpecName } from "../support/openapi.ts";
import { createEndUser, setEnforcement } from "./consumer/verify-fixtures.ts";

const PROBE = "zz_probe_field";

interface Detail {
  field: string;
  reason: string;
}

/** A value of the schema's shape with every documented property present; validity beyond that does not matter here. */
function sample(spec: SpecName, schema: Schema | null | undefined, depth = 0): unknown {
  if (!schema || depth > 6) return "x";
  if (schema.$ref) return sample(spec, loadContract(spec).schemas[schema.$ref.split("/").pop()!], depth + 1);
  const variant = schema.allOf ?? schema.oneOf ?? schema.anyOf;
  if (variant) {
    const parts = variant.map((s) => sample(spec, s, depth + 1));
    return parts.every((p) => typeof p === "object" && p !== null && !Array.isArray(p))
      ? Object.assign({}, ...parts)
      : parts[0];
  }
  if (schema.enum?.length) return schema.enum[0];
  if (schema.properties) {
    return Object.fromEntries(
      Object.entries(schema.properties).map(([k, s]) => [k, sample(spec, s, depth + 1)]),
    );
  }
  switch (schema.type) {
    case "boolean":
      return true;
    case "integer":
    case "number":
      return schema.minimum ?? 1;
    case "array":
      return [sample(spec, schema.items, depth + 1)];
    case "object":
      return {};
    default:
      return schema.format === "email" ? "someone@example.test" : "x";
  }
}

interface JsonOperation {
  spec: SpecName;
  method: string;
  path: string;
  body: Record<string, unknown>;
}

function jsonOperations(): JsonOperation[] {
  return (["heimdall", "platform"] as const).flatMap((spec) =>
    Object.entries(loadContract(spec).paths).flatMap(([path, ops]) =>
      Object.entries(ops as Record<string, Operation>).flatMap(([method, op]) => {
        const schema = op.requestBody?.content["application/json"];
        if (!schema) return [];
        const body = sample(spec, schema);
        if (typeof body !== "object" || body === null || Array.isArray(body)) return [];
        return [{ spec, method: method.toUpperCase(), path, body: body as Record<string, unknown> }];
      }),
    ),
  );
}

/**
 * The contract's RFC endpoints take a form or JSON and must ignore parameters they do not know (RFC 6749
 * §3.2, RFC 7662 §2.1); a probe there is accepted, not refused.
 */
const OPEN_BODIES = new Set([
  "POST /{app_slug}/v1/oauth/token",
  "POST /{app_slug}/v1/oauth/introspect",
  // A provider's callback (Apple's form_post) carries the parameters the provider chooses (RFC 6749 §4.1.2).
  "POST /{app_slug}/v1/auth/oauth/{provider}/callback",
]);

let ctx: TestContext;
let app: AppBody;
let auths: Auth[];
let params: Record<string, string>;

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "contract-bodies");
  // The sweep checks body shapes, not the app's permission model: any lane that reaches validation will do.
  await setEnforcement(ctx, app, false);
  const owner = await createEndUser(ctx, app, "sweeper", { role: "owner" });
  const cookie = await ctx.signIn();
  auths = [{ pak: ctx.pak }, { cookie }, { bearer: owner.token }, null];
  const { workspaces } = ctx.deps.db.tables;
  const [workspace] = await ctx.deps.db
    .select({ slug: workspaces.slug })
    .from(workspaces)
    .where(eq(workspaces.id, ctx.workspaceId));
  params = { app_id: app.id, app_slug: app.slug, workspace_slug: workspace!.slug, provider: "google" };
});

const unknownOf = (body: { details?: Detail[] }): Detail[] =>
  (body?.details ?? []).filter((d) => d.reason.startsWith("unknown field"));

/** Fills `{x}` placeholders; the harness replaces only the keys it is given. */
function paramsFor(path: string): Record<string, string> {
  return Object.fromEntries(
    [...path.matchAll(/\{([^}]+)\}/g)].map(([, name]) => [name!, params[name!] ?? "placeholder-id"]),
  );
}

describe("contract request bodies", () => {
  const ops = jsonOperations();

  test("the vendored contracts have JSON request bodies to sweep", () => {
    expect(ops.length).toBeGreaterThan(60);
  });

  test.each(ops.map((op) => [`${op.method} ${op.path}`, op] as const))(
    "%s: every documented field is accepted",
    async (name, op) => {
      const call = (body: unknown, auth: Auth) =>
        ctx.call<{ code?: string; details?: Detail[] }>(op.method, op.path, {
          params: paramsFor(op.path),
          body,
          auth,
          unchecked: true,
        });
      // Find a credential with which the route reaches body validation: the probe is then named.
      let checking: Auth | undefined;
      let lastStatus = 0;
      for (const auth of auths) {
        const probed = await call({ ...op.body, [PROBE]: true }, auth);
        lastStatus = probed.status;
        if (probed.status === 400 && unknownOf(probed.body).some((d) => d.field === PROBE)) {
          // Only the probe is unknown: every documented field is declared by the route's schema.
          expect(unknownOf(probed.body)).toEqual([{ field: PROBE, reason: "unknown field" }]);
          checking = auth;
          break;
        }
      }
      if (OPEN_BODIES.has(name)) {
        expect(checking).toBeUndefined();
        return;
      }
      if (checking === undefined) {
        // A route this appliance does not serve (yet) answers before any body is read.
        expect([404, 405, 501]).toContain(lastStatus);
        return;
      }
      const res = await call(op.body, checking);
      expect(unknownOf(res.body)).toEqual([]);
    },
  );
});
