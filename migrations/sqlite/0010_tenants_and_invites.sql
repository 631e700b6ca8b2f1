CREATE TABLE `end_user_invites` (
	`id` text PRIMARY KEY NOT NULL,
	`app_id` text NOT NULL,
	`code_hash` text NOT NULL,
	`code_hint` text NOT NULL,
	`email` text NOT NULL,
	`name` text,
	`role` text NOT NULL,
	`max_uses` integer NOT NULL,
	`use_count` integer DEFAULT 0 NOT NULL,
	`expires_at` integer NOT NULL,
	`revoked_at` integer,
	`superseded_by` text,
	`created_by` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`app_id`) REFERENCES `apps`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `end_user_invites_code` ON `end_user_invites` (`code_hash`);--> statement-breakpoint
CREATE INDEX `end_user_invites_app_created` ON `end_user_invites` (`app_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `end_user_invites_app_email` ON `end_user_invites` (`app_id`,`email`);--> statement-breakpoint
CREATE TABLE `tenant_members` (
	`id` text PRIMARY KEY NOT NULL,
	`app_id` text NOT NULL,
	`tenant_id` text NOT NULL,
	`user_id` text NOT NULL,
	`role` text NOT NULL,
	`invited_by` text,
	`joined_at` integer NOT NULL,
	FOREIGN KEY (`app_id`) REFERENCES `apps`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `end_users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tenant_members_tenant_user` ON `tenant_members` (`tenant_id`,`user_id`);--> statement-breakpoint
CREATE INDEX `tenant_members_tenant_joined` ON `tenant_members` (`tenant_id`,`joined_at`,`id`);--> statement-breakpoint
CREATE INDEX `tenant_members_user` ON `tenant_members` (`user_id`);--> statement-breakpoint
CREATE INDEX `tenant_members_app_role` ON `tenant_members` (`app_id`,`role`);--> statement-breakpoint
CREATE TABLE `tenants` (
	`id` text PRIMARY KEY NOT NULL,
	`app_id` text NOT NULL,
	`display_id` text NOT NULL,
	`slug` text NOT NULL,
	`display_name` text NOT NULL,
	`status` text DEFAULT 'active' NOT NULL,
	`metadata` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`app_id`) REFERENCES `apps`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tenants_display_id` ON `tenants` (`display_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `tenants_app_slug` ON `tenants` (`app_id`,`slug`);--> statement-breakpoint
CREATE INDEX `tenants_app_created` ON `tenants` (`app_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `tenants_app_status_created` ON `tenants` (`app_id`,`status`,`created_at`,`id`);--> statement-breakpoint
ALTER TABLE `end_user_sessions` ADD `tenant_id` text REFERENCES tenants(id) ON DELETE SET NULL;--> statement-breakpoint
ALTER TABLE `mfa_challenges` ADD `tenant_id` text;