-- Admin sessions, kept server-side so that a logout ends the session on every
-- instance at once. The cookie holds a random token; only its SHA-256 is stored, so
-- a copy of this table cannot be replayed. Rows past `expires_at` (unix seconds) are
-- refused and deleted at the next login, which keeps the table bounded.
CREATE TABLE `admin_session` (
  `token_hash` BINARY(32) NOT NULL PRIMARY KEY,
  `username` VARCHAR(64) NOT NULL,
  -- The password hash's fingerprint at login: a new password ends old sessions.
  `fingerprint` VARCHAR(32) NOT NULL,
  -- The CSRF token of this session's forms; it dies with the session.
  `csrf` CHAR(64) NOT NULL,
  `created_at` BIGINT NOT NULL,
  `expires_at` BIGINT NOT NULL,
  INDEX `admin_session_expires_at` (`expires_at`)
) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
