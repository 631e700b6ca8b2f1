/** @module Entry of the compiled binary: argv → CLI command → exit code. */
import { processIo } from "./cli/args.ts";
import { runCli } from "./cli/index.ts";

process.exit(await runCli(process.argv.slice(2), processIo));
