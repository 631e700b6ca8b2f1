/** @module Built-in email templates: escaping, header safety, portal links, kinds. */
import { describe, expect, test } from "bun:test";
import { escapeHtml, isTemplateOf, renderTemplate, TEMPLATE_NAMES } from "../../src/email/templates.ts";

describe("renderTemplate", () => {
  test("the code appears in text and html; without web_origin there is no link", () => {
    const m = renderTemplate("heimdall-verification", {
      appName: "Acme",
      code: "012345",
      expiresInMinutes: 10,
    });
    expect(m.subject).toBe("Verify your email for Acme");
    expect(m.text).toContain("Your code: 012345");
    expect(m.text).toContain("10 minutes");
    expect(m.html).toContain(">012345</strong>");
    expect(m.text).not.toContain("http");
    expect(m.html).not.toContain("<a ");
  });

  test("with web_origin: /verify and /reset-password links carry the code", () => {
    const v = renderTemplate("heimdall-verification", {
      appName: "Acme",
      code: "111111",
      webOrigin: "https://portal.acme.test",
    });
    expect(v.text).toContain("https://portal.acme.test/verify?code=111111");
    expect(v.html).toContain('<a href="https://portal.acme.test/verify?code=111111">');
    const r = renderTemplate("heimdall-password-reset", {
      appName: "Acme",
      code: "222222",
      webOrigin: "http://localhost:3000",
    });
    expect(r.text).toContain("http://localhost:3000/reset-password?code=222222");
  });

  test("every interpolated value is HTML-escaped", () => {
    const evil = `<script>alert("x")</script>&'`;
    for (const name of ["heimdall-verification", "heimdall-password-reset", "heimdall-welcome"]) {
      const m = renderTemplate(name, { appName: evil, code: "333333" });
      expect(m.html).not.toContain("<script>");
      expect(m.html).toContain(escapeHtml(evil));
    }
  });

  test("control characters cannot reach the subject header", () => {
    const m = renderTemplate("heimdall-welcome", { appName: "Acme\r\nBcc: victim@example.test" });
    expect(m.subject).not.toMatch(/[\r\n]/);
    expect(m.subject).toBe("Welcome to Acme Bcc: victim@example.test");
  });

  test("an unknown name is a programming error", () => {
    expect(() => renderTemplate("nope", { appName: "Acme" })).toThrow();
    expect(() => renderTemplate("constructor", { appName: "Acme" })).toThrow();
  });
});

describe("security notices", () => {
  test.each([
    ["heimdall-password-changed", "Your Acme password was changed"],
    ["heimdall-primary-email-changed", "The email address of your Acme account was changed"],
  ])("%s says what changed and when, and carries no code or link", (name, subject) => {
    const m = renderTemplate(name, {
      appName: "Acme",
      webOrigin: "https://portal.acme.test",
      code: "482913",
      changedAt: "2026-11-01T12:00:00.000Z",
    });
    expect(m.subject).toBe(subject);
    expect(m.text).toContain("This happened at 2026-11-01 12:00:00 UTC.");
    for (const part of [m.text, m.html]) {
      expect(part).not.toContain("482913");
      expect(part).not.toContain("http");
    }
  });

  test("the app's name is escaped in the HTML like everywhere else", () => {
    const m = renderTemplate("heimdall-password-changed", { appName: "<b>Acme</b>" });
    expect(m.html).toContain("&lt;b&gt;Acme&lt;/b&gt;");
    expect(m.html).not.toContain("<b>");
  });
});

describe("kinds", () => {
  test("each slot accepts only its own kind", () => {
    expect(TEMPLATE_NAMES.verification).toEqual(["heimdall-verification"]);
    expect(TEMPLATE_NAMES.password_reset).toEqual(["heimdall-password-reset"]);
    expect(TEMPLATE_NAMES.welcome).toEqual(["heimdall-welcome"]);
    // Security notices fill no slot: a slot of another kind refuses them.
    expect(TEMPLATE_NAMES.notice).toEqual(["heimdall-password-changed", "heimdall-primary-email-changed"]);
    expect(isTemplateOf("welcome", "heimdall-password-changed")).toBe(false);
    expect(isTemplateOf("verification", "heimdall-verification")).toBe(true);
    expect(isTemplateOf("welcome", "heimdall-verification")).toBe(false);
  });

  test("escapeHtml covers the five specials", () => {
    expect(escapeHtml(`&<>"'`)).toBe("&amp;&lt;&gt;&quot;&#39;");
  });
});
