CREATE TABLE `app_slug_aliases` (
	`slug` text PRIMARY KEY NOT NULL,
	`app_id` text NOT NULL,
	`expires_at` integer NOT NULL,
	FOREIGN KEY (`app_id`) REFERENCES `apps`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `app_slug_aliases_app` ON `app_slug_aliases` (`app_id`);