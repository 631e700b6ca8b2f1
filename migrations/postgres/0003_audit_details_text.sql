-- An audit row's details are hashed into its chain as written: kept as the exact text, not jsonb (which
-- reorders keys). Rows of a database from before this migration keep jsonb's order and fail verification;
-- PostgreSQL support had not been released then.
ALTER TABLE "audit_log" ALTER COLUMN "details" SET DATA TYPE text USING "details"::text;
