"""ebbflow's settings: one TOML file plus EBBFLOW_* environment overrides, validated once at the edge.

Where the file comes from, first match wins: the `path` given (the CLI's --config), $EBBFLOW_CONFIG, then
`ebbflow.toml` in the working directory if it exists (no file at all means every default). A file that was
named explicitly but is missing is an error, so a typo never silently runs on defaults.

Environment variables override the file: EBBFLOW_STORE=redis, EBBFLOW_REDIS__URL=...,
EBBFLOW_SCHEDULER__LEASE_TTL_S=10 (`__` steps into a nested table). Giving `scheduler.levels` or
`scheduler.classes` replaces the whole default set rather than adding to it. Relative paths (sqlite.path)
are relative to the working directory, not to the file.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from autoscaler.config import AutoscalerConfig
from autoscaler.fleet import NodeType, check_node_types
from autoscaler.log_files import DEFAULT_BACKUPS, DEFAULT_MAX_BYTES, MIN_MAX_BYTES
from dispatcher.config import DispatcherConfig
from ebbflow.config_errors import describe_settings_error, describe_validation_error
from ebbflow.logs import LogFormat
from scheduler.config import SchedulerConfig
from scheduler.cron import CronSchedule
from scheduler.errors import ConfigError
from scheduler.redis_keys import NAMESPACE
from workloads.settings import PacksSettings

ENV_PREFIX = "EBBFLOW_"
CONFIG_ENV = "EBBFLOW_CONFIG"
DEFAULT_CONFIG_FILE = "ebbflow.toml"
DEFAULT_SQLITE_PATH = ".ebbflow/queue.db"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


class SQLiteSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(default=DEFAULT_SQLITE_PATH, min_length=1, description="the database file")


class RedisSettings(BaseModel):
    """Where the queue lives. The password goes in `password` (EBBFLOW_REDIS__PASSWORD), not in the URL, so
    that the URL can be shown; `rediss://` turns TLS on, verified against `tls_ca_file` (else the system's CAs),
    with `tls_cert_file` and `tls_key_file` when the server asks clients for a certificate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = DEFAULT_REDIS_URL
    namespace: str = Field(default="ebbflow", pattern=NAMESPACE.pattern, description="Redis key namespace")
    username: str | None = Field(default=None, min_length=1, description="ACL user (None: the default user)")
    password: SecretStr | None = Field(default=None, description="AUTH password (requirepass or the ACL user's)")
    tls_ca_file: str | None = Field(default=None, description="CA bundle that signed the server's certificate")
    tls_cert_file: str | None = Field(default=None, description="client certificate, for tls-auth-clients")
    tls_key_file: str | None = Field(default=None, description="the client certificate's private key")

    @field_validator("url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        # Checked here so a bad URL is a config error naming redis.url, not a ValueError deep in redis-py. The
        # message does not quote the URL: an old config may still carry a password in it.
        if not value.startswith(REDIS_SCHEMES):
            raise ValueError(f"must start with one of {', '.join(REDIS_SCHEMES)} (TLS: rediss://)")
        return value

    @field_validator("tls_ca_file", "tls_cert_file", "tls_key_file")
    @classmethod
    def _readable_file(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).is_file():
            raise ValueError(f"{value!r} is not a file; give the path of a PEM file")
        return value

    @model_validator(mode="after")
    def _tls_needs_rediss(self) -> RedisSettings:
        given = [name for name in ("tls_ca_file", "tls_cert_file", "tls_key_file") if getattr(self, name)]
        if given and not self.url.startswith("rediss://"):
            raise ValueError(f"{given[0]} is set but redis.url does not start with rediss:// (TLS)")
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together: give both or neither")
        return self

    def connection_options(self) -> dict[str, Any]:
        """What redis-py is given besides the URL (the only place the password is revealed)."""
        options: dict[str, Any] = {}
        if self.username is not None:
            options["username"] = self.username
        if self.password is not None:
            options["password"] = self.password.get_secret_value()
        if self.url.startswith("rediss://"):
            options.update(ssl_cert_reqs="required", ssl_ca_certs=self.tls_ca_file)
            if self.tls_cert_file is not None:
                options.update(ssl_certfile=self.tls_cert_file, ssl_keyfile=self.tls_key_file)
        return options


class RaySettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    address: str | None = Field(
        default=None, description="GCS address host:port of a running cluster; None: a private local Ray"
    )
    local_spot_slots: int = Field(default=2, ge=0, description="spot slots of the local Ray (address unset)")
    local_ondemand_slots: int = Field(default=1, ge=0, description="on-demand slots of the local Ray")

    @field_validator("address")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None and (":" not in value or not value.rsplit(":", 1)[1].isdigit()):
            raise ValueError(f"{value!r} must be host:port of the Ray head's GCS (e.g. 10.0.0.5:6380)")
        return value


class Ec2Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    region: str = "us-east-1"
    cluster: str = Field(default="ebbflow", pattern=r"^[A-Za-z0-9()./_-]{1,64}$", description="instances' tag")
    image_id: str = ""
    launch_template: str = ""
    subnet_ids: dict[str, str] = Field(default_factory=dict, description="zone -> subnet to launch into")
    endpoint_url: str | None = Field(default=None, description="another EC2 endpoint (a moto server in tests)")


class AutoscalerSettings(AutoscalerConfig):
    """The policy (autoscaler.config) plus where it acts: the fleet and its node types."""

    enabled: bool = Field(default=False, description="`ebbflow head` runs the autoscaler every period_s")
    fleet: Literal["ray", "ec2"] = "ray"
    spot_prices: Literal["ec2", "node_types"] = Field(
        default="ec2",
        description="a Ray fleet's spot prices: EC2's price history (autoscaler.ec2 region), or each spot node"
        " type's spot_price (a cluster with no price feed); an ec2 fleet always reads EC2's",
    )
    node_types: tuple[NodeType, ...] = ()
    log_path: str = Field(default=".ebbflow/autoscaler.jsonl", min_length=1, description="the decision log")
    log_max_bytes: int = Field(
        default=DEFAULT_MAX_BYTES, description="the decision log is rotated (to log_path.1 ...) before this size"
    )
    log_backups: int = Field(default=DEFAULT_BACKUPS, description="rotated decision logs kept besides log_path")
    ec2: Ec2Settings = Ec2Settings()

    @field_validator("node_types")
    @classmethod
    def _unique(cls, value: tuple[NodeType, ...]) -> tuple[NodeType, ...]:
        return check_node_types(value)

    @field_validator("log_max_bytes")
    @classmethod
    def _rotation_size(cls, value: int) -> int:
        if value < MIN_MAX_BYTES:
            raise ValueError(
                f"{value} bytes would rotate the decision log every few decisions; give at least {MIN_MAX_BYTES}"
                f" (64 KiB), e.g. {DEFAULT_MAX_BYTES} (16 MiB, about 25,000 decisions)"
            )
        return value

    @field_validator("log_backups")
    @classmethod
    def _rotated_files(cls, value: int) -> int:
        if value < 1:
            raise ValueError(
                f"{value}: keep at least 1 rotated file, or the newest decisions vanish at each rotation;"
                f" e.g. {DEFAULT_BACKUPS} (with 16 MiB files, about three months at one decision a minute)"
            )
        return value

    def policy(self) -> AutoscalerConfig:
        return AutoscalerConfig(**{name: getattr(self, name) for name in AutoscalerConfig.model_fields})


class HeadSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    maintain_every_s: float = Field(default=5.0, gt=0, description="reap expired leases and apply MLFQ moves")
    cron_every_s: float = Field(default=10.0, gt=0, description="submit due cron ticks")
    report_every_s: float = Field(default=10.0, gt=0, description="log the dispatcher's counts")
    metrics_host: str = Field(default="127.0.0.1", min_length=1, description="where /metrics listens")
    metrics_port: int = Field(default=9464, ge=0, le=65535, description="/metrics port; 0: any free port")
    metrics: bool = Field(default=True, description="serve Prometheus metrics on the head")
    log_format: LogFormat = Field(default="text", description="text lines, or json: one object per line")
    leader_ttl_s: float = Field(
        default=15.0, ge=1.0, le=600.0, description="the leader lease's TTL: a killed leader's lease lapses after it"
    )
    leader_renew_every_s: float = Field(
        default=5.0, gt=0, description="how often the leader renews its lease, and a standby tries to take it"
    )

    @model_validator(mode="after")
    def _renew_within_ttl(self) -> HeadSettings:
        # the leader stops acting leader_ttl_s - leader_renew_every_s after its last renew: at least one more
        # renew must fit in before that, or a single slow round would depose it
        if self.leader_renew_every_s * 2 > self.leader_ttl_s:
            raise ValueError(
                f"head.leader_renew_every_s ({self.leader_renew_every_s:g} s) must be at most half of "
                f"head.leader_ttl_s ({self.leader_ttl_s:g} s); e.g. 5 and 15 (the defaults)"
            )
        return self


JOB_TYPES_REFERENCE = r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True)

    store: Literal["sqlite", "redis"] = "sqlite"
    sqlite: SQLiteSettings = SQLiteSettings()
    redis: RedisSettings = RedisSettings()
    scheduler: SchedulerConfig = SchedulerConfig()
    cron: list[CronSchedule] = []
    job_types: list[str] = Field(
        default=[], description="extra job types, 'module:ATTRIBUTE' naming an iterable of JobType"
    )
    ray: RaySettings = RaySettings()
    dispatcher: DispatcherConfig = DispatcherConfig()
    head: HeadSettings = HeadSettings()
    autoscaler: AutoscalerSettings = AutoscalerSettings()
    packs: PacksSettings = PacksSettings()

    @field_validator("job_types")
    @classmethod
    def _references(cls, value: list[str]) -> list[str]:
        for reference in value:
            if not re.fullmatch(JOB_TYPES_REFERENCE, reference):
                raise ValueError(f"{reference!r} must be 'module:ATTRIBUTE', e.g. 'mypack.jobs:TYPES'")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's contents arrive as init arguments; listing env first makes the environment win.
        # No .env or secrets directories: one file and the environment are the whole story.
        return env_settings, init_settings


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Settings from the config file (see the module docstring) and the environment; ConfigError if invalid."""
    file = _config_path(path)
    data = _read_toml(file) if file is not None else {}
    source = str(file) if file is not None else None
    try:
        return Settings(**data)
    except ValidationError as err:
        raise ConfigError(describe_validation_error(err, data, source, ENV_PREFIX)) from None
    except SettingsError as err:
        # Raised for an env value that should be JSON (a list or table) but does not parse.
        raise ConfigError(describe_settings_error(err, ENV_PREFIX)) from None


def _config_path(path: str | os.PathLike[str] | None) -> Path | None:
    """The file to read: one asked for by name (which must exist), else the default one if present."""
    named = path if path is not None else os.environ.get(CONFIG_ENV) or None
    if named is not None:
        return Path(named)
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def _read_toml(file: Path) -> dict[str, Any]:
    try:
        with file.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config: {file}: no such file; create it or fix --config / ${CONFIG_ENV}") from None
    except OSError as err:
        raise ConfigError(f"config: {file}: cannot read it ({err.strerror})") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config: {file} is not valid TOML: {err}") from None
