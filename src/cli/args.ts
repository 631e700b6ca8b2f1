/** @module What every CLI command shares: argv parsing with `--help`, the config flags, output streams and exit codes. */
import { parseArgs } from "node:util";
import { CONFIG_FLAGS, type Config, type ConfigDefaults, loadConfig } from "../config/index.ts";
import { nearest } from "../core/nearest.ts";

/** 0 done; 1 the operation failed or was refused (data dir, key file, broken audit chain); 2 bad usage or config. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Where a command writes: stdout carries results (scriptable), stderr carries diagnostics. Lines get a newline. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}

export const processIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** A failure the user must read: printed as is to stderr, then the process exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
  ) {
    super(message);
    this.name = "CliError";
  }
}

export interface OptionSpec {
  type: "string" | "boolean";
  /** Repeatable (`--app a --app b`): the value is an array. */
  multiple?: boolean;
  short?: string;
  /** Shown after the flag in help, e.g. `<id|slug>`. */
  arg?: string;
  help: string;
}

export type Options = Record<string, OptionSpec>;

export interface CommandSpec {
  /** e.g. `keys rotate`. */
  name: string;
  summary: string;
  /** Extra usage lines after the synopsis (notes, examples). */
  notes?: string[];
  options: Options;
  /** Accept the config flags (README.md, "Configuration"); every command that opens the data dir does. */
  config: boolean;
  /** Arguments after the options, e.g. `backup [FILE]`: the synopsis shown in help and how many at most. */
  positionals?: { synopsis: string; max: number };
}

const CONFIG_OPTIONS: Options = {
  config: { type: "string", arg: "<file>", help: "JSON or TOML config file (HEIMDALL_CONFIG)" },
  "data-dir": { type: "string", arg: "<dir>", help: "data directory (HEIMDALL_DATA_DIR, default ./data)" },
  "database-url": {
    type: "string",
    arg: "<url>",
    help: "PostgreSQL instead of SQLite (HEIMDALL_DATABASE_URL, postgres://…)",
  },
  "master-key-file": {
    type: "string",
    arg: "<file>",
    help: "master key file (default <data dir>/master.key)",
  },
  host: { type: "string", arg: "<addr>", help: "listen address (HEIMDALL_HOST, default 0.0.0.0)" },
  port: { type: "string", arg: "<port>", help: "listen port (HEIMDALL_PORT, default 8080)" },
  "public-url": { type: "string", arg: "<url>", help: "base of issuer URLs (HEIMDALL_PUBLIC_URL)" },
  "log-level": { type: "string", arg: "<level>", help: "debug | info | warn | error (default info)" },
  "audit-retention-days": {
    type: "string",
    arg: "<days>",
    help: "prune audit rows older than this (HEIMDALL_AUDIT_RETENTION_DAYS, default 90; 0 keeps all)",
  },
  "backup-dir": {
    type: "string",
    arg: "<dir>",
    help: "serve: write scheduled backups here (HEIMDALL_BACKUP_DIR; off when unset)",
  },
};

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  /** Arguments that are not options; empty unless the spec declares `positionals`. */
  positionals: string[];
}

function allOptions(spec: CommandSpec): Options {
  return spec.config ? { ...spec.options, ...CONFIG_OPTIONS } : spec.options;
}

export function helpText(spec: CommandSpec): string {
  const opts = Object.entries(allOptions(spec));
  const flag = ([name, o]: [string, OptionSpec]) =>
    `${o.short ? `-${o.short}, ` : "    "}--${name}${o.arg ? ` ${o.arg}` : ""}`;
  const width = Math.max(...opts.map((o) => flag(o).length), 10);
  return [
    `Usage: heimdall ${spec.name}${opts.length ? " [options]" : ""}${spec.positionals ? ` ${spec.positionals.synopsis}` : ""}`,
    "",
    spec.summary,
    ...(spec.notes?.length ? ["", ...spec.notes] : []),
    "",
    "Options:",
    ...opts.map((o) => `  ${flag(o).padEnd(width)}  ${o[1].help}`),
    `      ${"--help".padEnd(width - 4)}  show this help`,
  ].join("\n");
}

/**
 * Parses `argv` against the command's options (strict: unknown flags and stray arguments are usage
 * errors). Returns null after printing help when `--help` was given.
 */
export function parseCommand(spec: CommandSpec, argv: string[], io: Io): Parsed | null {
  const options = { ...allOptions(spec), help: { type: "boolean" as const, short: "h", help: "" } };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      options,
      strict: true,
      allowPositionals: spec.positionals !== undefined,
    });
  } catch (err) {
    throw new CliError(
      usageProblem(spec, Object.keys(options), err as Error & { code?: string }),
      EXIT_USAGE,
    );
  }
  if (parsed.values.help) {
    io.out(helpText(spec));
    return null;
  }
  if (spec.positionals && parsed.positionals.length > spec.positionals.max)
    throw new CliError(
      `too many arguments: ${parsed.positionals.join(" ")}\n\n${helpText(spec)}`,
      EXIT_USAGE,
    );
  return { values: parsed.values as Parsed["values"], positionals: parsed.positionals };
}

/**
 * A usage mistake in one line and where to look next; an unknown flag gets the nearest valid one, since
 * it is nearly always a typo and the full help would bury the one word that matters.
 */
function usageProblem(spec: CommandSpec, flags: string[], err: Error & { code?: string }): string {
  const more = `run \`heimdall ${spec.name} --help\` for its options`;
  if (err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const given = err.message.match(/'(-{1,2}[^'=]*)/)?.[1] ?? "";
    const guess = nearest(given.replace(/^-+/, ""), flags);
    return `heimdall ${spec.name}: unknown flag ${given}; ${guess ? `did you mean --${guess}?` : more}`;
  }
  return `heimdall ${spec.name}: ${err.message}; ${more}`;
}

/**
 * The config from the command's flags (env and file are merged by `loadConfig`, over the command's own
 * `defaults` if it has any); throws ConfigError.
 */
export function configFrom(values: Parsed["values"], defaults?: ConfigDefaults): Config {
  const flags: Record<string, string | undefined> = {};
  for (const name of CONFIG_FLAGS) {
    const v = values[name];
    if (typeof v === "string") flags[name] = v;
  }
  return loadConfig(flags, undefined, defaults);
}

export function requireString(values: Parsed["values"], name: string, spec: CommandSpec): string {
  const v = values[name];
  if (typeof v !== "string" || v === "")
    throw new CliError(`--${name} is required\n\n${helpText(spec)}`, EXIT_USAGE);
  return v;
}

export function optionalString(values: Parsed["values"], name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

/** A top-level command as the dispatcher sees it. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  run(argv: string[], io: Io): Promise<number>;
}

export interface Subcommand {
  readonly spec: CommandSpec;
  run(args: Parsed, io: Io): Promise<number>;
}

/** `heimdall <group> <sub> [options]`, e.g. `keys rotate`: picks the subcommand, parses its flags, runs it. */
export function commandGroup(name: string, summary: string, subs: Record<string, Subcommand>): Command {
  const help = () =>
    [
      `Usage: heimdall ${name} <command> [options]`,
      "",
      summary,
      "",
      "Commands:",
      ...Object.entries(subs).map(([sub, s]) => `  ${`${name} ${sub}`.padEnd(22)} ${s.spec.summary}`),
      "",
      `Run \`heimdall ${name} <command> --help\` for its options.`,
    ].join("\n");
  return {
    name,
    summary,
    async run(argv, io) {
      const [sub, ...rest] = argv;
      if (sub === "--help" || sub === "-h" || sub === "help") {
        io.out(help());
        return EXIT_OK;
      }
      const chosen = sub !== undefined && Object.hasOwn(subs, sub) ? subs[sub] : undefined;
      if (!chosen)
        throw new CliError(
          `${sub === undefined ? "missing" : `unknown`} ${name} command${sub ? `: ${sub}` : ""}\n\n${help()}`,
          EXIT_USAGE,
        );
      const args = parseCommand(chosen.spec, rest, io);
      return args ? await chosen.run(args, io) : EXIT_OK;
    },
  };
}

/** A single command (no subcommands) from its spec and body. */
export function simpleCommand(spec: CommandSpec, body: (args: Parsed, io: Io) => Promise<number>): Command {
  return {
    name: spec.name,
    summary: spec.summary,
    async run(argv, io) {
      const args = parseCommand(spec, argv, io);
      return args ? await body(args, io) : EXIT_OK;
    },
  };
}
