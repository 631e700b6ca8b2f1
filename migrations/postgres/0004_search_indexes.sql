-- End-user search on PostgreSQL (users/admin-store.ts): a search compares and orders usernames and primary
-- emails bytewise (COLLATE "C"), so its cursor follows the same order on both dialects. The indexes of the
-- baseline use the database's collation, which may be a locale's, and then cannot serve those ranges: a
-- search walked every account of the app. These serve them. PostgreSQL only: SQLite compares bytewise already.
CREATE INDEX "end_users_app_username_bytes" ON "end_users" USING btree ("app_id", ("username" COLLATE "C"));
--> statement-breakpoint
CREATE INDEX "end_user_contacts_app_value_bytes" ON "end_user_contacts" USING btree ("app_id", "type", ("value" COLLATE "C"));
