/** @module What `heimdall dev` prints for a person: each log-mode email as a readable box, and the `.env` block to paste. */
import type { OutgoingEmail } from "../email/transport.ts";

/** The built-in code templates say `Your code: 123456`; links are whatever http(s) URLs the text carries. */
const CODE_LINE = /Your code:\s*(\S+)/;
const LINK = /https?:\/\/\S+/g;

/**
 * One email as a box: the envelope, the code and links pulled out on top (what a developer is looking
 * for), then the whole text body. The HTML part is left out: the text part carries the same content.
 */
export function formatEmail(m: OutgoingEmail): string {
  const code = m.text.match(CODE_LINE)?.[1];
  const links = [...new Set(m.text.match(LINK) ?? [])];
  const head: string[] = [
    `To:      ${m.to}`,
    `From:    ${m.from}`,
    `Subject: ${m.subject}`,
    ...(code ? [`Code:    ${code}`] : []),
    ...links.map((l) => `Link:    ${l}`),
  ];
  const body = m.text.replace(/\r\n/g, "\n").trimEnd().split("\n");
  const title = " email (log mode, not sent) ";
  const width = Math.min(
    100,
    Math.max(title.length + 4, ...head.map((l) => l.length), ...body.map((l) => l.length)),
  );
  const rule = "─".repeat(width + 2);
  return [
    `╭─${title}${"─".repeat(Math.max(0, width - title.length))}─╮`,
    ...head.map((l) => `│ ${l.padEnd(width)} │`),
    `├${rule}┤`,
    ...body.map((l) => `│ ${l.padEnd(width)} │`),
    `╰${rule}╯`,
  ].join("\n");
}

/** One app's credentials as `heimdall dev` prints them. */
export interface DevAppCredentials {
  readonly slug: string;
  readonly appId: string;
  readonly m2mClientId: string;
  readonly m2mClientSecret: string;
}

export interface DevOperatorCredentials {
  readonly email: string;
  readonly password: string;
  readonly pak: string;
}

/** The marker line before each app's block; the binary test finds the block by it. */
export const envBlockHeading = (slug: string) => `# .env for app "${slug}"`;

/**
 * The ready message: the operator's sign-in, then one complete `.env` block per app (the same variable
 * names in each, so a block pastes into that app's `.env` as is; several apps do not share one file).
 */
export function readyBlock(o: {
  baseUrl: string;
  dataDir: string;
  credentialsFile: string;
  operator: DevOperatorCredentials;
  apps: readonly DevAppCredentials[];
}): string[] {
  const lines = [
    "",
    "════ heimdall dev is ready ════",
    `Operator sign-in:  ${o.operator.email} / ${o.operator.password}  (POST ${o.baseUrl}/v1/auth/signin)`,
    `Data dir:          ${o.dataDir}  (kept between runs; --reset starts over)`,
    `Credentials file:  ${o.credentialsFile}`,
  ];
  if (o.apps.length === 0) {
    lines.push("", "No apps yet: run with --app <slug> (or --seed <file>) to get one and its .env block.");
  }
  for (const app of o.apps) {
    lines.push(
      "",
      envBlockHeading(app.slug),
      `HEIMDALL_BASE_URL=${o.baseUrl}`,
      `HEIMDALL_ISSUER=${o.baseUrl}/${app.slug}`,
      `HEIMDALL_APP_SLUG=${app.slug}`,
      `HEIMDALL_APP_ID=${app.appId}`,
      `HEIMDALL_PAK=${o.operator.pak}`,
      `HEIMDALL_M2M_CLIENT_ID=${app.m2mClientId}`,
      `HEIMDALL_M2M_CLIENT_SECRET=${app.m2mClientSecret}`,
    );
  }
  lines.push("", "Emails are printed here, not sent. Ctrl-C stops the server.", "");
  return lines;
}
