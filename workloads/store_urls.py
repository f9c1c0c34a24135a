"""Reading the packs' store URLs (`packs.index`, `packs.rankings`): the parts both share, so both say the same
thing about the same mistake. No message ever quotes the URL itself: it may hold a password."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, parse_qs, urlsplit

SQLITE_PREFIX = "sqlite:///"
TLS_PARAMETERS = ("tls_ca_file", "tls_cert_file", "tls_key_file")


@dataclass(frozen=True)
class StoreUrl:
    setting: str  # "packs.index"
    examples: str  # what a good URL looks like, shown with every error

    def bad(self, problem: str) -> ValueError:
        return ValueError(f"{self.setting}: {problem}; expected a URL like {self.examples}")

    def sqlite_path(self, url: str) -> str:
        path = url[len(SQLITE_PREFIX) :]
        if not path or "?" in path or "#" in path:
            raise self.bad("a sqlite URL needs a file path and nothing after it")
        return path

    def unsupported(self, url: str) -> ValueError:
        """The error for a URL none of the setting's schemes matched."""
        if url.startswith("sqlite:"):
            return self.bad("a sqlite URL starts with sqlite:/// (three slashes, four before an absolute path)")
        scheme = url.partition("://")[0] if "://" in url else ""
        return self.bad(f"unsupported scheme {scheme!r}" if scheme else "not a URL")

    def split(self, url: str, default_port: int) -> tuple[SplitResult, int]:
        """The URL's parts and its port (the default when none is given)."""
        try:
            parts = urlsplit(url)
            return parts, parts.port or default_port
        except ValueError as err:  # a port that is not a number, or out of range
            raise self.bad(f"the {url.partition(':')[0]} port must be a number from 1 to 65535") from err

    def query(self, parts: SplitResult, known: tuple[str, ...]) -> dict[str, str]:
        """The URL's query parameters, each given once and each one of `known`."""
        scheme = parts.scheme
        if parts.fragment:
            raise self.bad(f"the {scheme} URL takes no fragment")
        try:
            query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
        except ValueError as err:
            raise self.bad(f"the {scheme} URL's query string is malformed") from err
        unknown = sorted(set(query) - set(known))
        if unknown:
            raise self.bad(f"unknown {scheme} URL parameter {unknown[0]!r}; known: {', '.join(known) or 'none'}")
        repeated = sorted(name for name, values in query.items() if len(values) != 1)
        if repeated:
            raise self.bad(f"the {scheme} URL gives {repeated[0]} more than once")
        return {name: values[0] for name, values in query.items()}

    def tls_files(self, query: dict[str, str]) -> dict[str, str | None]:
        """The TLS_PARAMETERS of a query (None when not given), each an existing file, cert and key together."""
        files = {name: query.get(name) or None for name in TLS_PARAMETERS}
        for name, path in files.items():
            if path is not None and not Path(path).is_file():
                raise self.bad(f"{name} is not a file; give the path of a PEM file")
        if (files["tls_cert_file"] is None) != (files["tls_key_file"] is None):
            raise self.bad("tls_cert_file and tls_key_file go together: give both or neither")
        return files
