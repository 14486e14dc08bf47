DROP TABLE `admin_session`;
