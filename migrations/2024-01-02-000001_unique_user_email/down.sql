ALTER TABLE `user` DROP INDEX `user_email_unique`;
