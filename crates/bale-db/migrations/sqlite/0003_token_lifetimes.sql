-- Tokens expire, are revoked, and remember when they were last used.
-- Times are seconds since the Unix epoch, as created_at; NULL: never.
ALTER TABLE tokens ADD COLUMN expires_at BIGINT;
ALTER TABLE tokens ADD COLUMN revoked_at BIGINT;
ALTER TABLE tokens ADD COLUMN last_used_at BIGINT;
