-- Cache coherence among instances (issue 20): a committed write to a table that instances cache bumps its
-- epoch and notifies every listening instance at commit (a rolled-back write never does). PostgreSQL only:
-- one SQLite file has one process.
CREATE FUNCTION heimdall_cache_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  epoch integer;
BEGIN
  INSERT INTO cache_epochs (scope, version) VALUES (TG_TABLE_NAME, 1)
    ON CONFLICT (scope) DO UPDATE SET version = cache_epochs.version + 1
    RETURNING version INTO epoch;
  PERFORM pg_notify('heimdall_cache', TG_TABLE_NAME || ' ' || epoch);
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER apps_cache_changed AFTER INSERT OR UPDATE OR DELETE ON apps FOR EACH STATEMENT EXECUTE FUNCTION heimdall_cache_changed();
--> statement-breakpoint
CREATE TRIGGER app_slug_aliases_cache_changed AFTER INSERT OR UPDATE OR DELETE ON app_slug_aliases FOR EACH STATEMENT EXECUTE FUNCTION heimdall_cache_changed();
--> statement-breakpoint
CREATE TRIGGER signing_keys_cache_changed AFTER INSERT OR UPDATE OR DELETE ON signing_keys FOR EACH STATEMENT EXECUTE FUNCTION heimdall_cache_changed();
--> statement-breakpoint
CREATE TRIGGER roles_cache_changed AFTER INSERT OR UPDATE OR DELETE ON roles FOR EACH STATEMENT EXECUTE FUNCTION heimdall_cache_changed();
--> statement-breakpoint
CREATE TRIGGER role_permissions_cache_changed AFTER INSERT OR UPDATE OR DELETE ON role_permissions FOR EACH STATEMENT EXECUTE FUNCTION heimdall_cache_changed();
--> statement-breakpoint
CREATE TRIGGER permissions_cache_changed AFTER INSERT OR UPDATE OR DELETE ON permissions FOR EACH STATEMENT EXECUTE FUNCTION heimdall_cache_changed();
