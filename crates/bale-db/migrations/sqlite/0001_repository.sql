-- Tokens, published packages and the files they ship.
CREATE TABLE tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scope TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE packages (
    coordinate TEXT PRIMARY KEY,
    group_name TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    digest TEXT NOT NULL,
    size BIGINT NOT NULL,
    key_id TEXT,
    index_json TEXT NOT NULL,
    stored BIGINT NOT NULL DEFAULT 0,
    published_at BIGINT NOT NULL
);
CREATE INDEX packages_by_name ON packages (name);
CREATE INDEX packages_by_group_name ON packages (group_name, name);

CREATE TABLE package_files (
    coordinate TEXT NOT NULL,
    path TEXT NOT NULL,
    class TEXT,
    sha256 TEXT,
    PRIMARY KEY (coordinate, path)
);
CREATE INDEX package_files_by_path ON package_files (path);

CREATE TABLE package_needs (
    coordinate TEXT NOT NULL,
    path TEXT NOT NULL,
    soname TEXT NOT NULL,
    PRIMARY KEY (coordinate, path, soname)
);
CREATE INDEX package_needs_by_soname ON package_needs (soname);
