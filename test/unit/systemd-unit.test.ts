/** @module The systemd units in deploy/: the hardening and restart settings docs/operations.md promises, and `systemd-analyze verify` finding nothing to say about them. */
import { describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const DEPLOY = join(import.meta.dir, "../../deploy");
const UNITS = [
  "heimdall.service",
  "heimdall-healthcheck.service",
  "heimdall-healthcheck.timer",
  "heimdall-restart.service",
];
const BINARY = "/usr/local/bin/heimdall";
/** serve's drain bound (src/cli/serve.ts): the stop timeout must leave it room. */
const DRAIN_SECONDS = 10;

type Unit = Map<string, Map<string, string[]>>;

/** A unit file as systemd reads it: sections of keys, each key's assignments in order (repeats accumulate). */
function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  for (const [n, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1]!, section);
      continue;
    }
    const assignment = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(line);
    if (!assignment || !section)
      throw new Error(`line ${n + 1} is neither a section, a key nor a comment: ${raw}`);
    const values = section.get(assignment[1]!) ?? [];
    values.push(assignment[2]!);
    section.set(assignment[1]!, values);
  }
  return unit;
}

const read = (name: string) => parseUnit(readFileSync(join(DEPLOY, name), "utf8"));
/** What a key ends up as: its last assignment (an empty one resets a list, as for CapabilityBoundingSet=). */
const last = (unit: Unit, section: string, key: string) => unit.get(section)?.get(key)?.at(-1);
const all = (unit: Unit, section: string, key: string) => unit.get(section)?.get(key) ?? [];

function seconds(span: string): number {
  const m = /^(\d+)\s*(s|sec|min|m)?$/.exec(span);
  if (!m) throw new Error(`not a time span: ${span}`);
  return Number(m[1]) * (m[2] === "min" || m[2] === "m" ? 60 : 1);
}

describe("deploy/heimdall.service", () => {
  const unit = read("heimdall.service");
  const service = (key: string) => last(unit, "Service", key);

  test("runs `heimdall serve` as the dedicated user, with its data dir in the state directory", () => {
    expect(service("ExecStart")).toBe(`${BINARY} serve`);
    expect(service("User")).toBe("heimdall");
    expect(service("DynamicUser")).toBeUndefined();
    expect(service("StateDirectory")).toBe("heimdall");
    expect(service("StateDirectoryMode")).toBe("0700");
    expect(all(unit, "Service", "Environment")).toContain("HEIMDALL_DATA_DIR=/var/lib/heimdall");
    expect(service("EnvironmentFile")).toBe("/etc/heimdall/heimdall.env");
    expect(service("UMask")).toBe("0077");
    expect(last(unit, "Install", "WantedBy")).toBe("multi-user.target");
  });

  test("is hardened: no privileges, read-only system, private tmp and devices, no capabilities, narrow sockets and syscalls", () => {
    for (const [key, value] of [
      ["NoNewPrivileges", "yes"],
      ["ProtectSystem", "strict"],
      ["ProtectHome", "yes"],
      ["PrivateTmp", "yes"],
      ["PrivateDevices", "yes"],
      ["RestrictSUIDSGID", "yes"],
      ["CapabilityBoundingSet", ""],
      ["RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"],
    ] as const)
      expect([key, service(key)]).toEqual([key, value]);
    expect(all(unit, "Service", "SystemCallFilter")[0]).toBe("@system-service");
    // The hashing threads' setpriority/sched_setscheduler (@resources) must survive the deny list.
    for (const deny of all(unit, "Service", "SystemCallFilter").filter((f) => f.startsWith("~")))
      expect(deny).not.toContain("@resources");
    expect(service("SystemCallErrorNumber")).toBe("EPERM");
    expect(service("AmbientCapabilities")).toBeUndefined();
    // Off on purpose: the JavaScript engine's JIT needs writable+executable memory (docs/operations.md).
    expect(service("MemoryDenyWriteExecute")).toBeUndefined();
    // The low-port capability is offered only as a comment.
    expect(readFileSync(join(DEPLOY, "heimdall.service"), "utf8")).toContain(
      "#CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
    );
  });

  test("restarts on failure, waits for /healthz after start, and gives the drain time to finish on stop", () => {
    expect(service("Restart")).toBe("on-failure");
    expect(seconds(service("TimeoutStopSec")!)).toBeGreaterThan(DRAIN_SECONDS);
    expect(service("KillSignal")).toBe("SIGTERM");
    expect(service("ExecStartPost")).toContain(`${BINARY} healthcheck`);
    // systemd expands $NAME in command lines itself: every shell `$` must be written `$$`.
    expect(service("ExecStartPost")!.replaceAll("$$", "")).not.toContain("$");
  });
});

describe("the watchdog: heimdall-healthcheck.timer → .service → heimdall-restart.service", () => {
  test("the timer runs the probe while the server runs; a failed probe try-restarts the server", () => {
    const timer = read("heimdall-healthcheck.timer");
    expect(last(timer, "Timer", "OnUnitActiveSec")).toBeDefined();
    expect(last(timer, "Install", "WantedBy")).toBe("heimdall.service");
    expect(last(timer, "Unit", "PartOf")).toBe("heimdall.service");

    const probe = read("heimdall-healthcheck.service");
    expect(last(probe, "Service", "ExecStart")).toStartWith(`${BINARY} healthcheck`);
    expect(last(probe, "Service", "Type")).toBe("oneshot");
    expect(last(probe, "Unit", "OnFailure")).toBe("heimdall-restart.service");
    expect(last(probe, "Unit", "Requisite")).toBe("heimdall.service");
    expect(last(probe, "Service", "NoNewPrivileges")).toBe("yes");
    expect(last(probe, "Service", "CapabilityBoundingSet")).toBe("");

    const restart = read("heimdall-restart.service");
    expect(last(restart, "Service", "ExecStart")).toBe(
      "/usr/bin/systemctl --no-block try-restart heimdall.service",
    );
  });

  test("deploy/ holds exactly these units", () => {
    expect(readdirSync(DEPLOY).sort()).toEqual([...UNITS].sort());
  });
});

describe("systemd-analyze verify", () => {
  const analyze = Bun.which("systemd-analyze");

  /**
   * Verifies copies of `files` (name → text) in a temp dir. verify also checks that each command exists, and
   * the binary is not installed here, so the copies point at a stand-in executable instead.
   */
  function verify(files: Record<string, string>): { code: number; output: string } {
    const dir = mkdtempSync(join(tmpdir(), "heimdall-units-"));
    try {
      const stand = join(dir, "heimdall");
      writeFileSync(stand, "#!/bin/sh\n");
      chmodSync(stand, 0o755);
      for (const [name, text] of Object.entries(files))
        writeFileSync(join(dir, name), text.replaceAll(BINARY, stand));
      const proc = Bun.spawnSync(
        [analyze!, "verify", "--man=no", ...Object.keys(files).map((n) => join(dir, n))],
        { cwd: dir, stdout: "pipe", stderr: "pipe" },
      );
      return { code: proc.exitCode, output: `${proc.stdout.toString()}${proc.stderr.toString()}`.trim() };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  const ours = () => Object.fromEntries(UNITS.map((n) => [n, readFileSync(join(DEPLOY, n), "utf8")]));

  test("finds no error and no warning in the units (.ci/run installs it when missing)", () => {
    if (!analyze) {
      // Without systemd's own checker, at least every line parses as systemd reads it.
      for (const name of UNITS) expect(read(name).size).toBeGreaterThan(0);
      return;
    }
    expect(verify(ours())).toEqual({ code: 0, output: "" });
  });

  test("would say so if a key were misspelt or a value unparsable (the check above can fail)", () => {
    const broken = ours();
    broken["heimdall.service"] = broken["heimdall.service"]!.replace(
      "NoNewPrivileges=yes",
      "NoNewPrivileges=perhaps",
    ).replace("PrivateTmp=yes", "PrivateTemp=yes");
    if (!analyze) {
      expect(() => parseUnit("[Service]\nNoNewPrivileges yes\n")).toThrow("neither a section");
      return;
    }
    const res = verify(broken);
    expect(res.output).toContain("PrivateTemp");
    expect(res.output).toContain("perhaps");
  });
});
