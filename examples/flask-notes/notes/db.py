"""The notes database: one SQLite file under the app's runtime directory.

The schema has a version (SQLite's ``user_version``); ``migrate`` brings an
older file up to date. The web app never migrates by itself: the deploy's
hooks run ``flask --app notes migrate`` before the new version starts.
"""

import os
import sqlite3

from flask import current_app, g

# Each entry takes the schema from version i to i + 1. Append, never edit.
MIGRATIONS = [
    """
    CREATE TABLE notes (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        body       TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
    );
    """,
    """
    CREATE INDEX notes_created_at ON notes (created_at);
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


class NotMigrated(Exception):
    """The database file is older than this version of the app."""


def database_path(run_dir):
    """The SQLite file inside the runtime directory."""
    return os.path.join(run_dir, "notes.sqlite3")


def connect(path):
    """Opens the database, making its directory when needed."""
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def schema_version(conn):
    """The version of the schema the file holds (0 for a new file)."""
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate_file(path):
    """Applies the pending migrations to the file; returns (old, new) versions."""
    conn = connect(path)
    try:
        old = schema_version(conn)
        if old > SCHEMA_VERSION:
            raise NotMigrated(
                f"{path} has schema version {old}, newer than this app's {SCHEMA_VERSION}; "
                "deploy the newer version of the app again or restore a backup"
            )
        for version in range(old, SCHEMA_VERSION):
            # One transaction per step: a failed step leaves the previous version.
            conn.executescript(f"BEGIN; {MIGRATIONS[version]} PRAGMA user_version = {version + 1}; COMMIT;")
        return old, schema_version(conn)
    finally:
        conn.close()


def migrate():
    """Migrates the current app's database."""
    return migrate_file(current_app.config["DATABASE"])


def get_db():
    """The request's connection; refuses a database that needs migrating."""
    if "db" not in g:
        conn = connect(current_app.config["DATABASE"])
        version = schema_version(conn)
        if version != SCHEMA_VERSION:
            conn.close()
            raise NotMigrated(
                f"the database has schema version {version}, this app needs {SCHEMA_VERSION}; "
                "run the migrate command (flask --app notes migrate)"
            )
        g.db = conn
    return g.db


def close_db(_exc=None):
    """Closes the request's connection, if it opened one."""
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()
