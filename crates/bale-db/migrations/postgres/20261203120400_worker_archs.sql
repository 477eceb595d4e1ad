-- The architectures each worker has stacks for, as it last said when it
-- looked for work (comma-separated Debian names): a submit for every
-- supported architecture queues one build for each of them.
ALTER TABLE workers ADD COLUMN archs TEXT NOT NULL DEFAULT '';
