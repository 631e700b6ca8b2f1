/**
 * @module Compiles the single `heimdall` binary: `bun scripts/build.ts [outfile]` (default `./heimdall`).
 * Every entry point of the binary is listed here — the server and the argon2 worker thread, which Bun
 * bundles as an entry point of its own — so install.sh, the binary tests and the benchmarks build alike.
 */
import { existsSync, rmSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

export const ROOT = join(import.meta.dir, "..");
export const ENTRY_POINTS = ["src/main.ts", "src/passwords/hash-worker.ts"];
/**
 * Which functions a serving binary runs, recorded by `scripts/record-bytecode-order.ts`: the build lays their
 * bytecode out together at the front, so `serve` touches fewer pages of the executable.
 */
export const BYTECODE_ORDER = join(ROOT, "scripts", "bytecode-order.txt");

/** Builds the binary at `outfile`; throws with the compiler's output when the build fails. */
export function buildBinary(outfile: string, { withProfile = true }: { withProfile?: boolean } = {}): void {
  const order = withProfile && existsSync(BYTECODE_ORDER) ? [`--bytecode-order=${BYTECODE_ORDER}`] : [];
  const build = Bun.spawnSync(
    [
      process.execPath,
      "build",
      "--compile",
      "--minify",
      "--sourcemap",
      // Precompiled bytecode: the binary starts without parsing its ~1,000 bundled modules (about 100 ms
      // less to /readyz on the development VM, and ~15 MiB less RSS); bytecode with top-level await needs ESM.
      "--bytecode",
      "--format=esm",
      ...order,
      ...ENTRY_POINTS,
      "--outfile",
      outfile,
    ],
    { cwd: ROOT, stdout: "pipe", stderr: "pipe" },
  );
  if (build.exitCode !== 0) throw new Error(`bun build failed: ${build.stderr.toString()}`);
  // The source maps are embedded in the binary; the side files are not needed.
  rmSync(`${outfile}.map`, { force: true });
  for (const entry of ENTRY_POINTS.slice(1)) {
    rmSync(join(dirname(outfile), `${basename(entry, ".ts")}.js.map`), { force: true });
  }
}

if (import.meta.main) {
  const outfile = resolve(process.argv[2] ?? join(ROOT, "heimdall"));
  buildBinary(outfile);
  console.log(`built ${outfile}`);
}
