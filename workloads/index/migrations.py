"""Versioned schema migrations for the video index: numbered SQL files, each applied once, in order.

Files: `workloads/index/migrations/<dialect>/NNNN_name.sql` (package data), NNNN being the version. The
versions applied are rows of `schema_migrations(version, applied_ms)`; applied_ms is the database's clock,
for operators only.

Statement rule, kept simple on purpose: whole-line `--` comments are dropped, then a statement ends at a line
whose last non-blank character is ';'. So no line may end with ';' inside a string literal or after an
inline comment, and a body with inner semicolons (a trigger, a procedure) cannot be written.

Concurrency: two processes may migrate the same database at once (every open does). SQLite runs each file in
one BEGIN IMMEDIATE transaction, which takes the write lock first and then checks the version again, so the
loser waits and finds it applied. MySQL commits DDL as it goes, so a file is not one transaction there: a
named lock (GET_LOCK) serialises whole runs, and its files use IF NOT EXISTS so a run that died halfway is
finished by the next one.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from pymysql.connections import Connection

Dialect = Literal["sqlite", "mysql"]

# The database's clock in epoch ms, for audit columns (the port itself never reads a clock).
NOW_MS: dict[Dialect, str] = {
    "sqlite": "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
    "mysql": "CAST(UNIX_TIMESTAMP(CURRENT_TIMESTAMP(3)) * 1000 AS SIGNED)",
}
MYSQL_LOCK_TIMEOUT_S = 60  # a migration is a few CREATE TABLEs; a minute means the holder is stuck
_FILE_NAME = re.compile(r"^(\d{4})_(\w+)\.sql$")
_END_OF_STATEMENT = re.compile(r";[ \t]*$", re.MULTILINE)
_CREATE_TABLE: dict[Dialect, str] = {
    "sqlite": "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)",
    "mysql": "CREATE TABLE IF NOT EXISTS schema_migrations (version INT NOT NULL PRIMARY KEY,"
    " applied_ms BIGINT NOT NULL) ENGINE = InnoDB",
}
# Named locks are server-wide: the database's name makes it one lock per database (MD5 keeps it < 64 chars).
_LOCK_NAME = "CONCAT('ebbflow.index.migrate.', MD5(DATABASE()))"


class MigrationError(RuntimeError):
    """A migration file could not be applied (the cause is chained), or the files themselves are wrong."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


def split_statements(sql: str) -> list[str]:
    """The statements of a migration file, by the rule in the module docstring."""
    kept = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [statement.strip() for statement in _END_OF_STATEMENT.split(kept) if statement.strip()]


def load_migrations(dialect: Dialect) -> list[Migration]:
    """The dialect's migration files, by version; a misnamed file or a repeated version is an error."""
    migrations: dict[int, Migration] = {}
    for entry in (resources.files("workloads.index") / "migrations" / dialect).iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.fullmatch(entry.name)
        if match is None:
            raise MigrationError(f"migration file {dialect}/{entry.name} must be named NNNN_name.sql")
        version = int(match[1])
        if version in migrations:
            raise MigrationError(f"two {dialect} migrations have version {version}")
        migrations[version] = Migration(version, match[2], tuple(split_statements(entry.read_text("utf-8"))))
    return [migrations[version] for version in sorted(migrations)]


def _failed(dialect: Dialect, migration: Migration, err: Exception) -> MigrationError:
    return MigrationError(f"{dialect} migration {migration.version:04d}_{migration.name} failed: {err}")


def migrate_sqlite(db: sqlite3.Connection) -> int:
    """Apply the pending migrations on a connection in autocommit mode (isolation_level=None)."""
    applied = 0
    for migration in load_migrations("sqlite"):
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(_CREATE_TABLE["sqlite"])
            done = db.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (migration.version,)).fetchone()
            if done is None:
                for statement in migration.statements:
                    db.execute(statement)
                insert = f"INSERT INTO schema_migrations (version, applied_ms) VALUES (?, {NOW_MS['sqlite']})"
                db.execute(insert, (migration.version,))
                applied += 1
            db.execute("COMMIT")
        except sqlite3.Error as err:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise _failed("sqlite", migration, err) from err
    return applied


def migrate_mysql(conn: Connection[Any]) -> int:
    """Apply the pending migrations, holding the database's migration lock throughout."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT GET_LOCK({_LOCK_NAME}, %s)", (MYSQL_LOCK_TIMEOUT_S,))
        row = cur.fetchone()
        if row is None or row[0] != 1:
            raise MigrationError(f"could not take the migration lock within {MYSQL_LOCK_TIMEOUT_S} s")
        try:
            return _apply_mysql(conn)
        finally:
            cur.execute(f"DO RELEASE_LOCK({_LOCK_NAME})")


def _apply_mysql(conn: Connection[Any]) -> int:
    conn.commit()  # end any open transaction: its snapshot may predate another process's migration
    applied = 0
    with conn.cursor() as cur:
        cur.execute(_CREATE_TABLE["mysql"])
        cur.execute("SELECT version FROM schema_migrations")
        done = {int(version) for (version,) in cur.fetchall()}
        for migration in load_migrations("mysql"):
            if migration.version in done:
                continue
            try:
                for statement in migration.statements:
                    cur.execute(statement)
                insert = f"INSERT INTO schema_migrations (version, applied_ms) VALUES (%s, {NOW_MS['mysql']})"
                cur.execute(insert, (migration.version,))
                conn.commit()
            except Exception as err:
                conn.rollback()
                raise _failed("mysql", migration, err) from err
            applied += 1
    return applied
