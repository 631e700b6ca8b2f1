/** @module `heimdall version`: the package version and the Bun runtime it runs on. */
import pkg from "../../package.json" with { type: "json" };
import { type CommandSpec, EXIT_OK, simpleCommand } from "./args.ts";

const spec: CommandSpec = {
  name: "version",
  summary: "Print the Heimdall version and the Bun runtime version.",
  options: {},
  config: false,
};

export const VERSION: string = pkg.version;

export const command = simpleCommand(spec, async (_args, io) => {
  io.out(`heimdall ${VERSION} (bun ${Bun.version})`);
  return EXIT_OK;
});
