/** @module NUL bytes in the request target, sent as raw HTTP/1.1 to the app listening on a real Bun server. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { createApp, type TestApp } from "../support/fixtures.ts";
import { createTestContext, type TestContext } from "../support/harness.ts";

let ctx: TestContext;
let app: TestApp;
let server: ReturnType<TestContext["app"]["listen"]>["server"];

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "nul-probe");
  server = ctx.app.listen({ port: 0, hostname: "127.0.0.1" }).server;
});

afterAll(() => {
  server?.stop(true);
});

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Writes `target` byte for byte into a request line (no client-side URL normalisation) and reads the answer. */
function rawGet(target: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(server!.port!, "127.0.0.1", () => {
      const extra = Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join("");
      socket.write(
        `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}Connection: close\r\n\r\n`,
        "latin1",
      );
    });
    let data = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      data += chunk;
    });
    socket.on("error", reject);
    socket.on("close", () => {
      const split = data.indexOf("\r\n\r\n");
      const [statusLine = "", ...lines] = data.slice(0, split).split("\r\n");
      const parsed: Record<string, string> = {};
      for (const l of lines) {
        const colon = l.indexOf(":");
        parsed[l.slice(0, colon).toLowerCase()] = l.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine.split(" ")[1]), headers: parsed, body: data.slice(split + 4) });
    });
  });
}

describe("a percent-encoded NUL is a 400 in the API's error shape", () => {
  const cases = () =>
    [
      ["in the query", "/healthz?probe=a%00b", "query"],
      ["in the path", "/healthz%00", "path"],
      ["in an Admin path parameter", "/v1/apps/%00", "path"],
      ["in an Admin query parameter", "/v1/apps?limit=1%00", "query"],
      ["in a Consumer slug", "/nul%00probe/v1/.well-known/openid-configuration", "path"],
      ["in the JWKS query (Bun's native route)", `/${app.slug}/v1/.well-known/jwks.json?x=%00`, "query"],
      ["in the JWKS slug (Bun's native route)", `/${app.slug}%00/v1/.well-known/jwks.json`, "path"],
      ["in the issuer-level JWKS query (native route)", `/${app.slug}/.well-known/jwks.json?x=%00`, "query"],
      ["in the issuer-level JWKS slug (native route)", `/${app.slug}%00/.well-known/jwks.json`, "path"],
    ] as const;

  test("each case", async () => {
    for (const [name, target, field] of cases()) {
      const res = await rawGet(target, { "x-request-id": "nul-1" });
      expect({ name, status: res.status }).toEqual({ name, status: 400 });
      expect(JSON.parse(res.body)).toEqual({
        statusCode: 400,
        code: "VALIDATION_ERROR",
        message: "Request validation failed",
        details: [{ field, reason: "must not contain a NUL byte" }],
        request_id: "nul-1",
      });
      expect(res.headers["x-request-id"]).toBe("nul-1");
    }
  });

  test("the token endpoint says it the RFC 6749 way", async () => {
    const res = await rawGet(`/${app.slug}/v1/oauth/token?x=%00`);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: "invalid_request" });
  });

  test("the same requests without the NUL are served", async () => {
    expect((await rawGet("/healthz?probe=ab")).status).toBe(200);
    expect((await rawGet(`/${app.slug}/v1/.well-known/jwks.json?x=1`)).status).toBe(200);
    expect((await rawGet(`/${app.slug}/.well-known/jwks.json?x=1`)).status).toBe(200);
  });
});

// Pins what Bun 1.4's HTTP parser does before any of our code runs (docs/decisions.md): if an upgrade
// changes it, this fails and the decision record needs a second look.
describe("a raw NUL byte never reaches the app", () => {
  test.each([
    ["in the query", "/healthz?probe=a\0b"],
    ["in the path", "/heal\0thz"],
  ])("%s: Bun answers 505 itself, with no body and no request id", async (_name, target) => {
    const before = ctx.log.lines.length;
    const res = await rawGet(target);
    expect(res.status).toBe(505);
    expect(res.body).toBe("");
    expect(res.headers["x-request-id"]).toBeUndefined();
    expect(res.headers.connection).toBe("close");
    expect(ctx.log.lines.length).toBe(before);
  });
});
