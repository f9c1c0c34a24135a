"""Reading the packs' store URLs (`packs.index`, `packs.rankings`): the parts both share, so both say the same
thing about the same mistake. No message ever quotes the URL itself: it may hold a password."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

SQLITE_PREFIX = "sqlite:///"


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
