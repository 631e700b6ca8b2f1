/** @module STUB — replaced by the apps slice. */
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
export const auditRoutes = (_deps: Deps) => new Elysia();
