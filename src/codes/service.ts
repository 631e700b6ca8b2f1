/**
 * @module Verification and password-reset codes (docs/decisions.md, "Codes" under "End users"): mint (returned to a PAK holder, or emailed
 * through the outbox), verify a contact, reset a password.
 *
 * A code is 6 digits from a CSPRNG, lives 10 minutes, is used once, and is stored only as
 * HMAC-SHA256(`<app_id>:<purpose>:<code>`) under the sealed `code_pepper`: a stolen database yields no
 * code, and the purpose in the MAC keeps a reset code from verifying a contact and vice versa. Codes are
 * unique among an app's live codes of a purpose, so a submitted code names one contact. Minting for a
 * contact supersedes its previous unused code.
 *
 * Guessing: submissions are limited per source address (an IPv4 address or an IPv6 /64) and app; 5
 * wrong codes from one source lock it out of the app's code routes for 15 minutes. A right code does not
 * reset a source's count: otherwise one valid code of the guesser's own would buy another five guesses.
 * Wrong codes cannot be charged to a code or contact: the submit bodies carry the code alone, and a wrong
 * code names nothing. Wrong codes across the app are counted too, but that count never refuses a request
 * (it used to lock the routes, so a guesser with many addresses could keep every user's valid code out):
 * past its ceiling the app is under attack, and each source's allowance drops from 5 wrong codes to 2.
 * A right code from an unlocked source always works.
 *
 * Enumeration: the mint routes answer `{}` for an unknown, already-verified (verification) or unverified
 * (reset) contact, and the email routes check every precondition of the app before touching the contact.
 */

import { MINUTE } from "../core/clock.ts";
import { hmacSha256Hex } from "../core/crypto.ts";
import { createUserEvents } from "../users/events.ts";
import { createUserStore } from "../users/store.ts";
import type { CodeContext, CodeService, CodeServiceDeps } from "./context.ts";
import { createCodeIssuer } from "./issue.ts";
import { createCodeStore } from "./store.ts";
import { createCodeSubmitter } from "./submit.ts";

export type {
  CodeDispatchResult,
  CodeMintResult,
  CodeService,
  CodeServiceDeps,
  VerificationDelivery,
} from "./context.ts";
export { CODE_TTL } from "./context.ts";
export { EMAILS_PER_ADDRESS } from "./issue.ts";
export {
  APP_FAILURES_PER_WINDOW,
  LOCK_AFTER_FAILURES,
  LOCK_AFTER_FAILURES_UNDER_ATTACK,
  LOCK_DURATION,
  SUBMISSIONS_PER_MINUTE,
} from "./submit.ts";

export function createCodeService(deps: CodeServiceDeps): CodeService {
  const store = createCodeStore(deps.db);
  const context: CodeContext = {
    deps,
    store,
    users: createUserStore(deps.db),
    userEvents: createUserEvents(deps.events),
    hashOf: async (appId, purpose, code) =>
      hmacSha256Hex(await deps.secrets.get("code_pepper"), `${appId}:${purpose}:${code}`),
  };
  return {
    ...createCodeIssuer(context),
    ...createCodeSubmitter(context),
    async purge() {
      // A day of grace keeps used and expired codes around for support questions, then they go.
      return await store.purge(deps.clock.now() - 24 * 60 * MINUTE);
    },
  };
}
