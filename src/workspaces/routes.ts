/** @module STUB — replaced by the platform slice. */
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
export const platformRoutes = (_deps: Deps) => new Elysia();
