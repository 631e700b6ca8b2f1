/**
 * @module The built-in email templates (docs/decisions.md, "Templates" under "End users"): verification, password reset and welcome, each a
 * subject, a plain-text body and a minimal HTML body; plus the security notices (password changed,
 * primary email changed) and the end-user invitation, which no settings slot selects: an app that sends email sends them. Every interpolated value is escaped for HTML and
 * stripped of control characters for the subject, so an app's display name cannot inject markup or headers.
 *
 * Links: when the app's `web_origin` is set, code emails carry `${web_origin}/verify?code=…` and
 * `${web_origin}/reset-password?code=…` — the customer's portal serves those two paths and posts the code
 * to `/auth/verify` or `/auth/reset-password`; an invitation links to `${web_origin}/accept-invite?code=inv_…`,
 * which posts it to `/auth/accept-invite`. Without a `web_origin` the email carries the code only.
 */

/** What a template is for; a notification-settings slot accepts only templates of its own kind. */
export type TemplateKind = "verification" | "password_reset" | "welcome" | "notice" | "invite";

/** The end-user invitation (`POST …/end-users/invites`); no settings slot selects it either. */
export const INVITE_TEMPLATE = "heimdall-invite";

/** The security notices, by the change they report. */
export const NOTICE_TEMPLATES = {
  password_changed: "heimdall-password-changed",
  primary_email_changed: "heimdall-primary-email-changed",
} as const;
export type NoticeKind = keyof typeof NOTICE_TEMPLATES;

/**
 * What stands in for a code in the stored (redacted) copy of a message: the real body is sealed in the
 * vault until delivery, and the outbox row keeps the message's shape without the secret.
 */
export const REDACTED_CODE = "******";

export interface TemplateVars {
  /** The app's display name, as the user knows it. */
  appName: string;
  /** The 6-digit code (verification and reset templates only). */
  code?: string;
  /** Minutes until the code expires. */
  expiresInMinutes?: number;
  /** The customer's portal origin, or null for code-only delivery. */
  webOrigin?: string | null;
  /** When the reported change happened (notices only), ISO 8601. */
  changedAt?: string;
  /** The invitee's name as the operator gave it (invitations only). */
  inviteeName?: string | null;
  /** When the invitation stops working (invitations only), ISO 8601. */
  expiresAt?: string;
}

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

interface Template {
  kind: TemplateKind;
  render(v: Required<Pick<TemplateVars, "appName">> & TemplateVars): RenderedEmail;
}

/** The path, under the app's `web_origin`, that each code email links to. */
export const LINK_PATHS = {
  verification: "/verify",
  password_reset: "/reset-password",
  invite: "/accept-invite",
} as const;

export function escapeHtml(value: string): string {
  return value
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/** Subjects are headers: no CR/LF or other control characters, and a sane length. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]+/g;

function headerSafe(value: string): string {
  return value.replace(CONTROL_CHARACTERS, " ").trim().slice(0, 200);
}

function linkOf(kind: keyof typeof LINK_PATHS, v: TemplateVars): string | null {
  if (!v.webOrigin || !v.code) return null;
  return `${v.webOrigin}${LINK_PATHS[kind]}?code=${encodeURIComponent(v.code)}`;
}

function page(title: string, paragraphs: string[]): string {
  const body = paragraphs.map((p) => `<p>${p}</p>`).join("\n");
  return `<!doctype html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>\n<body style="font-family:sans-serif;line-height:1.5">\n${body}\n</body></html>\n`;
}

function codeEmail(
  kind: "verification" | "password_reset",
  v: TemplateVars & { appName: string },
  words: { subject: string; intro: string; action: string; ignore: string },
): RenderedEmail {
  const code = v.code ?? "";
  const minutes = v.expiresInMinutes ?? 10;
  const link = linkOf(kind, v);
  const text = [
    words.intro,
    "",
    `Your code: ${code}`,
    `It expires in ${minutes} minutes and can be used once.`,
    ...(link ? ["", `Or open this link: ${link}`] : []),
    "",
    words.ignore,
  ].join("\n");
  const html = page(words.subject, [
    escapeHtml(words.intro),
    `Your code: <strong style="font-size:1.4em;letter-spacing:0.15em">${escapeHtml(code)}</strong>`,
    `It expires in ${escapeHtml(String(minutes))} minutes and can be used once.`,
    ...(link ? [`<a href="${escapeHtml(link)}">${escapeHtml(words.action)}</a>`] : []),
    escapeHtml(words.ignore),
  ]);
  return { subject: headerSafe(words.subject), text: `${text}\n`, html };
}

const utc = (at: string) => at.replace("T", " ").replace(/\.\d+Z$/, " UTC");

/**
 * The invitation: who is invited where, the `inv_…` code, when it expires, and the portal link when the app
 * has a `web_origin` (the portal posts the code to `/auth/accept-invite` with the chosen password).
 */
function invitation(v: TemplateVars & { appName: string }): RenderedEmail {
  const subject = `You're invited to ${v.appName}`;
  const code = v.code ?? "";
  const link = linkOf("invite", v);
  const greeting = v.inviteeName ? `Hello ${v.inviteeName},` : "Hello,";
  const intro = `You have been invited to create an account on ${v.appName}.`;
  const expiry = v.expiresAt ? `The invitation expires at ${utc(v.expiresAt)}.` : "";
  const ignore = "If you did not expect this invitation, you can ignore this email.";
  const text = [
    greeting,
    "",
    intro,
    "",
    `Your invite code: ${code}`,
    ...(expiry ? [expiry] : []),
    ...(link ? ["", `Accept the invitation: ${link}`] : []),
    "",
    ignore,
  ].join("\n");
  const html = page(subject, [
    escapeHtml(greeting),
    escapeHtml(intro),
    `Your invite code: <code style="font-size:1.1em">${escapeHtml(code)}</code>`,
    ...(expiry ? [escapeHtml(expiry)] : []),
    ...(link ? [`<a href="${escapeHtml(link)}">Accept the invitation</a>`] : []),
    escapeHtml(ignore),
  ]);
  return { subject: headerSafe(subject), text: `${text}\n`, html };
}

/** A notice: what changed, when, and what to do if it was not the reader. No codes, links or secrets. */
function notice(
  v: TemplateVars & { appName: string },
  words: { subject: string; what: string; ifNotYou: string },
): RenderedEmail {
  const when = v.changedAt
    ? `This happened at ${v.changedAt.replace("T", " ").replace(/\.\d+Z$/, " UTC")}.`
    : "";
  const lines = [words.what, ...(when ? [when] : []), words.ifNotYou];
  return {
    subject: headerSafe(words.subject),
    text: `${lines.join("\n\n")}\n`,
    html: page(words.subject, lines.map(escapeHtml)),
  };
}

const TEMPLATES: Readonly<Record<string, Template>> = {
  [INVITE_TEMPLATE]: { kind: "invite", render: invitation },
  "heimdall-verification": {
    kind: "verification",
    render: (v) =>
      codeEmail("verification", v, {
        subject: `Verify your email for ${v.appName}`,
        intro: `Use this code to verify your email address for ${v.appName}.`,
        action: "Verify my email",
        ignore: "If you did not ask for this, you can ignore this email.",
      }),
  },
  "heimdall-password-reset": {
    kind: "password_reset",
    render: (v) =>
      codeEmail("password_reset", v, {
        subject: `Reset your ${v.appName} password`,
        intro: `Someone asked to reset the password of your ${v.appName} account. Use this code to choose a new one.`,
        action: "Reset my password",
        ignore: "If you did not ask for this, ignore this email: your password stays as it is.",
      }),
  },
  "heimdall-welcome": {
    kind: "welcome",
    render: (v) => {
      const subject = `Welcome to ${v.appName}`;
      const line = `Your email address is verified. Welcome to ${v.appName}!`;
      return { subject: headerSafe(subject), text: `${line}\n`, html: page(subject, [escapeHtml(line)]) };
    },
  },
  [NOTICE_TEMPLATES.password_changed]: {
    kind: "notice",
    render: (v) =>
      notice(v, {
        subject: `Your ${v.appName} password was changed`,
        what: `The password of your ${v.appName} account was changed, and the account's other sessions were signed out.`,
        ifNotYou:
          "If you did this, there is nothing more to do. If you did not, reset your password now from this address, and contact the app's support.",
      }),
  },
  [NOTICE_TEMPLATES.primary_email_changed]: {
    kind: "notice",
    render: (v) =>
      notice(v, {
        subject: `The email address of your ${v.appName} account was changed`,
        what: `This address is no longer the primary email of your ${v.appName} account: sign-in and account messages now go to another address.`,
        ifNotYou:
          "If you did this, there is nothing more to do. If you did not, reset your password at once and contact the app's support.",
      }),
  },
};

/** Names a notification-settings slot may hold, by kind. */
export const TEMPLATE_NAMES: Readonly<Record<TemplateKind, readonly string[]>> = {
  verification: Object.keys(TEMPLATES).filter((n) => TEMPLATES[n]!.kind === "verification"),
  password_reset: Object.keys(TEMPLATES).filter((n) => TEMPLATES[n]!.kind === "password_reset"),
  welcome: Object.keys(TEMPLATES).filter((n) => TEMPLATES[n]!.kind === "welcome"),
  notice: Object.keys(TEMPLATES).filter((n) => TEMPLATES[n]!.kind === "notice"),
  invite: Object.keys(TEMPLATES).filter((n) => TEMPLATES[n]!.kind === "invite"),
};

export function isTemplateOf(kind: TemplateKind, name: string): boolean {
  return TEMPLATE_NAMES[kind].includes(name);
}

/** Renders template `name`; the name was validated when the slot was set, so an unknown one is a bug. */
export function renderTemplate(name: string, vars: TemplateVars): RenderedEmail {
  const t = Object.hasOwn(TEMPLATES, name) ? TEMPLATES[name] : undefined;
  if (!t) throw new Error(`unknown email template ${name}`);
  return t.render({ ...vars, appName: headerSafe(vars.appName) });
}
