/** @module Federated sign-in providers: the four kinds with their state, one kind's form (the secret write-only: left empty it stays as it is), enable/disable and delete. */
import { useEffect, useState } from "preact/hooks";
import { api, path } from "../api.ts";
import { Badge, ErrorNotice, Field, Loading, Notice, Time } from "../components.tsx";
import { useApi } from "../hooks.ts";
import { ConfirmButton, splitList, useAction } from "../parts.tsx";

type Kind = "apple" | "google" | "github" | "oidc";
interface ProviderEntry {
  readonly provider: Kind;
  readonly display_name: string;
  readonly configured: boolean;
  readonly enabled: boolean;
  readonly updated_at: string | null;
}
interface ProviderDetail {
  readonly provider: Kind;
  readonly enabled: boolean;
  readonly config: Record<string, unknown>;
}

interface FieldSpec {
  readonly name: string;
  readonly label: string;
  readonly list?: boolean;
  readonly secret?: boolean;
  readonly multiline?: boolean;
  readonly required?: boolean;
  readonly hint?: string;
}

const FIELDS: Record<Kind, FieldSpec[]> = {
  apple: [
    { name: "service_id", label: "Services ID", required: true },
    { name: "team_id", label: "Team ID", required: true },
    { name: "key_id", label: "Key ID", required: true },
    { name: "bundle_ids", label: "Bundle IDs (native apps)", list: true },
    { name: "private_key_pem", label: "Private key (.p8)", secret: true, multiline: true },
  ],
  google: [
    { name: "client_id", label: "Client ID", required: true },
    { name: "client_secret", label: "Client secret", secret: true },
    { name: "native_client_ids", label: "Native client IDs", list: true },
  ],
  github: [
    { name: "client_id", label: "Client ID", required: true },
    { name: "client_secret", label: "Client secret", secret: true },
    { name: "api_base_url", label: "API base URL", hint: "Only for GitHub Enterprise." },
  ],
  oidc: [
    { name: "issuer", label: "Issuer URL", required: true },
    { name: "client_id", label: "Client ID", required: true },
    { name: "client_secret", label: "Client secret", secret: true },
    { name: "display_name", label: "Button name" },
    { name: "scopes", label: "Scopes", list: true, hint: "Default: openid email profile." },
    { name: "native_client_ids", label: "Native client IDs", list: true },
  ],
};

const PRESENT_FLAG: Record<Kind, string> = {
  apple: "private_key_present",
  google: "client_secret_present",
  github: "client_secret_present",
  oidc: "client_secret_present",
};

function ProviderForm({ appId, kind, onDone }: { appId: string; kind: Kind; onDone: () => void }) {
  const url = path("/v1/apps/{id}/auth-config/providers/{p}", { id: appId, p: kind });
  const detail = useApi(
    () =>
      api<ProviderDetail>("GET", url).catch((e) => {
        if (e?.status === 404) return null;
        throw e;
      }),
    [url],
  );
  const [values, setValues] = useState<Record<string, string>>({});
  const [enabled, setEnabled] = useState(false);
  const save = useAction();
  useEffect(() => {
    const c = detail.data?.config ?? {};
    const v: Record<string, string> = {};
    for (const f of FIELDS[kind]) {
      const x = c[f.name];
      v[f.name] = f.secret ? "" : Array.isArray(x) ? x.join(" ") : typeof x === "string" ? x : "";
    }
    setValues(v);
    setEnabled(detail.data?.enabled ?? false);
  }, [detail.data]);
  if (detail.error) return <ErrorNotice error={detail.error} all />;
  if (detail.data === undefined) return <Loading />;
  const present = detail.data?.config[PRESENT_FLAG[kind]] === true;
  return (
    <form
      onSubmit={async (e) => {
        e.preventDefault();
        // Fields the form does not show (endpoint overrides) are kept as stored.
        const config: Record<string, unknown> = { ...(detail.data?.config ?? {}) };
        delete config[PRESENT_FLAG[kind]];
        for (const f of FIELDS[kind]) {
          const v = (values[f.name] ?? "").trim();
          if (f.secret) {
            if (v) config[f.name] = values[f.name];
            else delete config[f.name];
          } else if (f.list) {
            if (v) config[f.name] = splitList(v);
            else delete config[f.name];
          } else if (v) config[f.name] = v;
          else delete config[f.name];
        }
        const ok = await save.run(() => api("PUT", url, { config, enabled }));
        if (ok) onDone();
      }}
    >
      {FIELDS[kind].map((f) => (
        <Field
          key={f.name}
          label={f.label}
          name={`config.${f.name}`}
          error={save.error}
          hint={
            f.secret
              ? present
                ? "Stored (never shown). Leave empty to keep it; type a new one to replace it."
                : "Not set yet."
              : (f.hint ?? (f.list ? "Separated by spaces or commas." : undefined))
          }
        >
          {(id, d, bad) => {
            const common = {
              id,
              "aria-describedby": d,
              "aria-invalid": bad || undefined,
              value: values[f.name] ?? "",
              required: f.required,
              autoComplete: f.secret ? "off" : undefined,
              onInput: (e: Event) =>
                setValues((s) => ({ ...s, [f.name]: (e.currentTarget as HTMLInputElement).value })),
            };
            return f.multiline ? (
              <textarea rows={4} {...common} />
            ) : f.secret ? (
              <input type="password" {...common} />
            ) : (
              <input type="text" {...common} />
            );
          }}
        </Field>
      ))}
      <div class="field field-switch">
        <input
          type="checkbox"
          id={`enabled-${kind}`}
          checked={enabled}
          onChange={(e) => setEnabled((e.currentTarget as HTMLInputElement).checked)}
        />
        <label for={`enabled-${kind}`}>Enabled (shown to end users)</label>
      </div>
      <ErrorNotice error={save.error} />
      <div class="actions">
        <button type="submit" disabled={save.busy}>
          Save provider
        </button>
      </div>
    </form>
  );
}

export function ProvidersPage({ appId }: { readonly appId: string }) {
  const list = useApi(
    () => api<ProviderEntry[]>("GET", path("/v1/apps/{id}/auth-config/providers", { id: appId })),
    [appId],
  );
  const [open, setOpen] = useState<Kind>();
  const [done, setDone] = useState<string>();
  const act = useAction();
  const providerUrl = (k: Kind) => path("/v1/apps/{id}/auth-config/providers/{p}", { id: appId, p: k });
  return (
    <section aria-labelledby="providers-title">
      <h2 id="providers-title">Sign-in providers</h2>
      <p class="hint">
        Federated sign-in with Apple, Google, GitHub or any OpenID Connect provider. Secrets are write-only:
        the API never returns them.
      </p>
      <ErrorNotice error={list.error ?? act.error} all />
      {done && <Notice>{done}</Notice>}
      {!list.data ? (
        !list.error && <Loading />
      ) : (
        <ul class="plain">
          {list.data.map((p) => (
            <li key={p.provider} class="card">
              <h3>
                {p.display_name}{" "}
                <Badge tone={p.enabled ? "active" : p.configured ? "suspended" : "retired"}>
                  {p.enabled ? "enabled" : p.configured ? "disabled" : "not configured"}
                </Badge>
              </h3>
              {p.updated_at && (
                <p class="hint">
                  Changed <Time iso={p.updated_at} />
                </p>
              )}
              <div class="actions">
                <button
                  type="button"
                  class="secondary"
                  aria-expanded={open === p.provider}
                  onClick={() => setOpen(open === p.provider ? undefined : p.provider)}
                >
                  {p.configured ? `Edit ${p.display_name}` : `Configure ${p.display_name}`}
                </button>
                {p.configured && (
                  <button
                    type="button"
                    class="secondary"
                    onClick={() =>
                      act
                        .run(async () => {
                          const d = await api<ProviderDetail>("GET", providerUrl(p.provider));
                          const config = { ...d.config };
                          delete config[PRESENT_FLAG[p.provider]];
                          await api("PUT", providerUrl(p.provider), { config, enabled: !p.enabled });
                          setDone(`${p.display_name} ${p.enabled ? "disabled" : "enabled"}.`);
                        })
                        .then(list.reload)
                    }
                  >
                    {p.enabled ? `Disable ${p.display_name}` : `Enable ${p.display_name}`}
                  </button>
                )}
                {p.configured && (
                  <ConfirmButton
                    label="Delete"
                    accessibleName={`Delete ${p.display_name}`}
                    title={`Delete the ${p.display_name} configuration?`}
                    action="Delete provider"
                    onConfirm={() => act.run(() => api("DELETE", providerUrl(p.provider))).then(list.reload)}
                  >
                    <p>Its stored secret is destroyed; users who signed in with it keep their accounts.</p>
                  </ConfirmButton>
                )}
              </div>
              {open === p.provider && (
                <ProviderForm
                  appId={appId}
                  kind={p.provider}
                  onDone={() => {
                    setOpen(undefined);
                    setDone(`${p.display_name} saved.`);
                    list.reload();
                  }}
                />
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
