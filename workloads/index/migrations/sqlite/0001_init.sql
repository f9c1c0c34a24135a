-- The video index: videos, the links between related videos, and each user's fetch cursor per network.
-- Statements end with ';' at the end of a line (workloads.index.migrations splits on that).

CREATE TABLE videos (
    video_id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    title TEXT,
    channel TEXT,
    duration_s INTEGER,
    first_seen_ms INTEGER NOT NULL,
    last_checked_ms INTEGER,
    stale INTEGER NOT NULL DEFAULT 0,
    stale_reason TEXT
) WITHOUT ROWID;

-- Serves due_for_check: SQLite sorts NULL before any number, so never-checked videos lead each stale value.
CREATE INDEX videos_due ON videos (stale, last_checked_ms, video_id);

-- seq numbers a source's links in insertion order (1, 2, ...); add_related assigns it under the write lock.
CREATE TABLE related (
    src_id TEXT NOT NULL,
    dst_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (src_id, dst_id)
) WITHOUT ROWID;

CREATE INDEX related_order ON related (src_id, seq);

-- updated_ms is the database's clock, for operators only: the port never reads it.
CREATE TABLE user_cursors (
    user_id TEXT NOT NULL,
    network TEXT NOT NULL,
    cursor TEXT NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (user_id, network)
) WITHOUT ROWID;
