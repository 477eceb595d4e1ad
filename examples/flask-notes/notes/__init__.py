"""notes: a small notes store, a Flask app kept in SQLite.

Routes: ``GET /`` lists the notes (HTML), ``GET /notes`` lists them as JSON,
``POST /notes`` adds one (a form field or a JSON body named ``body``),
``GET /healthz`` answers ``ok`` when the database is reachable and migrated.
Command: ``flask --app notes migrate``.
"""

import os
import secrets

import click
from flask import Flask, flash, jsonify, redirect, render_template, request, url_for

from . import db

MAX_NOTE_LENGTH = 10_000


def create_app(test_config=None):
    """Builds the app. The database lives in $BALE_RUN (default ./run)."""
    app = Flask(__name__)
    run_dir = os.environ.get("BALE_RUN") or "run"
    app.config.from_mapping(
        DATABASE=db.database_path(run_dir),
        SECRET_KEY=os.environ.get("SECRET_KEY"),
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    if test_config is not None:
        app.config.from_mapping(test_config)
    if not app.config["SECRET_KEY"]:
        # bale provisions SECRET_KEY once per app; without it, flashed messages
        # only survive until this process restarts.
        app.logger.warning("SECRET_KEY is not set; using a random key for this process")
        app.config["SECRET_KEY"] = secrets.token_hex(32)

    app.teardown_appcontext(db.close_db)

    @app.errorhandler(db.NotMigrated)
    def not_migrated(error):
        return f"{error}\n", 503, {"Content-Type": "text/plain; charset=utf-8"}

    @app.get("/")
    def index():
        notes = db.get_db().execute(
            "SELECT id, body, created_at FROM notes ORDER BY id DESC"
        ).fetchall()
        return render_template("index.html", notes=notes)

    @app.get("/notes")
    def list_notes():
        rows = db.get_db().execute(
            "SELECT id, body, created_at FROM notes ORDER BY id DESC"
        ).fetchall()
        return jsonify([dict(row) for row in rows])

    @app.post("/notes")
    def add_note():
        data = request.get_json(silent=True) if request.is_json else request.form
        body = ((data or {}).get("body") or "").strip()
        if not body:
            return _refuse("a note needs a non-empty 'body'")
        if len(body) > MAX_NOTE_LENGTH:
            return _refuse(f"a note holds at most {MAX_NOTE_LENGTH} characters")
        conn = db.get_db()
        with conn:
            cur = conn.execute("INSERT INTO notes (body) VALUES (?)", (body,))
        row = conn.execute(
            "SELECT id, body, created_at FROM notes WHERE id = ?", (cur.lastrowid,)
        ).fetchone()
        if request.is_json:
            return jsonify(dict(row)), 201
        flash("Note saved.")
        return redirect(url_for("index"), code=303)

    def _refuse(message):
        if request.is_json:
            return jsonify(error=message), 400
        return f"{message}\n", 400, {"Content-Type": "text/plain; charset=utf-8"}

    @app.get("/healthz")
    def healthz():
        db.get_db().execute("SELECT count(*) FROM notes").fetchone()
        return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8"}

    @app.cli.command("migrate")
    def migrate_command():
        """Bring the database up to this version's schema."""
        old, new = db.migrate()
        where = app.config["DATABASE"]
        if old == new:
            click.echo(f"{where}: schema version {new}, up to date")
        else:
            click.echo(f"{where}: schema version {old} -> {new}")

    return app
