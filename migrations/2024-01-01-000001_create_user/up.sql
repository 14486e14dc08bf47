-- The tutorial's `user` table, with its syntax errors fixed (no COLLATE on integer
-- columns, a phone that keeps leading zeros and `+`).
CREATE TABLE IF NOT EXISTS `user` (
  `id` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  `name` VARCHAR(50) NOT NULL,
  `email` VARCHAR(255) NOT NULL,
  `phone` VARCHAR(15) NOT NULL,
  `address` VARCHAR(255) NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A database that already holds the tutorial's table is adopted: its columns are
-- brought to the types above. MariaDB's strict mode makes this fail rather than
-- truncate if a stored value does not fit, so no data is lost either way.
ALTER TABLE `user`
  MODIFY `id` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  MODIFY `name` VARCHAR(50) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL,
  MODIFY `email` VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL,
  MODIFY `phone` VARCHAR(15) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL,
  MODIFY `address` VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL;

-- The tutorial's sample row, only into an empty table: an adopted table keeps its rows.
INSERT INTO `user` (`id`, `name`, `email`, `phone`, `address`)
SELECT 1, 'Soumitra', 'soumitra@roytuts.com', '43256789', 'Earth'
FROM DUAL
WHERE NOT EXISTS (SELECT 1 FROM `user`);
