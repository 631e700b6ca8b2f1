/**
 * @module How an outbox message leaves the appliance (docs/operations.md, "Email"): over SMTP with nodemailer, or — in
 * `EMAIL_MODE=log`, the default without an SMTP URL — as one JSON log line. Log mode is for development:
 * the line carries the whole text, so verification and reset codes appear in the log by design.
 */
import { createTransport } from "nodemailer";
import type { Config } from "../config/index.ts";
import type { Logger } from "../core/logger.ts";

export interface OutgoingEmail {
  id: string;
  to: string;
  from: string;
  subject: string;
  text: string;
  html: string | null;
}

export type SendResult =
  | { ok: true }
  /** `permanent`: the server refused this message for good (RFC 5321 5yz); retrying would get the same answer. */
  | { ok: false; permanent: boolean; error: string };

export interface MailTransport {
  /** `unwired`: SMTP mode was asked for without an SMTP URL, so nothing can be sent. */
  readonly kind: "smtp" | "log" | "unwired";
  send(message: OutgoingEmail): Promise<SendResult>;
  close(): void;
}

/**
 * Socket timeouts. A delivery attempt must not hold a request (or the delivery job) for long: a server
 * that does not greet within seconds is treated as down and the outbox retries later.
 */
export const SMTP_TIMEOUTS = {
  connectionTimeout: 5_000,
  greetingTimeout: 5_000,
  socketTimeout: 15_000,
  dnsTimeout: 5_000,
} as const;

const MAX_ERROR_LENGTH = 500;

interface SmtpFailure {
  message?: string;
  code?: string;
  responseCode?: number;
  permanent?: boolean;
}

/** A readable, bounded error for `last_error`; never a stack. */
function describe(err: SmtpFailure): string {
  const parts = [err.code, err.responseCode].filter((p) => p !== undefined).join(" ");
  return `${parts ? `${parts}: ` : ""}${err.message ?? "unknown error"}`.slice(0, MAX_ERROR_LENGTH);
}

function smtpTransport(url: string): MailTransport {
  // smtps:// connects with implicit TLS; smtp:// upgrades with STARTTLS whenever the server offers it
  // (nodemailer's default), and certificates are verified in both cases.
  // The URL sets host, port, security and credentials (and may override the timeouts in its query).
  const mailer = createTransport({ url, ...SMTP_TIMEOUTS });
  return {
    kind: "smtp",
    async send(m) {
      try {
        await mailer.sendMail({
          from: m.from,
          to: m.to,
          subject: m.subject,
          text: m.text,
          ...(m.html ? { html: m.html } : {}),
          // The outbox id as Message-ID: a retried delivery is recognisably the same message.
          messageId: `<${m.id}@heimdall>`,
        });
        return { ok: true };
      } catch (e) {
        const err = e as SmtpFailure;
        const permanent =
          err.permanent ??
          (err.responseCode !== undefined && err.responseCode >= 500 && err.responseCode !== 503);
        return { ok: false, permanent, error: describe(err) };
      }
    },
    close: () => mailer.close(),
  };
}

/** Shows a log-mode message to a person as well (`heimdall dev` prints it to the terminal). */
export type MailEcho = (message: OutgoingEmail) => void;

function logTransport(log: Logger, echo?: MailEcho): MailTransport {
  return {
    kind: "log",
    async send(m) {
      log.info("email", { outbox_id: m.id, to: m.to, from: m.from, subject: m.subject, text: m.text });
      echo?.(m);
      return { ok: true };
    },
    close() {},
  };
}

const unwiredTransport: MailTransport = {
  kind: "unwired",
  async send() {
    return { ok: false, permanent: false, error: "EMAIL_MODE is smtp but no SMTP URL is configured" };
  },
  close() {},
};

export function createMailTransport(
  config: Pick<Config, "emailMode" | "smtpUrl">,
  log: Logger,
  echo?: MailEcho,
): MailTransport {
  if (config.emailMode === "log") return logTransport(log, echo);
  return config.smtpUrl ? smtpTransport(config.smtpUrl) : unwiredTransport;
}
