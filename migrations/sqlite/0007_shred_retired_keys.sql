PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_signing_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`app_id` text NOT NULL,
	`kid` text NOT NULL,
	`alg` text DEFAULT 'RS256' NOT NULL,
	`bits` integer NOT NULL,
	`state` text NOT NULL,
	`public_jwk` text NOT NULL,
	`vault_secret_id` text,
	`created_at` integer NOT NULL,
	`activates_at` integer NOT NULL,
	`rotated_at` integer,
	`retire_at` integer,
	`retired_at` integer,
	FOREIGN KEY (`app_id`) REFERENCES `apps`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`vault_secret_id`) REFERENCES `vault_secrets`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
INSERT INTO `__new_signing_keys`("id", "app_id", "kid", "alg", "bits", "state", "public_jwk", "vault_secret_id", "created_at", "activates_at", "rotated_at", "retire_at", "retired_at") SELECT "id", "app_id", "kid", "alg", "bits", "state", "public_jwk", "vault_secret_id", "created_at", "activates_at", "rotated_at", "retire_at", "retired_at" FROM `signing_keys`;--> statement-breakpoint
DROP TABLE `signing_keys`;--> statement-breakpoint
ALTER TABLE `__new_signing_keys` RENAME TO `signing_keys`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE UNIQUE INDEX `signing_keys_kid_unique` ON `signing_keys` (`kid`);--> statement-breakpoint
CREATE INDEX `signing_keys_app_state` ON `signing_keys` (`app_id`,`state`);