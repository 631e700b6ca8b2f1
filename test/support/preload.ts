/** @module Test preload: keeps test runs quiet and deterministic. */
process.env.HEIMDALL_LOG_LEVEL ??= "error";
