CREATE TABLE `audit_anchors` (
	`chain` text PRIMARY KEY NOT NULL,
	`pruned_through_seq` integer NOT NULL,
	`hash` text NOT NULL,
	`pruned_count` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `app_api_keys` ADD `expires_at` integer;--> statement-breakpoint
ALTER TABLE `email_outbox` ADD `body_secret_id` text REFERENCES vault_secrets(id);--> statement-breakpoint
ALTER TABLE `end_user_sessions` ADD `authenticated_at` integer;--> statement-breakpoint
ALTER TABLE `m2m_clients` ADD `prev_secret_hash` text;--> statement-breakpoint
ALTER TABLE `m2m_clients` ADD `prev_secret_expires_at` integer;--> statement-breakpoint
ALTER TABLE `paks` ADD `expires_at` integer;