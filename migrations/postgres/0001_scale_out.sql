CREATE TABLE "cache_epochs" (
	"scope" text PRIMARY KEY NOT NULL,
	"version" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "leases" (
	"name" text PRIMARY KEY NOT NULL,
	"holder" text NOT NULL,
	"fencing" integer NOT NULL,
	"expires_at" bigint NOT NULL
);
