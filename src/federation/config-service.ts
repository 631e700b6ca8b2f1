/**
 * @module Provider configuration on the Admin API (list, read, write, delete) and its read for sign-in: the
 * public part stored as JSON, the secret (client secret, Apple private key) sealed by the vault, never returned.
 */
import { importPKCS8 } from "jose";
import type { AppService } from "../apps/service.ts";
import type { AuditWriter } from "../audit/writer.ts";
import type { Clock } from "../core/clock.ts";
import { fail, validationError } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import { actorOf, type CallMeta, type PlatformPrincipal } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import { retryLostInsert } from "../db/query.ts";
import type { Vault } from "../vault/vault.ts";
import {
  PROVIDERS,
  type ProviderDetailDto,
  type ProviderId,
  type ProviderListEntryDto,
  SECRET_FIELD,
  toDetailDto,
  toListEntry,
  type UpsertProviderInput,
} from "./model.ts";
import { createFederationStore } from "./store.ts";

/** The unique index a concurrent first write of a provider can lose on (`retryLostInsert`). */
const PROVIDER_PER_APP = {
  sqlite: "identity_providers.app_id, identity_providers.provider",
  postgres: "identity_providers_app_provider",
};

export const providerSecretAad = (appId: string, provider: string) =>
  `identity_provider:${appId}:${provider}`;

/** A provider ready for sign-in: its public config and its secret (opened on demand, only in memory, never logged). */
export interface ResolvedProvider {
  readonly appId: string;
  readonly provider: ProviderId;
  readonly config: Readonly<Record<string, unknown>>;
  readonly hasSecret: boolean;
  /** Opens the sealed secret; called only when a provider client is built, not on every sign-in request. */
  secret(): Promise<string | null>;
  /** Changes with every write, so caches keyed on it never serve a replaced config. */
  readonly version: number;
}

export interface ProviderConfigService {
  list(p: PlatformPrincipal, appRef: string): Promise<ProviderListEntryDto[]>;
  get(p: PlatformPrincipal, appRef: string, provider: ProviderId): Promise<ProviderDetailDto>;
  put(
    p: PlatformPrincipal,
    appRef: string,
    provider: ProviderId,
    input: UpsertProviderInput,
    meta: CallMeta,
  ): Promise<ProviderDetailDto>;
  remove(p: PlatformPrincipal, appRef: string, provider: ProviderId, meta: CallMeta): Promise<void>;
  /** The enabled provider of an app for sign-in; 503 PROVIDER_DISABLED when unconfigured or disabled. */
  resolve(appId: string, provider: ProviderId): Promise<ResolvedProvider>;
}

export interface ProviderConfigDeps {
  db: Db;
  clock: Clock;
  audit: AuditWriter;
  vault: Pick<Vault, "seal" | "open" | "destroy">;
  apps: Pick<AppService, "authorizeApp">;
  /** Told after each write so cached provider metadata and keys are dropped. */
  onChange?: (appId: string, provider: ProviderId) => void;
}

async function checkApplePrivateKey(pem: string): Promise<void> {
  try {
    await importPKCS8(pem.trim(), "ES256");
  } catch {
    throw validationError(
      [
        {
          field: "config.private_key_pem",
          reason: "must be a PKCS#8 PEM P-256 private key (Apple's .p8 file)",
        },
      ],
      "The private key does not parse as an ES256 key",
    );
  }
}

export function createProviderConfigService(deps: ProviderConfigDeps): ProviderConfigService {
  const { db, clock, audit, vault, apps } = deps;
  const store = createFederationStore(db);
  const writable = (status: string) => {
    if (status === "archived") throw fail("APP_ARCHIVED");
  };

  return {
    async list(p, appRef) {
      const app = await apps.authorizeApp(p, appRef, "heimdall.read");
      const rows = new Map((await store.providersOf(app.id)).map((r) => [r.provider, r]));
      return PROVIDERS.map((id) => toListEntry(id, rows.get(id)));
    },

    async get(p, appRef, provider) {
      const app = await apps.authorizeApp(p, appRef, "heimdall.read");
      const row = await store.provider(app.id, provider);
      if (!row) throw fail("PROVIDER_NOT_CONFIGURED");
      return toDetailDto(row);
    },

    async put(p, appRef, provider, input, meta) {
      const app = await apps.authorizeApp(p, appRef, "heimdall.update");
      writable(app.status);
      const { field } = SECRET_FIELD[provider];
      const { [field]: rawSecret, ...publicConfig } = input.config as Record<string, unknown>;
      const secret = typeof rawSecret === "string" ? rawSecret.trim() : undefined;
      if (provider === "apple" && secret !== undefined) await checkApplePrivateKey(secret);

      const row = await retryLostInsert(PROVIDER_PER_APP, () =>
        tx(db, async () => {
          const now = clock.now();
          const existing = await store.provider(app.id, provider);
          // The secret may be left out of a later write (to flip `enabled` or change a client id): it stays.
          // Apple's key signs only the redirect flow's client secret: a native-only config has none.
          const keeps = secret !== undefined || Boolean(existing?.secretId);
          if (!keeps && provider !== "apple") {
            throw validationError([{ field: `config.${field}`, reason: "required" }]);
          }
          if (provider === "apple" && keeps && publicConfig.key_id === undefined) {
            throw validationError([{ field: "config.key_id", reason: "required" }]);
          }
          const aad = providerSecretAad(app.id, provider);
          const secretId =
            secret === undefined
              ? (existing?.secretId ?? null)
              : await vault.seal(aad, new TextEncoder().encode(secret));
          if (existing?.secretId && secret !== undefined) await vault.destroy([existing.secretId]);
          const enabled = input.enabled ?? false;
          if (existing) {
            await store.updateProvider(existing.id, {
              config: publicConfig,
              enabled,
              secretId,
              updatedAt: now,
            });
          } else {
            await store.insertProvider({
              id: newId(clock),
              appId: app.id,
              provider,
              enabled,
              config: publicConfig,
              secretId,
              createdAt: now,
              updatedAt: now,
            });
          }
          await audit.record({
            appId: app.id,
            workspaceId: app.workspaceId,
            action: existing ? "identity_provider.updated" : "identity_provider.created",
            resourceType: "identity_provider",
            resourceId: provider,
            actor: actorOf(p),
            // Which fields, never their values: a client id is public, but the secret's field is named only.
            details: {
              provider,
              enabled,
              fields: Object.keys(publicConfig).sort(),
              secret_replaced: secret !== undefined,
            },
            meta,
          });
          return (await store.provider(app.id, provider))!;
        }),
      );
      deps.onChange?.(app.id, provider);
      return toDetailDto(row);
    },

    async remove(p, appRef, provider, meta) {
      const app = await apps.authorizeApp(p, appRef, "heimdall.update");
      writable(app.status);
      await tx(db, async () => {
        const existing = await store.provider(app.id, provider);
        if (!existing) return;
        await store.deleteProvider(existing.id);
        if (existing.secretId) await vault.destroy([existing.secretId]);
        // The federated identities stay (the contract): the people keep their accounts, not this sign-in.
        await audit.record({
          appId: app.id,
          workspaceId: app.workspaceId,
          action: "identity_provider.deleted",
          resourceType: "identity_provider",
          resourceId: provider,
          actor: actorOf(p),
          details: { provider },
          meta,
        });
      });
      deps.onChange?.(app.id, provider);
    },

    async resolve(appId, provider) {
      const row = await store.provider(appId, provider);
      if (!row?.enabled) throw fail("PROVIDER_DISABLED");
      const { secretId } = row;
      const secret = async () =>
        secretId
          ? new TextDecoder().decode(await vault.open(secretId, providerSecretAad(appId, provider)))
          : null;
      return {
        appId,
        provider,
        config: row.config,
        hasSecret: secretId !== null,
        secret,
        version: row.updatedAt,
      };
    },
  };
}
