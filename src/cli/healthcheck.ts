/** @module `heimdall healthcheck`: probes a running server's /healthz, for container HEALTHCHECK lines (exit 0 healthy, 1 not). */
import {
  CliError,
  type CommandSpec,
  configFrom,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  optionalString,
  simpleCommand,
} from "./args.ts";

const spec: CommandSpec = {
  name: "healthcheck",
  summary: "Probe the local server's /healthz; exit 0 when healthy, 1 when not.",
  notes: [
    "Targets http://127.0.0.1:<port> (port from --port, HEIMDALL_PORT or the config file) unless --url is given.",
  ],
  options: {
    url: {
      type: "string",
      arg: "<base url>",
      help: "probe <base url>/healthz instead, e.g. https://id.example.com",
    },
    timeout: { type: "string", arg: "<ms>", help: "give up after this many milliseconds (default 5000)" },
  },
  config: true,
};

export const command = simpleCommand(spec, async (args, io) => {
  const timeoutMs = Number(optionalString(args.values, "timeout") ?? 5000);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0)
    throw new CliError("--timeout must be a positive integer", EXIT_USAGE);
  const base = optionalString(args.values, "url") ?? localBase(configFrom(args.values));
  let target: URL;
  try {
    target = new URL("healthz", base.endsWith("/") ? base : `${base}/`);
  } catch {
    throw new CliError(`--url ${base} is not a URL`, EXIT_USAGE);
  }
  try {
    const res = await fetch(target, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
    await res.arrayBuffer();
    if (res.status === 200) {
      io.out(`ok ${target.href}`);
      return EXIT_OK;
    }
    io.err(`unhealthy: ${target.href} answered ${res.status}`);
  } catch (err) {
    io.err(`unhealthy: ${target.href}: ${(err as Error).message}`);
  }
  return EXIT_FAILURE;
});

/** The address to reach the server on this host: loopback when it listens on every interface. */
function localBase(config: { host: string; port: number }): string {
  const host = ["0.0.0.0", "::", ""].includes(config.host) ? "127.0.0.1" : config.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${config.port}`;
}
