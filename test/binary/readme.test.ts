/**
 * @module The README's quick start, run as written: its marked blocks, in order, in one bash, against a
 * freshly built binary in a temp dir on a free port, so the first page a newcomer reads cannot go stale.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { expectResponseMatches } from "../support/openapi.ts";
import { buildBinary, freePort, ROOT } from "./support.ts";

/** A fenced block whose info string carries the `quickstart` marker: ```sh quickstart, ```ts quickstart=verify.ts. */
interface Block {
  lang: string;
  /** The value after `quickstart=`: `install` for the install step, a file name for a file to save. */
  name?: string;
  body: string;
}

function quickstartBlocks(markdown: string): Block[] {
  return [...markdown.matchAll(/^```(\w+) quickstart(?:=(\S+))?\n([\s\S]*?)^```$/gm)].map((m) => ({
    lang: m[1]!,
    name: m[2],
    body: m[3]!,
  }));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const blocks = quickstartBlocks(readFileSync(join(ROOT, "README.md"), "utf8"));
const shellSteps = blocks.filter((b) => b.lang === "sh" && b.name === undefined);

let work = "";
let runDir = "";
let port = 0;
/** What each shell step printed, by its index in `shellSteps`. */
let stepOut: string[] = [];
/** Everything the script printed, shown when a step failed. */
let transcript = "";
let serverExit = "";

/** The server the README starts in the background, if the script died before its `kill`: its lock names it. */
function killLeftoverServer(): void {
  try {
    const { pid } = JSON.parse(readFileSync(join(runDir, "data", "heimdall.lock"), "utf8")) as {
      pid: number;
    };
    process.kill(pid, "SIGTERM");
  } catch {
    // no lock file or no such process: nothing was left running
  }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "heimdall-readme-"));
  runDir = join(work, "checkout");
  // Step 1, `./install.sh`, runs `npm ci` and then scripts/build.ts; the suite already has the
  // dependencies, so the test builds the binary with the same script and links the checkout's
  // node_modules beside it, which leaves the directory as install.sh would.
  buildBinary(work, runDir);
  symlinkSync(join(ROOT, "node_modules"), join(runDir, "node_modules"));
  for (const b of blocks.filter((x) => x.lang !== "sh")) writeFileSync(join(runDir, b.name!), b.body);

  // Every step in one bash, as a reader pastes them into one shell; 8080 becomes a free port and a
  // marker line before each step lets the assertions find what that step printed.
  port = freePort();
  const script = [
    "set -euo pipefail",
    ...shellSteps.map((b, i) => `printf '\\n@@step ${i}\\n'\n${b.body.replaceAll("8080", String(port))}`),
    "set +e",
    'wait "$SERVER"',
    "printf '\\n@@server-exit %s\\n' \"$?\"",
  ].join("\n");
  const proc = Bun.spawn(["bash", "-c", script], {
    cwd: runDir,
    // Nothing of the runner's HEIMDALL_* environment leaks in: only what the README exports counts.
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? runDir },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 90_000);
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  await proc.exited;
  clearTimeout(timer);
  transcript = `${out}\n--- stderr ---\n${err}`;
  const parts = out.split(/^@@step (\d+)$/m);
  stepOut = shellSteps.map((_, i) => {
    const at = parts.indexOf(String(i));
    return at === -1 ? "" : (parts[at + 1] ?? "").split(/^@@server-exit/m)[0]!.trim();
  });
  serverExit = out.match(/^@@server-exit (\d+)$/m)?.[1] ?? "";
}, 150_000);

afterAll(() => {
  if (!runDir) return;
  // Only when the script died before `wait` reaped it: a pid from a finished run may belong to another process.
  if (serverExit === "") killLeftoverServer();
  rmSync(work, { recursive: true, force: true });
});

/** The step whose text contains `needle` (steps are found by what they do, not by their position). */
function outputOf(needle: string): string {
  const i = shellSteps.findIndex((b) => b.body.includes(needle));
  expect(i).toBeGreaterThanOrEqual(0);
  return stepOut[i]!;
}

describe("README quick start", () => {
  test("is marked: install, the shell steps and one TypeScript file to save", () => {
    expect(blocks[0]).toEqual({ lang: "sh", name: "install", body: "./install.sh\n" });
    expect(blocks.filter((b) => b.lang === "ts").map((b) => b.name)).toEqual(["verify.ts"]);
    expect(shellSteps.length).toBeGreaterThanOrEqual(5);
  });

  test("every step runs to the end and the server stops cleanly (SIGTERM drains, exit 0)", () => {
    if (serverExit !== "0") {
      const log = join(runDir, "heimdall.log");
      const serverLog = existsSync(log) ? readFileSync(log, "utf8") : "(no heimdall.log)";
      throw new Error(`the script stopped early:\n${transcript}\n--- heimdall.log ---\n${serverLog}`);
    }
    expect(stepOut.every((s) => s !== "")).toBe(true);
    expect(readFileSync(join(runDir, "heimdall.log"), "utf8")).toContain(`http://127.0.0.1:${port}`);
  });

  test("serve: the healthcheck reaches the server on the README's port", () => {
    expect(outputOf("./heimdall serve")).toContain(`ok http://127.0.0.1:${port}/healthz`);
  });

  test("the operator signs in with the bootstrap credentials and gets a platform session", () => {
    expect(outputOf("/v1/auth/signin")).toMatch(/^signed in: hps_/);
  });

  test("the app is created with the session; its answer is the contract's App", () => {
    const app = JSON.parse(readFileSync(join(runDir, "app.json"), "utf8"));
    expectResponseMatches("heimdall", "POST", "/v1/apps", 201, app);
    expect(app).toMatchObject({ slug: "demo", display_name: "Demo", status: "active" });
    expect(outputOf("/v1/apps")).toBe(`app ${app.id} serves http://127.0.0.1:${port}/demo/v1`);
  });

  test("the end user signs up and gets an access token for the app, signed by a key the JWKS publishes", () => {
    const tokens = JSON.parse(readFileSync(join(runDir, "tokens.json"), "utf8"));
    expectResponseMatches("heimdall", "POST", "/{app_slug}/v1/auth/signup", 200, tokens);
    expect(outputOf("auth/signup")).toBe(`access token: ${tokens.access_token.slice(0, 24)}…`);

    const [jwksLine, verifyLine] = outputOf("/verify").split("\n");
    const jwks = JSON.parse(jwksLine!) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toContain(decodeProtectedHeader(tokens.access_token).kid!);
    const verdict = JSON.parse(verifyLine!);
    expectResponseMatches("heimdall", "POST", "/{app_slug}/v1/verify", 200, verdict);
    expect(verdict).toMatchObject({ valid: true, principal: { sub: decodeJwt(tokens.access_token).sub } });
  });

  test("verify.ts: the SDK and jose both verify the token, the sub is the signed-up user", () => {
    const tokens = JSON.parse(readFileSync(join(runDir, "tokens.json"), "utf8"));
    const sub = decodeJwt(tokens.access_token).sub!;
    expect(sub).toMatch(UUID);
    expect(decodeJwt(tokens.access_token).iss).toBe(`http://127.0.0.1:${port}/demo`);
    expect(outputOf("verify.ts")).toBe(`sdk sub=${sub} jose sub=${sub} user=${sub}`);
  });

  test("what the steps did is in the database: the app, its end user, and their audit rows", () => {
    const db = new Database(join(runDir, "data", "heimdall.db"), { readonly: true });
    try {
      const app = db.query("SELECT id FROM apps WHERE slug = 'demo'").get() as { id: string } | null;
      expect(app).not.toBeNull();
      const actions = (
        db.query("SELECT action FROM audit_log WHERE app_id = ? ORDER BY rowid").all(app!.id) as {
          action: string;
        }[]
      ).map((r) => r.action);
      expect(actions).toContain("app.created");
      expect(actions).toContain("user.signed_up");
      const sub = decodeJwt(JSON.parse(readFileSync(join(runDir, "tokens.json"), "utf8")).access_token).sub;
      const user = db.query("SELECT app_id, username FROM end_users WHERE id = ?").get(sub!);
      expect(user).toEqual({ app_id: app!.id, username: "ada" });
    } finally {
      db.close();
    }
  });
});
