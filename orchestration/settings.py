"""Mailtrail's configuration: one typed schema, read from the environment in this module only.

Every setting is a field of :class:`Settings` whose alias is its environment variable (the README's
configuration table lists the same names; a test holds the two together). Everything else - the
Dagster resources in ``orchestration.defs.resources``, the campaign Python API
(``Emailing.from_settings``), the CLI - is built from a ``Settings`` value, never from
``os.environ`` directly, so a variable cannot reach one consumer and miss another.

A bad value fails with one line naming the variable and what was wrong, and never echoes a
secret (passwords in URLs are masked, tokens are not shown at all).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

DEFAULT_HOME = ".mailtrail"
DEFAULT_FROM = "Mailtrail <hello@mail.example.com>"
SENDER_KINDS = ("ses", "smtp", "outbox", "simulator")

# Settings whose value must never appear in a message, a log line or the Dagster UI.
# (A Slack incoming-webhook URL is a credential: whoever has it can post to the channel.)
SECRET_FIELDS = frozenset(
    {"emailit_api_key", "tracker_api_token", "smtp_password", "alert_webhook_url"}
)


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names the variable and what was wrong."""


def half_the_cores() -> int:
    """The default number of load streams. One stream keeps two processes busy, the loader
    parsing and its PostgreSQL backend writing, so a second stream on two cores only makes four
    processes share them: on an idle 2-core machine one stream loaded at 1.03-1.10x a bare
    ``COPY``, two at 0.89-0.99x, in the same rounds (decision 65)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 2) // 2)


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages; never for connecting)."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)[1]
        user = parts.username or ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))
    except ValueError:
        return "<unparseable URL>"


class Settings(BaseModel):
    """Every setting of Mailtrail; the alias of each field is its environment variable."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    home: Path = Field(
        default=Path(DEFAULT_HOME),
        alias="MAILTRAIL_HOME",
        description="Working folder for embedded state (pg/, dagster/, landing/, logs/, outbox/).",
    )
    database_url: str | None = Field(
        default=None,
        alias="MAILTRAIL_DATABASE_URL",
        description="PostgreSQL for the warehouse and Dagster's storage; unset: embedded server.",
    )
    landing_url: str | None = Field(
        default=None,
        alias="MAILTRAIL_LANDING_URL",
        description="Where provider files land: a folder or s3://bucket/prefix.",
    )
    aws_endpoint_url: str | None = Field(
        default=None, alias="AWS_ENDPOINT_URL", description="S3/SES/SQS endpoint override."
    )
    ses_queue_url: str | None = Field(
        default=None,
        alias="MAILTRAIL_SES_QUEUE_URL",
        description="SQS queue receiving SES events through SNS; unset: ses_sqs_sensor skips.",
    )
    emailit_api_key: str | None = Field(default=None, alias="EMAILIT_API_KEY")
    emailit_base_url: str | None = Field(default=None, alias="EMAILIT_BASE_URL")
    tracker_base_url: str | None = Field(default=None, alias="TRACKER_BASE_URL")
    tracker_api_token: str | None = Field(default=None, alias="TRACKER_API_TOKEN")
    sender: Literal["ses", "smtp", "outbox", "simulator"] = Field(
        default="simulator", alias="MAILTRAIL_SENDER"
    )
    sender_address: str = Field(default=DEFAULT_FROM, alias="MAILTRAIL_SENDER_ADDRESS")
    send_concurrency: int = Field(default=4, ge=1, le=256, alias="MAILTRAIL_SEND_CONCURRENCY")
    max_send_rate: float | None = Field(default=None, gt=0, alias="MAILTRAIL_MAX_SEND_RATE")
    ses_configuration_set: str | None = Field(default=None, alias="MAILTRAIL_SES_CONFIGURATION_SET")
    smtp_host: str = Field(default="localhost", alias="MAILTRAIL_SMTP_HOST")
    smtp_port: int = Field(default=25, ge=1, le=65535, alias="MAILTRAIL_SMTP_PORT")
    smtp_username: str | None = Field(default=None, alias="MAILTRAIL_SMTP_USERNAME")
    smtp_password: str | None = Field(default=None, alias="MAILTRAIL_SMTP_PASSWORD")
    smtp_starttls: bool = Field(default=False, alias="MAILTRAIL_SMTP_STARTTLS")
    outbox_dir: Path | None = Field(default=None, alias="MAILTRAIL_OUTBOX_DIR")
    simulator_seed: int = Field(default=7, alias="MAILTRAIL_SIMULATOR_SEED")
    hash_recipients: bool = Field(
        default=False,
        alias="MAILTRAIL_HASH_RECIPIENTS",
        description="Pseudonymise recipients in what the BI role reads (dbt var hash_recipients).",
    )
    alert_webhook_url: str | None = Field(
        default=None,
        alias="MAILTRAIL_ALERT_WEBHOOK_URL",
        description="HTTP endpoint (e.g. a Slack incoming webhook) POSTed a JSON message per"
        " failed run; unset: run_failure_alert_sensor skips.",
    )
    preview_url: str | None = Field(
        default=None,
        alias="MAILTRAIL_PREVIEW_URL",
        description="Base URL `mailtrail preview` serves on (e.g. http://127.0.0.1:8025), for"
        " get_preview_shoot_url's links; unset: no links.",
    )
    ui_url: str | None = Field(
        default=None,
        alias="MAILTRAIL_UI_URL",
        description="Base URL of the Dagster UI, for a link to the run in alerts.",
    )
    geoip_database: Path | None = Field(
        default=None,
        alias="MAILTRAIL_GEOIP_DATABASE",
        description="MaxMind-format (.mmdb) City or Country database locating open and click IP"
        " addresses; unset: geolocation only where the open tracker gives it.",
    )
    load_streams: int = Field(
        default_factory=half_the_cores,
        ge=1,
        le=64,
        alias="MAILTRAIL_LOAD_STREAMS",
        description="Landing objects loaded at once by one ingestion step, each on its own"
        " connection (one COPY stream per PostgreSQL backend); unset: half this machine's cores,"
        " at least one.",
    )
    executor: Literal["in_process", "multiprocess", "celery"] = Field(
        default="in_process",
        alias="MAILTRAIL_EXECUTOR",
        description="Where a run's steps execute: in the run's process, in subprocesses, or on"
        " Celery workers (dagster-celery).",
    )
    celery_broker_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        alias="MAILTRAIL_CELERY_BROKER_URL",
        description="The Celery broker (Redis or RabbitMQ) when MAILTRAIL_EXECUTOR=celery.",
    )
    campaign_modules: tuple[str, ...] = Field(
        default=(),
        alias="MAILTRAIL_CAMPAIGNS",
        description="Comma-separated Python modules that register campaigns when imported.",
    )

    @field_validator("sender", "executor", mode="before")
    @classmethod
    def _normalise_sender(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("campaign_modules", mode="before")
    @classmethod
    def _split_modules(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError(f"must be a postgresql:// URL, got {mask_url(value)!r}")
        return value

    @field_validator("celery_broker_url")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "amqp://", "amqps://", "pyamqp://")):
            raise ValueError(f"must be a redis:// or amqp:// URL, got {mask_url(value)!r}")
        return value

    @field_validator("alert_webhook_url", "ui_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        # The value is not echoed: the webhook URL is a secret.
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("landing_url")
    @classmethod
    def _landing_url(cls, value: str | None) -> str | None:
        if value and "://" in value and not value.startswith(("s3://", "file://")):
            raise ValueError(f"must be a folder or an s3://bucket/prefix URL, got {value!r}")
        return value.removeprefix("file://") if value else value

    @model_validator(mode="after")
    def _locations_under_home(self) -> Settings:
        """Defaults that live under ``home`` are filled in once, here (the only place)."""
        home = self.home.expanduser().resolve()
        object.__setattr__(self, "home", home)
        if not self.landing_url:
            object.__setattr__(self, "landing_url", str(home / "landing"))
        if self.outbox_dir is None:
            object.__setattr__(self, "outbox_dir", home / "outbox")
        return self

    # -- derived locations ------------------------------------------------------------------

    @property
    def home_dir(self) -> Path:
        return self.home

    @property
    def pg_dir(self) -> Path:
        return self.home / "pg"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def landing(self) -> str:
        """The landing location: the configured one, else ``<home>/landing``."""
        assert self.landing_url is not None
        return self.landing_url

    @property
    def outbox(self) -> Path:
        assert self.outbox_dir is not None
        return self.outbox_dir.expanduser()

    @property
    def drafts_dir(self) -> Path:
        return self.home / "drafts"

    @property
    def emailit_configured(self) -> bool:
        return bool(self.emailit_base_url and self.emailit_api_key)

    @property
    def tracker_configured(self) -> bool:
        return bool(self.tracker_base_url and self.tracker_api_token)

    @classmethod
    def env_name(cls, field: str) -> str:
        """The environment variable of ``field`` (its alias)."""
        alias = cls.model_fields[field].alias
        assert alias is not None
        return alias

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Environment variable -> field name, for every setting."""
        return {cls.env_name(name): name for name in cls.model_fields}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting; an empty variable counts as unset."""
    env = os.environ if environ is None else environ
    values = {name: env[name] for name in Settings.variables() if env.get(name, "").strip()}
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(_first_error(exc)) from None


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    variable = str(error["loc"][0]) if error["loc"] else "configuration"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "literal_error" and variable == Settings.env_name("sender"):
        message = f"must be one of {', '.join(SENDER_KINDS)}"
    value = error.get("input")
    # A secret's value is never shown; a URL's password is masked by its own validator.
    shown = Settings.variables().get(variable) not in SECRET_FIELDS and isinstance(value, str)
    if shown and "got " not in message:
        message = f"{message}, got {value!r}"
    return f"{variable} {message}" if message.startswith("must") else f"{variable}: {message}"


def process_environment() -> Mapping[str, str]:
    """The process environment, read-only (for code that hands it to a child process)."""
    return os.environ


def export_environment(values: Mapping[str, str]) -> None:
    """Make resolved settings visible to this process's children (Dagster's code server, run
    workers, dbt): the one place Mailtrail writes the environment."""
    os.environ.update(values)


def prepend_path(directory: str) -> None:
    """Put ``directory`` first on PATH (as an activated virtualenv would)."""
    os.environ["PATH"] = os.pathsep.join([directory, os.environ.get("PATH", "")])


def add_warning_filters(filters: Sequence[str]) -> None:
    """Add ``filters`` (``action:message:category`` each) to PYTHONWARNINGS, which this process's
    children inherit (``mailtrail dev`` quiets the start-up warnings of Dagster's processes)."""
    current = [f for f in os.environ.get("PYTHONWARNINGS", "").split(",") if f]
    os.environ["PYTHONWARNINGS"] = ",".join([*current, *(f for f in filters if f not in current)])
