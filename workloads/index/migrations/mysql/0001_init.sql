-- The video index: videos, the links between related videos, and each user's fetch cursor per network.
-- Statements end with ';' at the end of a line (workloads.index.migrations splits on that).
-- MySQL commits each DDL statement on its own, so a file cannot run in one transaction: IF NOT EXISTS lets a
-- run that died halfway be finished by the next one. utf8mb4_bin: ids are case-sensitive ("dQw4w9WgXcQ")
-- and sort byte-wise, as in SQLite. Secondary keys live inside CREATE TABLE (MySQL has no CREATE INDEX
-- IF NOT EXISTS).

CREATE TABLE IF NOT EXISTS videos (
    video_id VARCHAR(64) NOT NULL,
    url TEXT NOT NULL,
    title TEXT NULL,
    channel TEXT NULL,
    duration_s INT NULL,
    first_seen_ms BIGINT NOT NULL,
    last_checked_ms BIGINT NULL,
    stale BOOLEAN NOT NULL DEFAULT FALSE,
    stale_reason VARCHAR(255) NULL,
    PRIMARY KEY (video_id),
    -- Serves due_for_check: InnoDB sorts NULL first in ascending order, so never-checked videos lead.
    KEY videos_due (stale, last_checked_ms, video_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- seq is a table-wide AUTO_INCREMENT: rising with insertion, which is all related() needs.
CREATE TABLE IF NOT EXISTS related (
    src_id VARCHAR(64) NOT NULL,
    dst_id VARCHAR(64) NOT NULL,
    seq BIGINT NOT NULL AUTO_INCREMENT,
    PRIMARY KEY (src_id, dst_id),
    UNIQUE KEY related_seq (seq),
    KEY related_order (src_id, seq)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- updated_ms is the database's clock, for operators only: the port never reads it.
CREATE TABLE IF NOT EXISTS user_cursors (
    user_id VARCHAR(64) NOT NULL,
    network VARCHAR(64) NOT NULL,
    `cursor` TEXT NOT NULL, -- CURSOR is a reserved word in MySQL
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (user_id, network)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
