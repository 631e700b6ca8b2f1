/** @module The one reference to an app that flows between features: what routing, tokens and services need of it. */

export interface AppRef {
  readonly id: string;
  readonly slug: string;
  readonly workspaceId: string;
  readonly status: "active" | "suspended" | "archived";
}
