-- One published package per coordinate and architecture (docs/architectures.md).
-- Rows from before architectures take the arch their index records, else amd64
-- (every such package was built on an amd64 stack).
ALTER TABLE packages ADD COLUMN arch TEXT;
UPDATE packages SET arch = COALESCE(index_json::jsonb ->> 'arch', 'amd64');
ALTER TABLE packages ALTER COLUMN arch SET NOT NULL;
ALTER TABLE packages DROP CONSTRAINT packages_pkey;
ALTER TABLE packages ADD PRIMARY KEY (coordinate, arch);

ALTER TABLE package_files ADD COLUMN arch TEXT;
UPDATE package_files f SET arch = p.arch FROM packages p WHERE p.coordinate = f.coordinate;
UPDATE package_files SET arch = 'amd64' WHERE arch IS NULL;
ALTER TABLE package_files ALTER COLUMN arch SET NOT NULL;
ALTER TABLE package_files DROP CONSTRAINT package_files_pkey;
ALTER TABLE package_files ADD PRIMARY KEY (coordinate, arch, path);

ALTER TABLE package_needs ADD COLUMN arch TEXT;
UPDATE package_needs n SET arch = p.arch FROM packages p WHERE p.coordinate = n.coordinate;
UPDATE package_needs SET arch = 'amd64' WHERE arch IS NULL;
ALTER TABLE package_needs ALTER COLUMN arch SET NOT NULL;
ALTER TABLE package_needs DROP CONSTRAINT package_needs_pkey;
ALTER TABLE package_needs ADD PRIMARY KEY (coordinate, arch, path, soname);
