-- The build queue and the record of every build. Times are milliseconds since the Unix epoch.
CREATE TABLE builds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    git_ref TEXT,
    fresh BIGINT NOT NULL DEFAULT 0,
    requested_by TEXT,
    status TEXT NOT NULL,
    coordinate TEXT,
    package_name TEXT,
    commit_id TEXT,
    worker TEXT,
    stack_name TEXT,
    stack_digest TEXT,
    stack_packages TEXT,
    tries BIGINT NOT NULL DEFAULT 0,
    lease_until BIGINT,
    cancel_requested BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    installed_size BIGINT,
    package_digest TEXT,
    error TEXT,
    log_key TEXT
);
CREATE INDEX builds_by_status ON builds (status, id);
CREATE INDEX builds_by_package ON builds (package_name, id);

CREATE TABLE build_steps (
    build_id BIGINT NOT NULL,
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (build_id, position)
);

CREATE TABLE build_attempts (
    build_id BIGINT NOT NULL,
    try BIGINT NOT NULL,
    worker TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    outcome TEXT,
    PRIMARY KEY (build_id, try)
);

CREATE TABLE build_log_lines (
    build_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (build_id, seq)
);
