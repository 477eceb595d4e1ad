-- One published package per coordinate and architecture (docs/architectures.md).
-- Rows from before architectures take the arch their index records, else amd64
-- (every such package was built on an amd64 stack).
CREATE TABLE packages_by_arch (
    coordinate TEXT NOT NULL,
    arch TEXT NOT NULL,
    group_name TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    digest TEXT NOT NULL,
    size BIGINT NOT NULL,
    key_id TEXT,
    index_json TEXT NOT NULL,
    stored BIGINT NOT NULL DEFAULT 0,
    published_at BIGINT NOT NULL,
    PRIMARY KEY (coordinate, arch)
);
INSERT INTO packages_by_arch
    SELECT coordinate, COALESCE(json_extract(index_json, '$.arch'), 'amd64'), group_name, name,
           version, digest, size, key_id, index_json, stored, published_at
    FROM packages;
DROP TABLE packages;
ALTER TABLE packages_by_arch RENAME TO packages;
CREATE INDEX packages_by_name ON packages (name);
CREATE INDEX packages_by_group_name ON packages (group_name, name);

CREATE TABLE package_files_by_arch (
    coordinate TEXT NOT NULL,
    arch TEXT NOT NULL,
    path TEXT NOT NULL,
    class TEXT,
    sha256 TEXT,
    PRIMARY KEY (coordinate, arch, path)
);
INSERT INTO package_files_by_arch
    SELECT f.coordinate, p.arch, f.path, f.class, f.sha256
    FROM package_files f JOIN packages p ON p.coordinate = f.coordinate;
DROP TABLE package_files;
ALTER TABLE package_files_by_arch RENAME TO package_files;
CREATE INDEX package_files_by_path ON package_files (path);

CREATE TABLE package_needs_by_arch (
    coordinate TEXT NOT NULL,
    arch TEXT NOT NULL,
    path TEXT NOT NULL,
    soname TEXT NOT NULL,
    PRIMARY KEY (coordinate, arch, path, soname)
);
INSERT INTO package_needs_by_arch
    SELECT n.coordinate, p.arch, n.path, n.soname
    FROM package_needs n JOIN packages p ON p.coordinate = n.coordinate;
DROP TABLE package_needs;
ALTER TABLE package_needs_by_arch RENAME TO package_needs;
CREATE INDEX package_needs_by_soname ON package_needs (soname);
