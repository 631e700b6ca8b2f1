CREATE TABLE `app_api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`app_id` text NOT NULL,
	`name` text NOT NULL,
	`key_prefix` text NOT NULL,
	`key_hash` text NOT NULL,
	`permissions` text NOT NULL,
	`last_used_at` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`app_id`) REFERENCES `apps`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `app_api_keys_key_hash_unique` ON `app_api_keys` (`key_hash`);--> statement-breakpoint
CREATE INDEX `app_api_keys_app_created` ON `app_api_keys` (`app_id`,`created_at`,`id`);--> statement-breakpoint
CREATE TABLE `m2m_clients` (
	`id` text PRIMARY KEY NOT NULL,
	`app_id` text NOT NULL,
	`client_id` text NOT NULL,
	`name` text NOT NULL,
	`secret_hash` text NOT NULL,
	`is_active` integer DEFAULT true NOT NULL,
	`scopes` text NOT NULL,
	`last_used_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`app_id`) REFERENCES `apps`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `m2m_clients_client_id_unique` ON `m2m_clients` (`client_id`);--> statement-breakpoint
CREATE INDEX `m2m_clients_app_created` ON `m2m_clients` (`app_id`,`created_at`,`id`);