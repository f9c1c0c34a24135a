"""Where the packs' stores and sources are: the `[packs]` table of ebbflow.toml (EBBFLOW_PACKS__... in the
environment). Credentials are SecretStr: they print as '**********' in reprs, logs and error messages, and
only `secret_value` below reveals them, to the client that sends them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

DEFAULT_INDEX_URL = "sqlite:///.ebbflow/index.db"
DEFAULT_RANKINGS_URL = "sqlite:///.ebbflow/rankings.db"
DEFAULT_ARCHIVE = ".ebbflow/archive"
HTTP_SCHEMES = ("http://", "https://")
EMULATOR_TOKEN = "emulator"  # `ebbflow emulate` checks that a token is sent, not which


def _http_url(value: str) -> str:
    if not value.startswith(HTTP_SCHEMES):
        raise ValueError(f"{value!r} must be an http:// or https:// base URL, e.g. http://127.0.0.1:8780")
    return value.rstrip("/")


class SourceSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str
    timeout_s: float = Field(default=10.0, gt=0, description="per request")
    max_rate_wait_s: float = Field(default=120.0, ge=0, description="most one call waits out 429s, then it fails")

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)


class FacebookSettings(SourceSettings):
    base_url: str = "https://graph.facebook.com"
    version: str = Field(default="v19.0", pattern=r"^v\d+\.\d+$")
    access_token: SecretStr | None = Field(default=None, description="an app or user access token")
    user_tokens: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
        description="module:function returning the app's stored token for a user id (None: none stored); "
        "each friend's feed is read with that friend's own token (docs/api-graph.md)",
    )


class XSettings(SourceSettings):
    base_url: str = "https://api.twitter.com"
    bearer_token: SecretStr | None = Field(default=None, description="the app's bearer token")


class VideoSettings(SourceSettings):
    base_url: str = "https://www.youtube.com"
    api_base_url: str = Field(default="https://www.googleapis.com", description="the YouTube Data API (search)")
    api_key: SecretStr | None = Field(default=None, description="a YouTube Data API key")

    @field_validator("api_base_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return _http_url(value)


class PacksSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    index: SecretStr = Field(
        default=SecretStr(DEFAULT_INDEX_URL),
        description="VideoIndex URL: sqlite:///PATH or mysql://USER:PASSWORD@HOST:PORT/DATABASE",
    )
    rankings: SecretStr = Field(
        default=SecretStr(DEFAULT_RANKINGS_URL), description="rankings URL: sqlite:///PATH or redis://HOST:PORT/DB"
    )
    archive: str = Field(
        default=DEFAULT_ARCHIVE,
        min_length=1,
        description="Parquet archive: a folder, file:///PATH or s3://BUCKET/PREFIX",
    )
    emulator: str | None = Field(
        default=None, description="base URL of `ebbflow emulate`: every source talks to it instead of its base_url"
    )
    facebook: FacebookSettings = FacebookSettings()
    x: XSettings = XSettings()
    videos: VideoSettings = VideoSettings()
    max_spot_slots: dict[str, int] = Field(
        default_factory=dict,
        description="per pack job type, e.g. {'related-crawl.fetch' = 32}: most spot slots it holds at once "
        "(overrides the pack's own cap; the autoscaler sizes the fleet to it)",
    )

    @field_validator("max_spot_slots")
    @classmethod
    def _slots(cls, value: dict[str, int]) -> dict[str, int]:
        for job_type, slots in value.items():
            if slots < 1:
                raise ValueError(f"{job_type}: must be at least 1 slot (remove the entry for the pack's own cap)")
        return value

    @field_validator("emulator")
    @classmethod
    def _emulator(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)

    def base_url(self, source: SourceSettings) -> str:
        return self.emulator or source.base_url

    def video_api_base_url(self) -> str:
        """Where video search goes: the Data API, or the emulator, which serves it beside the pages."""
        return self.emulator or self.videos.api_base_url

    def credential(self, secret: SecretStr | None) -> SecretStr | None:
        """The configured token; against the emulator, which accepts any token, a stand-in when none is set."""
        if secret is None and self.emulator is not None:
            return SecretStr(EMULATOR_TOKEN)
        return secret


def secret_value(secret: SecretStr | None) -> str:
    return "" if secret is None else secret.get_secret_value()
