/** @module STUB — replaced later. */
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
export const keysAdminRoutes = (_deps: Deps) => new Elysia();
export const discoveryRoutes = (_deps: Deps) => new Elysia();
