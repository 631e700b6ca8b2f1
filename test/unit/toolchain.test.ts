/** @module House rules enforced by the suite itself: strict type-check and the one formatter/linter (Biome). */
import { expect, test } from "bun:test";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");
const bin = (name: string) => join(ROOT, "node_modules/.bin", name);

function run(cmd: string[]): { code: number; out: string } {
  const r = Bun.spawnSync(cmd, { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, out: `${r.stdout}${r.stderr}` };
}

test("the project type-checks under strict TypeScript", () => {
  const r = run([bin("tsc"), "--noEmit", "-p", "."]);
  expect(r.out).toBe("");
  expect(r.code).toBe(0);
}, 120_000);

test("Biome finds nothing to format or lint", () => {
  const r = run([bin("biome"), "check", "src", "test", "bench", "scripts"]);
  if (r.code !== 0) throw new Error(r.out);
  expect(r.code).toBe(0);
}, 60_000);
