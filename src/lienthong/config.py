"""One typed settings object, built once by the entry point and passed in.

Nothing reads the environment at import time: `Settings()` is called by the CLI or the app
factory, and tests build their own.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIENTHONG_", env_file=None, extra="ignore")

    # Embedded default: a SQLite file under ./var/. Production: postgresql+psycopg://…
    database_url: str = "sqlite:///var/lienthong.db"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    var_dir: Path = Path("var")

    # The agency this node serves as its home (its root in the registry) and the node's code.
    node_agency_code: str = "000.00.00.H49"
    node_code: str = "H49"
    base_url: str = ""

    # Document axis
    blob_dir: Path = Path("var/blobs")
    key_dir: Path = Path("var/keys")
    max_package_bytes: int = Field(default=512 * 1024 * 1024, ge=1024)
    signature_required: bool = True
    allow_sha1: bool = False
    vdxp_prefix: str = "/vdxp"
    log_checkpoint_minutes: int = Field(default=10, ge=1)
    # Group commit of intake: packages that arrive together (up to this many, or within this
    # long of the first) are stored in one transaction. 1 stores each on its own.
    intake_batch_max: int = Field(default=64, ge=1, le=1000)
    intake_batch_wait_ms: float = Field(default=2.0, ge=0, le=100)
    # The blob collector: every few hours; spares anything written or claimed within the grace.
    blob_gc_every_hours: float = Field(default=6.0, gt=0)
    blob_gc_grace_minutes: float = Field(default=60.0, ge=1)

    # Federation: node-to-node transport, store-and-forward, directory sync
    peer_timeout_seconds: float = Field(default=30.0, gt=0)  # a silent peer, per read
    peer_connect_timeout_seconds: float = Field(default=3.0, gt=0)
    peer_retry_base_seconds: float = Field(default=2.0, gt=0)  # doubles per failure …
    peer_retry_max_seconds: float = Field(default=300.0, gt=0)  # … up to this
    forward_batch: int = Field(default=100, ge=1)
    # Packages in flight per peer at once; packages about one document still leave one by one.
    forward_window: int = Field(default=8, ge=1, le=64)
    forward_lease_seconds: float = Field(default=90.0, gt=0)  # > peer timeouts
    forward_poll_seconds: float = Field(default=0.5, gt=0)
    directory_sync_seconds: float = Field(default=300.0, gt=0)
    federation_max_skew_seconds: int = Field(default=300, ge=1)

    # One-stop services
    onestop_extra_days_off: list[str] = Field(default_factory=list)  # ISO dates decided each year
    onestop_make_up_days: list[str] = Field(default_factory=list)
    onestop_max_file_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    onestop_lookup_per_minute: int = Field(default=30, ge=1)

    # Rate limits and throttling: "" keeps the counts in the node's database (a side file next
    # to an SQLite database), "redis://host:6379/0" in Redis, "memory://" in the process only.
    rate_limit_url: str = ""
    # Failed sign-ins allowed per account and per client address in a window, then a lockout
    # until the window lets them through; HTTP Basic failures per software id and per address.
    signin_account_limit: str = "10/15 minutes"
    signin_address_limit: str = "30/15 minutes"
    basic_failure_limit: str = "60/15 minutes"
    # Proxies whose X-Forwarded-For is believed (addresses or CIDR blocks); others are the client.
    trusted_proxies: list[str] = Field(default_factory=list)

    # Notifications: e-mail through SMTP (none when smtp_host is empty), webhooks, SMS records
    smtp_host: str = ""
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_sender: str = "lienthong@localhost"
    smtp_starttls: bool = False
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_secret: str = ""
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    sms_outbox: Path = Path("var/sms-outbox.jsonl")

    # Security monitoring: syslog listeners (port 0: off), the intake buffer, rules, alerts
    security_listen_host: str = "127.0.0.1"
    security_syslog_udp_port: int = Field(default=0, ge=0, le=65535)
    security_syslog_tcp_port: int = Field(default=0, ge=0, le=65535)
    security_access_logs: list[str] = Field(default_factory=list)  # files followed, combined format
    security_eve_logs: list[str] = Field(default_factory=list)  # Suricata eve.json files followed
    security_buffer_events: int = Field(default=50_000, ge=100)
    security_batch_events: int = Field(default=2_000, ge=1)
    security_batch_wait_ms: float = Field(default=200.0, ge=1)
    security_source_per_second: float = Field(default=20_000.0, gt=0)
    security_max_line_bytes: int = Field(default=16_384, ge=256)
    security_rules_dir: Path | None = None  # the operator's own rules, beside the shipped pack
    security_alert_window_minutes: int = Field(default=15, ge=1)  # repeats join one alert
    security_retention_days: int = Field(default=30, ge=1)
    security_alert_emails: list[str] = Field(default_factory=list)
    security_alert_webhooks: list[str] = Field(default_factory=list)

    # Pages
    default_language: str = "vi"
    timezone: str = "Asia/Ho_Chi_Minh"
    session_hours: int = Field(default=12, ge=1)
    secure_cookies: bool = False

    # Limits
    max_concurrent_uploads: int = Field(default=64, ge=1)  # per process; more answer 503
    upload_deadline_seconds: float = Field(default=600.0, gt=0)  # to receive a whole body
    max_import_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    page_size_max: int = Field(default=200, ge=10)

    # Worker
    worker_poll_seconds: float = Field(default=1.0, gt=0)
    job_max_attempts: int = Field(default=8, ge=1)
    job_backoff_seconds: float = Field(default=2.0, gt=0)

    log_json: bool = True
    log_level: str = "INFO"

    @property
    def public_url(self) -> str:
        return self.base_url.rstrip("/") or f"http://{self.host}:{self.port}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
