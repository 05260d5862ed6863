"""Settings from ``TRACEWATCH_*`` environment variables or a YAML file (docs/architecture.md).

Secrets are ``SecretStr``: they print as ``**********`` and are never logged or echoed.

>>> s = Settings(_env_file=None, broker="kafka://k:9092", api_token="hunter2")
>>> s.broker, str(s.api_token), s.web_port
('kafka://k:9092', '**********', 6066)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from yamlconf import YamlSyntaxError, load, message

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRACEWATCH_", extra="forbid")

    broker: str | None = None
    web_port: int = 6066
    web_host: str = "127.0.0.1"
    api_token: SecretStr | None = None
    api_url: str | None = None  # where the CLI finds the API; default http://127.0.0.1:<web_port>
    public_url: str | None = None  # where people open the console (links in pages and Slack); default api_url
    console_public: bool = False  # true: the console's read-only views open without the API token

    pagerduty_routing_key: SecretStr | None = None
    pagerduty_events_url: str = "https://events.pagerduty.com"
    slack_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_signing_secret: SecretStr | None = None
    slack_channel: str = "#incidents"
    ca_bundle: Path | None = None
    webhook_secrets: dict[str, SecretStr] = {}  # header values for `webhook` steps, by name
    # A page, Slack post or webhook that fails with a retryable error is retried (backoff with jitter,
    # honouring Retry-After, at most delivery_max_backoff_s apart) until this long after its first attempt.
    delivery_deadline_s: float = Field(6 * 3600.0, gt=0)
    delivery_max_backoff_s: float = Field(300.0, gt=0)

    detectors: Path | None = None  # None: the shipped detectors/config.yaml
    runbooks: Path = PACKAGE_ROOT / "runbooks" / "library"
    prices: Path | None = None  # None: the shipped traces/prices.yaml

    data_dir: Path = Path(".tracewatch")
    # `tracewatch up` keeps the embedded broker's topics and positions here (docs/durability.md);
    # None: $XDG_DATA_HOME/tracewatch/state, else ~/.local/share/tracewatch/state.
    state_dir: Path | None = None
    # The journal stores what it read at least this often; a SIGKILL of the broker loses at most the
    # records acknowledged in this window plus the journal's lag (docs/durability.md).
    journal_flush_interval_s: float = Field(0.1, gt=0, le=1.0)
    journal_offsets_interval_s: float = Field(1.0, gt=0)  # how often consumer positions are snapshotted
    # Traffic topics (traces, OTLP, series, findings, dead letters) are kept this long in the state
    # directory; incidents and actions are kept whole, compacted topics keep the latest record per key.
    journal_retention_s: float = Field(86_400.0, gt=0)
    partitions: int = 4
    max_message_bytes: int = 1_048_576
    # An event dated more than this after its Kafka record's timestamp is dead-lettered (a bad clock).
    future_tolerance_s: float = Field(300.0, ge=0)
    otlp_topic: str = "tracewatch.otlp"  # the Collector's Kafka exporter defaults to "otlp_spans"
    otlp_encoding: Literal["auto", "otlp_proto", "otlp_json"] = "auto"
    session_timeout_s: float = 6.0  # how long a dead worker holds its partitions
    rebalance_timeout_s: float = 4.0
    stop_timeout_s: float = Field(30.0, gt=0)  # a stopping worker (SIGTERM/SIGINT) exits with status 1 after this long
    resolve_after_s: float = 300.0  # an incident resolves after this long without findings (event time)
    reopen_within_s: float = 900.0  # a finding this soon after an auto-resolve reopens the incident
    flush_interval_s: float = 0.2  # how often pre-aggregated series summaries are sent on

    @property
    def web_url(self) -> str:
        return self.api_url or f"http://127.0.0.1:{self.web_port}"

    @property
    def console_url(self) -> str:
        return (self.public_url or self.web_url).rstrip("/")


def load_settings(config_file: str | os.PathLike[str] | None = None) -> Settings:
    """Environment wins over the YAML file, which wins over the defaults."""
    from_file: dict = {}
    path = config_file or os.environ.get("TRACEWATCH_CONFIG")
    if path:
        with open(path, encoding="utf-8") as fh:
            try:
                from_file = load(fh.read()) or {}  # aliases bounded: no alias bomb, no recursive alias
            except YamlSyntaxError as exc:
                raise ValueError(f"{path}:{exc.line}: " + message("yaml", problem=exc.problem)) from None
        if not isinstance(from_file, dict):
            raise ValueError(f"{path}: expected a mapping of settings")
    env_names = {k[len("TRACEWATCH_"):].lower() for k in os.environ if k.startswith("TRACEWATCH_")}
    return Settings(**{k: v for k, v in from_file.items() if k not in env_names})
