/**
 * @module The console's page table (docs/console.md, "Adding a page"): each page is one file under `pages/`
 * and one entry here. `tab` puts an app page in the app's navigation, in this order.
 */
import type { ComponentType } from "preact";
import { AppSettingsPage } from "./pages/app-settings.tsx";
import { AuditPage } from "./pages/audit.tsx";
import { CredentialsPage } from "./pages/credentials.tsx";
import { InboxPage } from "./pages/inbox.tsx";
import { InvitesPage } from "./pages/invites.tsx";
import { KeysPage } from "./pages/keys.tsx";
import { OverviewPage } from "./pages/overview.tsx";
import { PlatformPage } from "./pages/platform.tsx";
import { ProvidersPage } from "./pages/providers.tsx";
import { RolesPage } from "./pages/roles.tsx";
import { SignInPage } from "./pages/signin.tsx";
import { TenantPage, TenantsPage } from "./pages/tenants.tsx";
import { UserDetailPage } from "./pages/user-detail.tsx";
import { UsersPage } from "./pages/users.tsx";
import { WebhookPage } from "./pages/webhook.tsx";

export interface ConsolePage {
  /** A preact-iso route pattern; `:appId` marks a page of one app. */
  readonly path: string;
  // biome-ignore lint/suspicious/noExplicitAny: pages take their route parameters as props.
  readonly component: ComponentType<any>;
  /** The document title. */
  readonly title: string;
  /** The label of the page's tab in the app's navigation (app pages only). */
  readonly tab?: string;
  /** Shown without a session (only sign-in). */
  readonly public?: boolean;
}

export const PAGES: readonly ConsolePage[] = [
  { path: "/console/signin", component: SignInPage, title: "Sign in", public: true },
  { path: "/console", component: OverviewPage, title: "Workspace overview" },
  { path: "/console/apps/:appId", component: AppSettingsPage, title: "App settings", tab: "Settings" },
  { path: "/console/apps/:appId/keys", component: KeysPage, title: "Signing keys", tab: "Signing keys" },
  { path: "/console/apps/:appId/users", component: UsersPage, title: "End users", tab: "End users" },
  { path: "/console/apps/:appId/users/:userId", component: UserDetailPage, title: "End user" },
  { path: "/console/apps/:appId/roles", component: RolesPage, title: "Roles and permissions", tab: "Roles" },
  {
    path: "/console/apps/:appId/credentials",
    component: CredentialsPage,
    title: "Credentials",
    tab: "Credentials",
  },
  { path: "/console/apps/:appId/tenants", component: TenantsPage, title: "Tenants", tab: "Tenants" },
  { path: "/console/apps/:appId/tenants/:tenantId", component: TenantPage, title: "Tenant" },
  { path: "/console/apps/:appId/invites", component: InvitesPage, title: "Invites", tab: "Invites" },
  { path: "/console/apps/:appId/webhook", component: WebhookPage, title: "Webhook", tab: "Webhook" },
  {
    path: "/console/apps/:appId/providers",
    component: ProvidersPage,
    title: "Sign-in providers",
    tab: "Providers",
  },
  { path: "/console/apps/:appId/audit", component: AuditPage, title: "Audit log", tab: "Audit log" },
  { path: "/console/apps/:appId/inbox", component: InboxPage, title: "Dev inbox", tab: "Dev inbox" },
  { path: "/console/workspace", component: PlatformPage, title: "Platform access" },
];

/** The path of an app page: `/console/apps/:appId/keys` for app `id`. */
export const appPath = (page: Pick<ConsolePage, "path">, appId: string) =>
  page.path.replace(":appId", encodeURIComponent(appId));
