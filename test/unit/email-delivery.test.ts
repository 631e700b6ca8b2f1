/**
 * @module Outbox delivery with a scripted transport: the immediate attempt, backoff (1, 2, 4 … min, capped
 * at 1 h), giving up after 24 h, permanent refusals, claims (no double sends), purge, the log transport,
 * and sealed bodies (no code stored in plaintext; the sealed copy destroyed when the message ends).
 */
import { beforeEach, describe, expect, test } from "bun:test";
import { createAuditWriter } from "../../src/audit/writer.ts";
import { DAY, FakeClock, HOUR, MINUTE } from "../../src/core/clock.ts";
import { memoryLogger } from "../../src/core/logger.ts";
import { migrate, openDatabase, tx } from "../../src/db/client.ts";
import { emailOutbox, vaultSecrets } from "../../src/db/schema.ts";
import {
  backoff,
  createEmailService,
  DELIVERY_LEASE,
  type EmailService,
  type MailPlan,
} from "../../src/email/service.ts";
import {
  createMailTransport,
  type MailTransport,
  type OutgoingEmail,
  type SendResult,
} from "../../src/email/transport.ts";
import { appendMasterKey, loadMasterKeys } from "../../src/vault/master-key.ts";
import { createVault, type Vault } from "../../src/vault/vault.ts";
import { newKeyFile } from "./keys-fixtures.ts";

const PLAN: MailPlan = {
  from: "no-reply@acme.test",
  template: "heimdall-verification",
  webOrigin: null,
  appName: "Acme",
};

interface Scripted extends MailTransport {
  sent: OutgoingEmail[];
  next: SendResult[];
  /** Resolves sends only when released (to test claims during a slow send). */
  hold?: Promise<void>;
}

function scripted(): Scripted {
  const t: Scripted = {
    kind: "smtp",
    sent: [],
    next: [],
    async send(m) {
      if (t.hold) await t.hold;
      t.sent.push(m);
      return t.next.shift() ?? { ok: true };
    },
    close() {},
  };
  return t;
}

let clock: FakeClock;
let transport: Scripted;
let email: EmailService;
let db: ReturnType<typeof openDatabase>;
let keyFile: string;
let vault: Vault;

const serviceWith = (v: Vault) =>
  createEmailService({
    db,
    clock,
    log: memoryLogger("error"),
    config: { emailFrom: undefined },
    audit: createAuditWriter({ db, clock }),
    apps: {
      authorizeApp: () => {
        throw new Error("unused");
      },
      find: async () => undefined,
    },
    transport,
    vault: v,
  });

beforeEach(() => {
  clock = new FakeClock(Date.UTC(2026, 10, 1, 12));
  db = openDatabase(":memory:");
  migrate(db);
  transport = scripted();
  keyFile = newKeyFile();
  vault = createVault({ db, keys: loadMasterKeys(keyFile), clock });
  email = serviceWith(vault);
});

/** A code no id, timestamp or ciphertext of these tests contains by chance. */
const CODE = "482913";
const queue = async () =>
  await tx(
    db,
    async () => await email.enqueue("app-1", PLAN, "user@example.test", { code: CODE, expiresInMinutes: 10 }),
  );
const row = (id: string) =>
  db
    .select()
    .from(emailOutbox)
    .all()
    .find((r) => r.id === id)!;

describe("backoff", () => {
  test("1, 2, 4, 8, 16, 32 minutes, then capped at an hour", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 20].map(backoff)).toEqual([
      MINUTE,
      2 * MINUTE,
      4 * MINUTE,
      8 * MINUTE,
      16 * MINUTE,
      32 * MINUTE,
      HOUR,
      HOUR,
      HOUR,
    ]);
  });
});

describe("deliverNow", () => {
  test("sent at once: status sent, one attempt, the rendered message went out", async () => {
    const id = await queue();
    expect(await email.deliverNow(id)).toBe("sent");
    expect(row(id)).toMatchObject({ status: "sent", attempts: 1, sentAt: clock.now(), lastError: null });
    expect(transport.sent[0]).toMatchObject({ id, to: "user@example.test", from: "no-reply@acme.test" });
    expect(transport.sent[0]!.text).toContain(`Your code: ${CODE}`);
    // Nothing is left for the job.
    expect(await email.deliverDue()).toEqual({ sent: 0, queued: 0, failed: 0 });
  });

  test("a transient failure is queued with a retry in 1 minute; the job delivers it when due", async () => {
    transport.next.push({ ok: false, permanent: false, error: "421 try later" });
    const id = await queue();
    expect(await email.deliverNow(id)).toBe("queued");
    expect(row(id)).toMatchObject({
      status: "pending",
      attempts: 1,
      nextAttemptAt: clock.now() + MINUTE,
      lastError: "421 try later",
    });
    clock.advance(MINUTE - 1);
    expect(await email.deliverDue()).toEqual({ sent: 0, queued: 0, failed: 0 });
    clock.advance(1);
    expect(await email.deliverDue()).toEqual({ sent: 1, queued: 0, failed: 0 });
    expect(row(id)).toMatchObject({ status: "sent", attempts: 2, lastError: null });
  });

  test("a permanent refusal fails the row at once and is audited", async () => {
    transport.next.push({ ok: false, permanent: true, error: "550 no such user" });
    const id = await queue();
    expect(await email.deliverNow(id)).toBe("failed");
    expect(row(id)).toMatchObject({ status: "failed", attempts: 1, lastError: "550 no such user" });
    const audit = db.$client.query("SELECT action, resource_id, details FROM audit_log").all();
    expect(audit).toEqual([
      { action: "email.failed", resource_id: id, details: JSON.stringify({ attempts: 1, permanent: true }) },
    ]);
    clock.advance(DAY);
    expect(await email.deliverDue()).toEqual({ sent: 0, queued: 0, failed: 0 });
  });
});

describe("deliverDue", () => {
  test("retries with backoff for 24 h, then gives up", async () => {
    const id = await queue();
    const created = clock.now();
    let attempts = 0;
    while (row(id).status === "pending") {
      transport.next.push({ ok: false, permanent: false, error: "ECONNREFUSED" });
      clock.set(Math.max(clock.now(), row(id).nextAttemptAt));
      await email.deliverDue();
      attempts++;
      if (row(id).status === "pending") {
        expect(row(id).nextAttemptAt - clock.now()).toBe(backoff(row(id).attempts));
      }
    }
    expect(row(id).status).toBe("failed");
    expect(row(id).attempts).toBe(attempts);
    // 1+2+4+8+16+32 min, then hourly: the last attempt falls within the day, the next would not.
    expect(clock.now() - created).toBeLessThanOrEqual(DAY);
    expect(clock.now() + backoff(attempts) - created).toBeGreaterThan(DAY);
    expect(attempts).toBe(29);
  });

  test("a row being sent is claimed: a concurrent job run does not send it twice", async () => {
    const id = await queue();
    let release!: () => void;
    transport.hold = new Promise<void>((r) => {
      release = r;
    });
    const first = email.deliverDue();
    const second = await email.deliverDue();
    expect(second).toEqual({ sent: 0, queued: 0, failed: 0 });
    expect(row(id).nextAttemptAt).toBe(clock.now() + DELIVERY_LEASE);
    release();
    expect(await first).toEqual({ sent: 1, queued: 0, failed: 0 });
    expect(transport.sent).toHaveLength(1);
  });

  test("a send that crashed mid-way (lease expired, row still pending) is retried", async () => {
    const id = await queue();
    db.$client
      .query("UPDATE email_outbox SET attempts = 1, next_attempt_at = ? WHERE id = ?")
      .run(clock.now() + DELIVERY_LEASE, id);
    expect(await email.deliverDue()).toEqual({ sent: 0, queued: 0, failed: 0 });
    clock.advance(DELIVERY_LEASE);
    expect(await email.deliverDue()).toEqual({ sent: 1, queued: 0, failed: 0 });
    expect(row(id).attempts).toBe(2);
  });
});

describe("purge", () => {
  test("drops sent and failed rows after 7 days, never pending ones", async () => {
    const sent = await queue();
    await email.deliverNow(sent);
    transport.next.push({ ok: false, permanent: true, error: "550" });
    const failed = await queue();
    await email.deliverNow(failed);
    const pending = await queue();
    clock.advance(7 * DAY - 1);
    expect(await email.purge()).toBe(0);
    clock.advance(2);
    expect(await email.purge()).toBe(2);
    expect(
      db
        .select()
        .from(emailOutbox)
        .all()
        .map((r) => r.id),
    ).toEqual([pending]);
  });
});

describe("log transport", () => {
  test("EMAIL_MODE=log writes the whole message as one JSON line (codes included, by design)", async () => {
    const log = memoryLogger("info");
    const t = createMailTransport({ emailMode: "log", smtpUrl: undefined }, log);
    expect(t.kind).toBe("log");
    const res = await t.send({
      id: "m1",
      to: "a@example.test",
      from: "f@example.test",
      subject: "S",
      text: "Your code: 123456\n",
      html: null,
    });
    expect(res).toEqual({ ok: true });
    expect(log.lines).toHaveLength(1);
    const line = JSON.parse(log.lines[0]!);
    expect(line).toMatchObject({
      level: "info",
      msg: "email",
      to: "a@example.test",
      subject: "S",
      text: "Your code: 123456\n",
    });
  });

  test("smtp mode without a URL is unwired and never claims success", async () => {
    const t = createMailTransport({ emailMode: "smtp", smtpUrl: undefined }, memoryLogger("error"));
    expect(t.kind).toBe("unwired");
    expect(
      (await t.send({ id: "m", to: "a@b.test", from: "f@b.test", subject: "s", text: "t", html: null })).ok,
    ).toBe(false);
  });
});

/** Every value of every row of every table, as one string: what a stolen database file would show. */
function everyStoredValue(): string {
  const tables = db.$client
    .query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table'")
    .all()
    .map((t) => t.name);
  return tables.map((t) => JSON.stringify(db.$client.query(`SELECT * FROM "${t}"`).all())).join("\n");
}

const sealedRows = () => db.select().from(vaultSecrets).all();

describe("sealed bodies", () => {
  test("a queued message stores no code: the row holds a masked copy, the real body is sealed for it", async () => {
    const id = await queue();
    const r = row(id);
    expect(r.text).toContain("Your code: ******");
    expect(r.html).toContain("******");
    expect(r.bodySecretId).not.toBeNull();
    expect(sealedRows()).toEqual([
      expect.objectContaining({ id: r.bodySecretId, aad: `email_outbox:${id}` }),
    ]);
    expect(everyStoredValue()).not.toContain(CODE);
    const opened = JSON.parse(
      new TextDecoder().decode(await vault.open(r.bodySecretId!, `email_outbox:${id}`)),
    );
    expect(opened.text).toContain(`Your code: ${CODE}`);
    expect(opened.html).toContain(CODE);
  });

  test("delivery sends the sealed body, then destroys it with the status change", async () => {
    const id = await queue();
    expect(await email.deliverNow(id)).toBe("sent");
    expect(transport.sent[0]!.text).toContain(`Your code: ${CODE}`);
    expect(transport.sent[0]!.html).toContain(CODE);
    expect(row(id)).toMatchObject({ status: "sent", bodySecretId: null });
    expect(row(id).text).toContain("Your code: ******");
    expect(sealedRows()).toEqual([]);
    expect(everyStoredValue()).not.toContain(CODE);
  });

  test("a transient failure keeps the sealed body for the retry, which sends the real code", async () => {
    transport.next.push({ ok: false, permanent: false, error: "421 try later" });
    const id = await queue();
    expect(await email.deliverNow(id)).toBe("queued");
    expect(sealedRows()).toHaveLength(1);
    clock.advance(MINUTE);
    expect(await email.deliverDue()).toEqual({ sent: 1, queued: 0, failed: 0 });
    expect(transport.sent.map((m) => m.text.includes(`Your code: ${CODE}`))).toEqual([true, true]);
    expect(sealedRows()).toEqual([]);
  });

  test("a message that fails for good has its sealed body destroyed too", async () => {
    transport.next.push({ ok: false, permanent: true, error: "550 no such user" });
    const id = await queue();
    expect(await email.deliverNow(id)).toBe("failed");
    expect(row(id)).toMatchObject({ status: "failed", bodySecretId: null });
    expect(sealedRows()).toEqual([]);
    expect(everyStoredValue()).not.toContain(CODE);
  });

  test("a message without a code is sealed all the same, and its row keeps the whole text", async () => {
    const welcome: MailPlan = { ...PLAN, template: "heimdall-welcome" };
    const id = await tx(db, async () => await email.enqueue("app-1", welcome, "user@example.test", {}));
    expect(row(id).text).toContain("Welcome to Acme");
    expect(row(id).bodySecretId).not.toBeNull();
    expect(await email.deliverNow(id)).toBe("sent");
    expect(transport.sent[0]!.text).toBe(row(id).text);
    expect(sealedRows()).toEqual([]);
  });

  test("a sealed body that cannot be opened fails the message for good instead of crashing the job", async () => {
    const id = await queue();
    // Its sealed row lost, as after restoring a database without the matching secrets.
    db.$client.exec("PRAGMA foreign_keys = OFF");
    db.delete(vaultSecrets).run();
    db.$client.exec("PRAGMA foreign_keys = ON");
    expect(await email.deliverNow(id)).toBe("failed");
    expect(transport.sent).toEqual([]);
    expect(row(id)).toMatchObject({ status: "failed", bodySecretId: null });
    expect(row(id).lastError).toContain("sealed");
  });

  test("master-key rotation re-wraps a pending body like any vault secret, and it still delivers", async () => {
    const id = await queue();
    const before = sealedRows()[0]!;
    const newKek = appendMasterKey(keyFile, clock);
    const rotated = createVault({ db, keys: loadMasterKeys(keyFile), clock });
    expect(await rotated.rewrapAll()).toBe(1);
    expect(sealedRows()[0]).toMatchObject({ id: before.id, kekId: newKek, ciphertext: before.ciphertext });
    expect(sealedRows()[0]!.wrappedDek).not.toBe(before.wrappedDek);
    expect(await serviceWith(rotated).deliverNow(id)).toBe("sent");
    expect(transport.sent[0]!.text).toContain(`Your code: ${CODE}`);
    expect(sealedRows()).toEqual([]);
  });
});
