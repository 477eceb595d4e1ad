-- Reproducibility checks (docs/service.md, "Proving reproducibility"): a build
-- asked to be checked is built twice, the second time in a fresh environment
-- on another worker when one is live, and the two packages are compared.
-- check_reproducible: whether this build is checked.
-- first_worker: the worker that made the first package, set while the second
--   build waits or runs; other workers are preferred for it.
-- rebuild_queued_at: when the second build was queued (ms since the epoch).
-- reproducibility: the check's record as JSON (workers, digests, differing files).
ALTER TABLE builds ADD COLUMN check_reproducible BIGINT NOT NULL DEFAULT 0;
ALTER TABLE builds ADD COLUMN first_worker TEXT;
ALTER TABLE builds ADD COLUMN rebuild_queued_at BIGINT;
ALTER TABLE builds ADD COLUMN reproducibility TEXT;

-- The workers that looked for work, and when they last did: a second build
-- is left to another worker only while one is live.
CREATE TABLE workers (
    name TEXT PRIMARY KEY,
    seen_at BIGINT NOT NULL
);
