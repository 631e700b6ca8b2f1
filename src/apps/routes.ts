/** @module STUB — replaced by the apps slice. */
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
export const appsRoutes = (_deps: Deps) => new Elysia();
