-- RBAC catalogue fidelity (docs/decisions.md, "RBAC catalogue fidelity"): the two system permissions the
-- hosted catalogue documents and Heimdall lacked, bound to every `owner`; the system roles `admin` and
-- `member` moved to the documented bindings where they still hold exactly a binding Heimdall seeded and
-- were never written through the roles API (updated_at = created_at). An edited role is left as it is.
-- A database without a catalogue yet gets every system permission from the start-up seeding.
INSERT INTO `permissions` (`id`, `app_id`, `key`, `resource`, `action`, `description`, `is_system`, `created_at`)
SELECT
  substr(t.h, 1, 8) || '-' || substr(t.h, 9, 4) || '-7' || substr(lower(hex(randomblob(2))), 2) || '-'
    || substr('89ab', 1 + abs(random() % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-'
    || lower(hex(randomblob(6))),
  NULL, n.k, n.r, n.a, n.d, 1, t.ms
FROM (
  SELECT 'role.revoke' AS k, 'role' AS r, 'revoke' AS a, 'Take a role back from an end user' AS d
  UNION ALL SELECT 'token.create', 'token', 'create', 'Mint tokens on an end user''s behalf'
) AS n,
(
  SELECT c.ms, printf('%012x', c.ms) AS h
  FROM (SELECT CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) AS ms) AS c
) AS t
WHERE EXISTS (SELECT 1 FROM `permissions` WHERE `app_id` IS NULL AND `is_system` = 1 AND `key` = 'role.assign')
  AND NOT EXISTS (SELECT 1 FROM `permissions` p WHERE p.`app_id` IS NULL AND p.`key` = n.k);
--> statement-breakpoint
INSERT OR IGNORE INTO `role_permissions` (`role_id`, `permission_id`)
SELECT r.`id`, p.`id`
FROM `roles` r
JOIN `permissions` p ON p.`app_id` IS NULL AND p.`is_system` = 1 AND p.`key` IN ('role.revoke', 'token.create')
WHERE r.`name` = 'owner' AND r.`is_system` = 1;
--> statement-breakpoint
-- The seeded bindings before this catalogue: admin = all but role.delete, permission.create and
-- permission.delete (15); member = none, or session.revoke alone (seeded, or bound once by the secure default).
CREATE TEMP TABLE `rbac_rebind` AS
SELECT r.`id` AS role_id, r.`name` AS name
FROM `roles` r
WHERE r.`is_system` = 1
  AND r.`updated_at` = r.`created_at`
  AND (
    (
      r.`name` = 'admin'
      AND (SELECT count(*) FROM `role_permissions` rp WHERE rp.`role_id` = r.`id`) = 15
      AND (
        SELECT count(DISTINCT p.`key`)
        FROM `role_permissions` rp
        JOIN `permissions` p ON p.`id` = rp.`permission_id`
        WHERE rp.`role_id` = r.`id` AND p.`app_id` IS NULL AND p.`is_system` = 1
          AND p.`key` IN (
            'user.read', 'user.list', 'user.create', 'user.update', 'user.delete', 'user.status',
            'role.read', 'role.create', 'role.update', 'role.assign', 'permission.read',
            'session.revoke', 'factor.read', 'factor.create', 'factor.delete'
          )
      ) = 15
    )
    OR (
      r.`name` = 'member'
      AND (
        (SELECT count(*) FROM `role_permissions` rp WHERE rp.`role_id` = r.`id`) = 0
        OR (
          (SELECT count(*) FROM `role_permissions` rp WHERE rp.`role_id` = r.`id`) = 1
          AND EXISTS (
            SELECT 1
            FROM `role_permissions` rp
            JOIN `permissions` p ON p.`id` = rp.`permission_id`
            WHERE rp.`role_id` = r.`id` AND p.`app_id` IS NULL AND p.`is_system` = 1 AND p.`key` = 'session.revoke'
          )
        )
      )
    )
  );
--> statement-breakpoint
DELETE FROM `role_permissions` WHERE `role_id` IN (SELECT role_id FROM `rbac_rebind`);
--> statement-breakpoint
INSERT INTO `role_permissions` (`role_id`, `permission_id`)
SELECT DISTINCT t.role_id, p.`id`
FROM `rbac_rebind` t
JOIN `permissions` p ON p.`app_id` IS NULL AND p.`is_system` = 1
  AND (
    (t.name = 'admin' AND p.`key` IN ('user.read', 'user.list', 'user.update', 'role.assign', 'role.revoke'))
    OR (t.name = 'member' AND p.`key` IN ('user.read', 'role.read'))
  );
--> statement-breakpoint
UPDATE `roles`
SET
  `updated_at` = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
  `description` = CASE
    WHEN `name` = 'admin' AND `description` = 'Runs the user base; cannot delete roles or change the permission catalogue'
      THEN 'Reads and edits end users; assigns and revokes their roles'
    WHEN `name` = 'member' AND `description` = 'Default role for new sign-ups; no administrative permission'
      THEN 'Default role for new sign-ups; reads end users and roles'
    ELSE `description`
  END
WHERE `id` IN (SELECT role_id FROM `rbac_rebind`);
--> statement-breakpoint
DROP TABLE `rbac_rebind`;
