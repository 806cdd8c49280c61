"""Effective settings: defaults < config file (TOML) < .env < environment variables (RPA_*).

An invalid value stops start-up with a message that names the setting and what it accepts.
"""

from __future__ import annotations

import difflib
import os
from datetime import date
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from robots.config import ROOT, resolve

ENV_PREFIX = "RPA_"


def config_file() -> Path:
    return resolve(os.environ.get("RPA_CONFIG_FILE", "config/settings.toml"))


class SettingsError(Exception):
    """A setting has a value the program cannot use; the message says which and why."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=ROOT / ".env",
        env_nested_delimiter="__",
        extra="forbid",
    )

    database_url: str = Field(
        default="", description="SQLAlchemy URL. Empty: an SQLite file in data_dir (rpa.db)."
    )
    data_dir: Path = Field(default=Path("var"), description="Run logs, artifacts, the SQLite file.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Level of the process log (stderr and log_file)."
    )
    log_stderr: bool = Field(default=True, description="Write the process log to stderr.")
    log_file: str = Field(default="", description="Also write the process log to this file.")
    run_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Lowest level stored in the run log (database and JSONL)."
    )
    timezone: str = Field(default="Europe/Oslo", description="Time zone of schedules and display.")

    lease_seconds: float = Field(default=60, gt=0, description="Lease length of a claimed item.")
    heartbeat_seconds: float = Field(default=10, gt=0, description="Lease renewal interval.")
    poll_seconds: float = Field(default=0.5, gt=0, description="Idle wait between claim attempts.")
    listen: bool = Field(
        default=True,
        description="On PostgreSQL, idle workers LISTEN for new items instead of only polling.",
    )
    listen_url: str | None = Field(
        default=None,
        description="Database address for LISTEN when database_url goes through a transaction "
        "pooler (PgBouncer); default database_url.",
    )
    wake_poll_seconds: float = Field(
        default=5,
        gt=0,
        description="Idle wait between claim attempts while LISTEN works (finds items that "
        "become due by time alone).",
    )
    reclaim_interval_seconds: float = Field(
        default=1, ge=0, description="How often a worker scans for expired leases."
    )
    max_abandons: int = Field(default=3, ge=1, description="Lost workers before an item is poison.")
    default_max_attempts: int = Field(default=3, ge=1)
    backoff_base_seconds: float = Field(default=5, ge=0)
    backoff_max_seconds: float = Field(default=600, ge=0)
    breaker_threshold: int = Field(
        default=3,
        ge=1,
        description="Items of a system that fail in a row because it cannot be reached "
        "(connection refused, DNS, timeout, HTTP 502/503/504) before its circuit breaker opens.",
    )
    probe_base_seconds: float = Field(
        default=5, ge=0.1, description="First wait before probing a system whose breaker is open."
    )
    probe_max_seconds: float = Field(
        default=300, ge=1, description="Longest wait between two probes (doubling from the base)."
    )
    unreachable_free_runs: int = Field(
        default=20,
        ge=1,
        description="Runs of one item that may end 'cannot reach' without spending an attempt; "
        "after that such a failure counts as a system error (an item that alone keeps failing).",
    )
    shutdown_grace_seconds: float = Field(
        default=30,
        ge=0,
        description="On SIGTERM, how long the current item may run before release.",
    )
    worker_processes: int = Field(default=2, ge=1, le=64)
    worker_concurrency: int = Field(
        default=1,
        ge=1,
        le=16,
        description="Items a worker process runs at once, each in its own browser context on "
        "the process's one Chromium (bench/slots.py measures what suits a machine).",
    )

    task_packages: list[str] = Field(
        default_factory=lambda: ["tasks"], description="Python packages the tasks are found in."
    )
    task_roles: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Who may start a task by hand, per task (overrides the task's own roles).",
    )
    question_teams: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Members (console usernames) of each team a robot's question can be "
        "addressed to (ctx.ask(to=...)); a role's name is a team only when listed here.",
    )
    system_limits: dict[str, int] = Field(
        default_factory=dict, description="Max concurrent robot sessions per system."
    )
    schedules_file: Path = Field(default=Path("config/schedules.yaml"))
    config_dir: Path = Field(
        default=Path("config"), description="The flows' YAML files and templates."
    )
    selectors_dir: Path = Field(
        default=Path("selectors"), description="The object repository: one YAML per system."
    )
    closed_days: list[str] = Field(
        default_factory=list,
        description="Extra non-working days as MM-DD (e.g. 12-24 when the municipality closes).",
    )
    scheduler_sync_seconds: float = Field(default=15, gt=0)
    scheduler_lock_retry_seconds: float = Field(default=5, gt=0)

    browser_path: str = Field(
        default="", description="Chromium to launch; empty: Playwright's own, else the system's."
    )
    system_urls: dict[str, str] = Field(
        default_factory=dict, description="Base URL per system, overriding selectors/<system>.yaml."
    )
    credentials_file: str = Field(
        default="", description="TOML file with [system] username/password; must be mode 0600."
    )
    artifacts_dir: str = Field(default="", description="Screenshots and traces; empty: data_dir.")
    trace: Literal["retain_on_failure", "on_first_retry", "off"] = Field(
        default="on_first_retry",
        description="Playwright trace: recorded for every attempt and kept on failure, or only "
        "for retries (Playwright Test's CI default: a first attempt runs at full speed), or off.",
    )
    headless: bool = Field(default=True, description="False shows the browser (debugging).")
    reuse_logins: bool = Field(
        default=True,
        description="A worker keeps each system's logged-in state in memory and logs in again "
        "only when the session has expired (false: a login per item).",
    )
    reuse_pages: bool = Field(
        default=True,
        description="A worker keeps each system's browser context and page for the next item "
        "(a failed item's are closed, so a retry starts fresh); false, or reuse_logins false: "
        "a new context per item.",
    )
    slow_mo_ms: int = Field(default=0, ge=0, description="Delay between browser actions.")

    sandbox_hr_port: int = Field(default=8101, ge=0, le=65535)
    sandbox_archive_port: int = Field(default=8102, ge=0, le=65535)
    sandbox_mail_port: int = Field(default=8103, ge=0, le=65535)
    sandbox_smtp_port: int = Field(default=8025, ge=0, le=65535)

    retention_days: int = Field(
        default=90, ge=1, description="Run events and artifacts older than this are purged."
    )
    smtp_host: str = Field(default="127.0.0.1", description="Mail server for reminders.")
    smtp_port: int = Field(default=8025, ge=1, le=65535)
    mail_from: str = Field(default="robot@kommune.example")

    console_secure_cookie: bool = Field(
        default=False,
        description="Mark the console's session cookie Secure (only sent over HTTPS). Set it "
        "whenever the console is reached over HTTPS, directly or behind a TLS proxy.",
    )
    console_trusted_proxies: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        description='Addresses (or networks, e.g. 10.0.0.0/24; "*" for any) of the reverse '
        "proxies whose X-Forwarded-Proto and X-Forwarded-For the console believes. A request "
        "that came over HTTPS, directly or through one of them, gets a Secure session cookie.",
    )
    audit_key: SecretStr = Field(
        default=SecretStr(""),
        description="HMAC key that signs the audit trail's checkpoints. Empty: a key file "
        "(audit.key, mode 0600) in data_dir; keep it away from the database's backups.",
    )
    personal_data_key: SecretStr = Field(
        default=SecretStr(""),
        description="Key that seals (encrypts) personal data in items' input and keys the "
        "hash that masked fødselsnumre show. Empty: a key file (personal.key, mode 0600) in "
        "data_dir; keep it away from the database's backups.",
    )
    fnr_mask_form: Literal["hash", "birth_date"] = Field(
        default="hash",
        description='How a fødselsnummer is shown: "hash", a short keyed hash (fnr#3f9a12) '
        'that tells two numbers apart and shows no birth date, or "birth_date" (010190*****).',
    )
    personal_data_roles: list[str] = Field(
        default_factory=list,
        description="Console roles that see an item's sealed input in clear (each look is "
        "audited). Empty: nobody; everybody sees it masked.",
    )
    audit_anchor_file: str = Field(
        default="",
        description="Append-only file of signed audit checkpoints. "
        "Empty: data_dir/audit-anchor.log.",
    )
    audit_anchor_url: SecretStr = Field(
        default=SecretStr(""),
        description="PostgreSQL database that keeps the signed audit checkpoints instead of the "
        "file (for several machines), reached with a role that may only INSERT and SELECT "
        "(`audit anchor-ddl`). Empty: the file audit_anchor_file.",
    )
    audit_syslog: str = Field(
        default="",
        description="Also send each audit checkpoint as an RFC 5424 message to the "
        "municipality's log collector: udp://host:port or tcp://host:port. Empty: none.",
    )
    worker_restart_limit: int = Field(
        default=5,
        ge=1,
        description="Worker restarts within the window before the supervisor "
        "pauses the workers and raises an alert (a crash loop).",
    )
    worker_restart_window_seconds: float = Field(default=120, gt=0)
    worker_crash_pause_seconds: float = Field(
        default=300,
        gt=0,
        description="After a crash loop, how long no worker runs (an operator acknowledging "
        "the alert ends the pause early).",
    )
    secret_key: SecretStr = Field(
        default=SecretStr(""), description="Signs console sessions. Empty: generated per data dir."
    )
    alerts_file: Path = Field(
        default=Path("config/alerts.yaml"), description="Alert rules and their channels."
    )
    alert_webhook_secret: SecretStr = Field(
        default=SecretStr(""),
        description="Signs alert webhooks (HMAC-SHA256 in X-RPA-Signature); share it with the "
        "receiver.",
    )
    oidc_issuer: str = Field(
        default="", description="OpenID Connect provider (e.g. Entra ID); empty: local users only."
    )
    oidc_client_id: str = Field(default="", description="The console's client id at the provider.")
    oidc_client_secret: SecretStr = Field(default=SecretStr(""), description="Its client secret.")
    oidc_roles_claim: str = Field(
        default="groups", description="The claim holding the user's groups or roles."
    )
    oidc_role_map: dict[str, str] = Field(
        default_factory=dict,
        description="Provider group or role -> console role (caseworker, operator, auditor, "
        "admin); a user whose groups map to no role is refused.",
    )
    oidc_scopes: str = Field(default="openid profile email", description="Scopes asked for.")
    console_url: str = Field(
        default="", description="The console's address as people reach it (links in e-mails)."
    )
    acknowledgement_link_days: int = Field(
        default=14,
        ge=0,
        description="A reminder's acknowledgement link works until this many days after the "
        "milestone's date (and once).",
    )
    acknowledgement_postpone_max_days: int = Field(
        default=28,
        ge=0,
        description="How far after the milestone's date a manager may postpone a reminder.",
    )
    otlp_endpoint: str = Field(
        default="", description="OpenTelemetry traces over OTLP/HTTP to this URL; empty: off."
    )
    otel_service_name: str = Field(default="kommune-rpa", description="service.name of the spans.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Oslo)") from exc
        return value

    @field_validator("system_limits")
    @classmethod
    def _positive_limits(cls, value: dict[str, int]) -> dict[str, int]:
        for system, limit in value.items():
            if limit < 1:
                raise ValueError(f"limit for {system!r} must be at least 1")
        return value

    @field_validator("console_trusted_proxies")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        import ipaddress

        for entry in value:
            if entry != "*":
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(f"{entry!r} is not an IP address or network") from None
        return value

    @field_validator("closed_days")
    @classmethod
    def _month_day(cls, value: list[str]) -> list[str]:
        for day in value:
            parts = day.split("-")
            if len(parts) != 2 or not all(p.isdigit() and len(p) == 2 for p in parts):
                raise ValueError(f"{day!r} is not MM-DD")
            try:
                date(2024, int(parts[0]), int(parts[1]))  # a leap year: 02-29 is a real day
            except ValueError:
                raise ValueError(f"{day!r} is not a day of the year (MM-DD)") from None
        return value

    @field_validator("audit_syslog")
    @classmethod
    def _syslog_address(cls, value: str) -> str:
        if value:
            from robots.anchor_syslog import parse_address

            parse_address(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value:
            return value
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            raise ValueError(
                "is not a database URL (e.g. sqlite:///var/rpa.db or "
                "postgresql://user@host:5432/rpa)"
            ) from None
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"database {backend!r} is not supported; use sqlite or postgresql")
        return value

    @model_validator(mode="after")
    def _heartbeat_within_lease(self) -> Settings:
        # A lease must survive a missed heartbeat or two (a slow database, a busy machine):
        # otherwise a working worker loses its item and the work is done twice.
        if self.heartbeat_seconds > self.lease_seconds / 3:
            raise ValueError(
                f"heartbeat_seconds ({self.heartbeat_seconds:g}) must be at most a third of "
                f"lease_seconds ({self.lease_seconds:g}), so a lease survives a late heartbeat"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file())
        return (init_settings, env_settings, dotenv_settings, toml)

    # Derived values -------------------------------------------------------------------------

    @property
    def data_path(self) -> Path:
        return self.data_dir if self.data_dir.is_absolute() else ROOT / self.data_dir

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_path / 'rpa.db'}"

    @property
    def artifacts_path(self) -> Path:
        if not self.artifacts_dir:
            return self.data_path / "artifacts"
        path = Path(self.artifacts_dir)
        return path if path.is_absolute() else ROOT / path

    @property
    def log_path(self) -> Path | None:
        if not self.log_file:
            return None
        path = Path(self.log_file)
        return path if path.is_absolute() else ROOT / path

    @property
    def schedules_path(self) -> Path:
        return resolve(self.schedules_file)

    @property
    def config_path(self) -> Path:
        return resolve(self.config_dir)

    @property
    def selectors_path(self) -> Path:
        return resolve(self.selectors_dir)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def shown(self) -> dict[str, Any]:
        """Effective settings for display: secrets and URL passwords hidden."""
        from robots.masking import mask_text

        values = self.model_dump()
        values["database_url"] = mask_text(self.effective_database_url)
        for key in (
            "secret_key",
            "audit_key",
            "audit_anchor_url",
            "alert_webhook_secret",
            "oidc_client_secret",
        ):
            values[key] = "***" if getattr(self, key).get_secret_value() else "(ikke satt)"
        return values


def _describe(error: ErrorDetails) -> str:
    if not error["loc"]:  # a rule across settings
        return str(error["msg"]).removeprefix("Value error, ")
    name = ENV_PREFIX + "__".join(str(p) for p in error["loc"]).upper()
    given = error.get("input")
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return f"{name}: ukjent innstilling{_closest(str(error['loc'][0]))}"
    if isinstance(given, str) and "database_url" in str(error["loc"]):
        from robots.masking import mask_text

        given = mask_text(given)
    return f"{name}={given!r}: {message}"


def _closest(name: str) -> str:
    match = difflib.get_close_matches(name.lower(), Settings.model_fields, n=1, cutoff=0.6)
    hint = f"; mente du {ENV_PREFIX}{match[0].upper()}?" if match else ""
    return hint + " (se `python runner.py config show`)"


def unknown_environment() -> list[str]:
    """RPA_* variables that name no setting (pydantic-settings ignores them silently), each
    with the closest valid name: a typo must not silently fall back to a default."""
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    extra = {"RPA_CONFIG_FILE", "RPA_DEBUG"}  # read outside the settings
    lines = []
    for variable in sorted(os.environ):
        if not variable.startswith(ENV_PREFIX) or variable.startswith(("RPA_TEST_", "RPA_CRED_")):
            continue  # test settings and credentials (robots.vault) are read elsewhere
        base = variable.split("__")[0]
        if base not in known and variable not in extra:
            lines.append(f"{variable}: ukjent innstilling{_closest(base[len(ENV_PREFIX) :])}")
    return lines


def load_settings(**overrides: Any) -> Settings:
    """Build settings or raise SettingsError naming each bad setting and what is allowed."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = "\n  ".join(_describe(e) for e in exc.errors())
        raise SettingsError(
            f"Ugyldig innstilling (miljøvariabel, .env eller {config_file()}):\n  {lines}"
        ) from None
    except ValueError as exc:  # e.g. a TOML syntax error in the config file
        raise SettingsError(f"Kan ikke lese innstillingsfilen {config_file()}: {exc}") from None


_current: Settings | None = None


def get_settings() -> Settings:
    """This process's settings: the ones given to `use_settings` (a spawned worker receives
    its parent's), else read once from the environment and the config file."""
    global _current
    if _current is None:
        _current = load_settings()
    return _current


def use_settings(settings: Settings | None) -> None:
    """Make `settings` this process's settings (None: read them again when next asked)."""
    global _current
    _current = settings
