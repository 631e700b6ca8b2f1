/** @module `heimdall doctor`'s email checks: the configured settings, and one test message through the transport. */

import type { Config } from "../config/index.ts";
import { type Clock, iso } from "../core/clock.ts";
import { newId } from "../core/ids.ts";
import type { MailTransport } from "../email/transport.ts";
import { type Finding, fail, ok, warn } from "./doctor.ts";

// ─── Email ─────────────────────────────────────────────────────────────────

/** The email settings as configured: the mode, the SMTP URL (parsed, credentials never shown) and the sender. */
export function checkEmailConfig(config: Pick<Config, "emailMode" | "smtpUrl" | "emailFrom">): Finding {
  const check = "email";
  const from = config.emailFrom ? `, sender ${config.emailFrom}` : "";
  if (config.emailMode === "log")
    return warn(
      check,
      `log mode: emails are written to the log, not sent${from}`,
      "for real delivery set HEIMDALL_SMTP_URL (smtp:// or smtps://) and HEIMDALL_EMAIL_FROM",
    );
  if (!config.smtpUrl)
    return fail(
      check,
      "HEIMDALL_EMAIL_MODE is smtp but no SMTP URL is set",
      "set HEIMDALL_SMTP_URL=smtp://host:587",
    );
  let url: URL;
  try {
    url = new URL(config.smtpUrl);
  } catch {
    return fail(
      check,
      "HEIMDALL_SMTP_URL does not parse as a URL",
      "set it as smtp://user:pass@host:587 or smtps://…:465",
    );
  }
  if (!["smtp:", "smtps:"].includes(url.protocol) || url.hostname === "")
    return fail(
      check,
      `HEIMDALL_SMTP_URL has no host or a scheme other than smtp/smtps`,
      "set it as smtp://host:587",
    );
  const where = `${url.protocol}//${url.hostname}:${url.port || (url.protocol === "smtps:" ? "465" : "587")}`;
  if (!config.emailFrom)
    return warn(
      check,
      `smtp mode via ${where}; no default sender`,
      "set HEIMDALL_EMAIL_FROM, or give every app a sender address",
    );
  return ok(check, `smtp mode via ${where}${from}`);
}

/** One message through the configured transport, as the outbox would send it. */
export async function sendTestEmail(
  transport: MailTransport,
  to: string,
  config: Pick<Config, "emailMode" | "emailFrom" | "publicUrl">,
  clock: Clock,
): Promise<Finding> {
  const check = "test email";
  const from = config.emailFrom ?? `heimdall@${new URL(config.publicUrl).hostname}`;
  const result = await transport.send({
    id: newId(clock),
    to,
    from,
    subject: "Heimdall test email",
    text: `This is a test email sent by \`heimdall doctor\` from ${config.publicUrl} at ${iso(clock.now())}.\n`,
    html: null,
  });
  if (!result.ok)
    return fail(
      check,
      `sending to ${to} failed: ${result.error}`,
      result.permanent
        ? "the SMTP server refused the message: check the sender (HEIMDALL_EMAIL_FROM), the recipient and the account's rights"
        : "check HEIMDALL_SMTP_URL (host, port, TLS, credentials) and that this machine can reach the SMTP server",
    );
  if (transport.kind === "log")
    return warn(
      check,
      `log mode: the message to ${to} was written to the log`,
      "set HEIMDALL_SMTP_URL to send it",
    );
  return ok(check, `sent to ${to} from ${from}; check that it arrived (and not as spam)`);
}
