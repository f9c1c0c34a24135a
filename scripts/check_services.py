"""Checks that the servers the tests use are up on this machine, starts one that is not, and says clearly
what is wrong when it cannot: the tests never skip a backend silently."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable

import pymysql
import redis

# The commands this machine kind documents for (re)starting its services.
REDIS_START = [
    "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379", "--save", "",
    "--appendonly", "no", "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log",
]  # fmt: skip
MARIADB_START = ["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"]


def redis_up() -> bool:
    try:
        return bool(redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def mariadb_up() -> bool:
    try:
        pymysql.connect(
            host="127.0.0.1", port=3306, user="root", password="", database="test", connect_timeout=2
        ).close()
        return True
    except pymysql.MySQLError:
        return False


def ensure(name: str, is_up: Callable[[], bool], start: list[str]) -> str | None:
    """None when the server answers (after starting it if needed), else what went wrong."""
    if is_up():
        return None
    if shutil.which(start[0]) is None:
        return f"{name} is not running on 127.0.0.1 and {start[0]} is not installed to start it"
    print(f"{name} is not running; starting it: {' '.join(start)}", flush=True)
    subprocess.run(start, check=False, capture_output=True)
    for _ in range(30):
        if is_up():
            return None
        time.sleep(0.5)
    return f"{name} is not running on 127.0.0.1 and did not start with: {' '.join(start)}"


def main() -> int:
    problems = [
        problem
        for problem in (
            ensure("Redis (127.0.0.1:6379)", redis_up, REDIS_START),
            ensure("MariaDB (127.0.0.1:3306, root, database test)", mariadb_up, MARIADB_START),
        )
        if problem
    ]
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
