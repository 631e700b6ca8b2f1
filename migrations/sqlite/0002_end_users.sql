CREATE TABLE `email_outbox` (
	`id` text PRIMARY KEY NOT NULL,
	`app_id` text,
	`to` text NOT NULL,
	`from` text NOT NULL,
	`subject` text NOT NULL,
	`text` text NOT NULL,
	`html` text,
	`status` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`last_error` text,
	`created_at` integer NOT NULL,
	`sent_at` integer
);
--> statement-breakpoint
CREATE INDEX `email_outbox_due` ON `email_outbox` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `email_outbox_app` ON `email_outbox` (`app_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `end_user_contacts` (
	`id` text PRIMARY KEY NOT NULL,
	`app_id` text NOT NULL,
	`user_id` text NOT NULL,
	`type` text NOT NULL,
	`value` text NOT NULL,
	`is_primary` integer DEFAULT false NOT NULL,
	`verified_at` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`app_id`) REFERENCES `apps`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `end_users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `end_user_contacts_app_value` ON `end_user_contacts` (`app_id`,`type`,`value`);--> statement-breakpoint
CREATE INDEX `end_user_contacts_user` ON `end_user_contacts` (`user_id`);--> statement-breakpoint
CREATE TABLE `end_user_refresh_tokens` (
	`token_hash` text PRIMARY KEY NOT NULL,
	`session_id` text NOT NULL,
	`issued_at` integer NOT NULL,
	FOREIGN KEY (`session_id`) REFERENCES `end_user_sessions`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `end_user_refresh_tokens_session` ON `end_user_refresh_tokens` (`session_id`);--> statement-breakpoint
CREATE TABLE `end_user_sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`app_id` text NOT NULL,
	`user_id` text NOT NULL,
	`refresh_hash` text NOT NULL,
	`prev_refresh_hash` text,
	`prev_rotated_at` integer,
	`amr` text NOT NULL,
	`ip` text,
	`user_agent` text,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`last_used_at` integer,
	`revoked_at` integer,
	`revoke_reason` text,
	FOREIGN KEY (`app_id`) REFERENCES `apps`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `end_users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `end_user_sessions_user` ON `end_user_sessions` (`user_id`,`revoked_at`);--> statement-breakpoint
CREATE INDEX `end_user_sessions_app` ON `end_user_sessions` (`app_id`);--> statement-breakpoint
CREATE TABLE `end_users` (
	`id` text PRIMARY KEY NOT NULL,
	`app_id` text NOT NULL,
	`username` text NOT NULL,
	`display_name` text,
	`password_hash` text,
	`status` text DEFAULT 'active' NOT NULL,
	`role` text DEFAULT 'member' NOT NULL,
	`failed_login_count` integer DEFAULT 0 NOT NULL,
	`locked_until` integer,
	`password_changed_at` integer,
	`last_used_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`app_id`) REFERENCES `apps`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `end_users_app_username` ON `end_users` (`app_id`,`username`);--> statement-breakpoint
CREATE INDEX `end_users_app_created` ON `end_users` (`app_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `end_users_app_status_created` ON `end_users` (`app_id`,`status`,`created_at`,`id`);--> statement-breakpoint
CREATE TABLE `notification_settings` (
	`app_id` text PRIMARY KEY NOT NULL,
	`notifications_via_envoi` integer DEFAULT false NOT NULL,
	`default_sender_address` text,
	`verification_template_name` text,
	`welcome_template_name` text,
	`password_reset_template_name` text,
	`web_origin` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`app_id`) REFERENCES `apps`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `one_time_codes` (
	`id` text PRIMARY KEY NOT NULL,
	`app_id` text NOT NULL,
	`user_id` text NOT NULL,
	`contact_id` text NOT NULL,
	`purpose` text NOT NULL,
	`code_hash` text NOT NULL,
	`expires_at` integer NOT NULL,
	`consumed_at` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`app_id`) REFERENCES `apps`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `end_users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`contact_id`) REFERENCES `end_user_contacts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `one_time_codes_app_hash` ON `one_time_codes` (`app_id`,`code_hash`);--> statement-breakpoint
CREATE INDEX `one_time_codes_contact` ON `one_time_codes` (`contact_id`,`purpose`);--> statement-breakpoint
CREATE TABLE `rate_limits` (
	`key` text PRIMARY KEY NOT NULL,
	`window_start` integer NOT NULL,
	`count` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `server_secrets` (
	`name` text PRIMARY KEY NOT NULL,
	`vault_secret_id` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`vault_secret_id`) REFERENCES `vault_secrets`(`id`) ON UPDATE no action ON DELETE no action
);
