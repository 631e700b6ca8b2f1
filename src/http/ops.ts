/** @module STUB — replaced by the ops slice. */
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
export const opsRoutes = (_deps: Deps) => new Elysia();
