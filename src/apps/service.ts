/** @module STUB — replaced by the apps slice. */
export type AppService = Record<string, never>;
export const createAppService = (_: unknown): AppService => ({});
