/** @module Test preload: a default timeout that fits tests which start servers or generate RSA keys. */
import { setDefaultTimeout } from "bun:test";

setDefaultTimeout(30_000);
