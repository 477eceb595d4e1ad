-- The architecture a queued build is for (docs/architectures.md); NULL: the
-- machine's of whichever worker claims it, as before architectures.
ALTER TABLE builds ADD COLUMN arch TEXT;
