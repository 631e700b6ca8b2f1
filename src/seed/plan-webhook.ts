/**
 * @module Seed plan, webhook (docs/seed.md): an app's one destination, its URL and event types converged through
 * the webhook service. A secret from the environment is given to it (and rotated to when it differs); else the
 * new destination's generated secret is printed once. Without `webhook` the destination is left alone; `null`
 * deletes it, with --prune only.
 */
import { EVENT_TYPES } from "../webhooks/model.ts";
import { type AppPlanContext, adder, type Step, same, show } from "./plan-context.ts";

/** As the service stores them: each type once, in the catalogue's order. */
const normalTypes = (types: readonly string[]) =>
  [...new Set(types)].sort((a, b) => EVENT_TYPES.indexOf(a) - EVENT_TYPES.indexOf(b));

/** As the service stores it (`URL.href`); a URL that does not parse is left for the service to refuse. */
function normalUrl(raw: string): string {
  try {
    return new URL(raw).href;
  } catch {
    return raw;
  }
}

export async function planWebhook(c: AppPlanContext): Promise<Step[]> {
  const { deps, store, principal: p, meta, app, existing, prune } = c;
  const hook = app.webhook;
  if (hook === undefined) return [];
  const slug = app.slug;
  const steps: Step[] = [];
  const add = adder(steps);
  const current = existing ? await store.webhook(existing.id) : undefined;

  if (hook === null) {
    if (current && prune)
      add(
        "-",
        `- webhook ${slug} ${current.url} (deliveries stop; its signing secret is destroyed)`,
        async () => void (await deps.webhooks.remove(p, slug, meta)),
      );
    return steps;
  }

  const input = { url: hook.url, event_types: hook.event_types };
  const given = hook.signing_secret === undefined ? undefined : { secret: hook.signing_secret };
  if (!current) {
    add("+", `+ webhook ${slug} ${normalUrl(hook.url)}`, async () => {
      const made = await deps.webhooks.put(p, slug, input, meta, given);
      if (!given)
        c.secrets.push({ kind: "webhook", app: slug, name: "webhook", secret: made.signing_secret });
    });
    return steps;
  }

  const url = normalUrl(hook.url);
  if (url !== current.url) add("~", `~ webhook ${slug} url: ${show(current.url)} → ${show(url)}`, () => {});
  const types = normalTypes(hook.event_types);
  if (!same(types, current.eventTypes))
    add("~", `~ webhook ${slug} event_types: ${show(current.eventTypes)} → ${show(types)}`, () => {});
  // A replace keeps the secret and re-enables a destination disabled after failures, as PUT does.
  if (steps.length)
    steps[steps.length - 1]!.run = async () => void (await deps.webhooks.put(p, slug, input, meta));
  if (given && !(await deps.webhooks.secretMatches(p, slug, given.secret)))
    add("~", `~ webhook ${slug} signing_secret (from ${hook.signing_secret_env})`, async () => {
      await deps.webhooks.rotateSecret(p, slug, meta, given);
    });
  return steps;
}
