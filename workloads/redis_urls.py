"""Reading a store's redis:// URL into a client and a key prefix. The rankings and the crawl state both live
where `packs.rankings` points, so they read it here, the same way, and a mistake gets the same message.

    redis://host:port/db?prefix=ebbflow:   port defaults to 6379, db to 0, prefix to "ebbflow:";
                                           redis://:password@host... or user:password@ for an ACL user

Everything is checked before a client is built; no message quotes the URL (workloads.store_urls).
"""

from __future__ import annotations

from urllib.parse import SplitResult, parse_qs, unquote

from redis import Redis

from workloads.store_urls import StoreUrl

DEFAULT_PREFIX = "ebbflow:"
DEFAULT_PORT = 6379


def open_redis_url(spec: StoreUrl, url: str) -> tuple[Redis, str]:
    """(a decoding client, the key prefix) for a redis:// URL; a malformed one raises ValueError naming spec."""
    parts, port = spec.split(url, default_port=DEFAULT_PORT)
    if not parts.hostname:
        raise spec.bad("the redis URL has no host")
    prefix, db = _prefix(spec, parts), _db(spec, parts.path)
    client = Redis(
        host=parts.hostname,
        port=port,
        db=db,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        decode_responses=True,
    )
    return client, prefix


def _db(spec: StoreUrl, path: str) -> int:
    db = path.removeprefix("/")
    if not db:
        return 0
    if not db.isdigit():
        raise spec.bad("the redis URL's path must be a database number, like /0")
    return int(db)


def _prefix(spec: StoreUrl, parts: SplitResult) -> str:
    if parts.fragment:
        raise spec.bad("the redis URL takes no fragment")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as err:
        raise spec.bad("the redis URL's query string is malformed") from err
    unknown = sorted(set(query) - {"prefix"})
    if unknown:
        raise spec.bad(f"unknown redis URL parameter {unknown[0]!r}; only prefix is known")
    values = query.get("prefix", [DEFAULT_PREFIX])
    if len(values) != 1:
        raise spec.bad("the redis URL gives prefix more than once")
    return values[0]
