"""Reading a store's redis:// URL into a client and a key prefix. The rankings and the crawl state both live
where `packs.rankings` points, so they read it here, the same way, and a mistake gets the same message.

    redis://host:port/db?prefix=ebbflow:   port defaults to 6379, db to 0, prefix to "ebbflow:";
                                           redis://:password@host... or user:password@ for an ACL user
    rediss://...&tls_ca_file=/ca.pem       TLS, verified against that CA (else the system's); add
                                           tls_cert_file and tls_key_file when the server asks for a client
                                           certificate

Everything is checked before a client is built; no message quotes the URL (workloads.store_urls).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from redis import Redis

from workloads.store_urls import TLS_PARAMETERS, StoreUrl

DEFAULT_PREFIX = "ebbflow:"
DEFAULT_PORT = 6379
SCHEMES = ("redis://", "rediss://")


def open_redis_url(spec: StoreUrl, url: str) -> tuple[Redis, str]:
    """(a decoding client, the key prefix) for a redis:// URL; a malformed one raises ValueError naming spec."""
    parts, port = spec.split(url, default_port=DEFAULT_PORT)
    if not parts.hostname:
        raise spec.bad("the redis URL has no host")
    query = spec.query(parts, ("prefix", *TLS_PARAMETERS))
    prefix, db = query.get("prefix", DEFAULT_PREFIX), _db(spec, parts.path)
    tls = _tls_options(spec, query, parts.scheme == "rediss")
    client = Redis(
        host=parts.hostname,
        port=port,
        db=db,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        decode_responses=True,
        **tls,
    )
    return client, prefix


def _db(spec: StoreUrl, path: str) -> int:
    db = path.removeprefix("/")
    if not db:
        return 0
    if not db.isdigit():
        raise spec.bad("the redis URL's path must be a database number, like /0")
    return int(db)


def _tls_options(spec: StoreUrl, query: dict[str, str], tls: bool) -> dict[str, Any]:
    files = spec.tls_files(query)
    given = [name for name, path in files.items() if path]
    if given and not tls:
        raise spec.bad(f"{given[0]} needs a rediss:// URL (TLS)")
    if not tls:
        return {}
    return {
        "ssl": True,
        "ssl_cert_reqs": "required",
        "ssl_ca_certs": files["tls_ca_file"],
        "ssl_certfile": files["tls_cert_file"],
        "ssl_keyfile": files["tls_key_file"],
    }
