-- The SBOMs and provenance published beside a package (docs/sbom.md): one row
-- per package file, claimed before its object is written, so of concurrent
-- uploads of different bytes exactly one is stored and the others refused.
-- file: the suffix (`.spdx.json`, `.cdx.json`, `.intoto.json`);
-- digest: `sha256:<hex>` of the uploaded bytes.
CREATE TABLE attestations (
    coordinate TEXT NOT NULL,
    arch TEXT NOT NULL,
    file TEXT NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (coordinate, arch, file)
);
