"""All of the gateway's settings in one object, read from ``FRAMEGATE_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.engine.webhooks.delivery import DEFAULT_SCHEDULE

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Passed into :func:`gateway.create_app`; nothing reads the environment anywhere else."""

    model_config = SettingsConfigDict(env_prefix="FRAMEGATE_", extra="ignore")

    data_dir: Path = Field(default=Path(".framegate"), description="SQLite file, artifacts, model cache")
    database_url: str | None = Field(default=None, description="default: SQLite in data_dir")
    models_dir: Path | None = Field(default=None, description="model cache; default: data_dir/models")
    config: Path | None = Field(default=None, description="optional TOML file: models, prices, backends")
    host: str = "127.0.0.1"
    port: int = 8000

    role: Literal["gateway", "worker"] = Field(
        default="gateway", description="worker: a node that runs jobs for an upstream gateway (no billing)"
    )
    workers: int = Field(default=1, ge=0, description="in-process job workers (0: API only)")
    worker_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="how far below the API the generation threads run (OS priority; Linux): the API "
        "keeps its latency while a model runs on the same cores (bench/tail.py); 0 shares equally",
    )
    lease_seconds: float = Field(default=30.0, gt=0)
    heartbeat_seconds: float = Field(default=5.0, gt=0)
    max_attempts: int = Field(default=3, ge=1, description="runs of one job before it fails for good")
    poll_seconds: float = Field(default=1.0, gt=0, description="how often idle workers look for new jobs")
    dispatch_window_seconds: float = Field(
        default=300.0,
        ge=0,
        description="a free worker may run a job for a model it holds ahead of older jobs that arrived "
        "at most this long before it (fewer model loads); 0 is strict FIFO",
    )
    poll_after_ms: int = Field(default=500, ge=50, description="the openai-poll-after-ms hint")
    max_loaded_models: int = Field(default=2, ge=1)
    gpu_memory_gb: float | None = Field(
        default=None, gt=0, description="residency budget per device (default: 90% of the GPU; none on a CPU)"
    )
    retries_per_backend: int = Field(default=3, ge=1, description="tries of one backend before falling back")
    retry_base_seconds: float = Field(default=0.5, ge=0, description="first back-off (exponential, jittered)")
    retry_max_seconds: float = Field(default=10.0, ge=0)
    generation_timeout_seconds: float = Field(
        default=900.0, gt=0, description="a call that takes longer hangs"
    )
    job_deadline_seconds: float = Field(default=3600.0, gt=0, description="retries and fallbacks stop here")
    device: str | None = None

    public_url: str | None = Field(default=None, description="where users reach this gateway (Stripe return)")
    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str | None = Field(default=None, description="default: Stripe's; tests use a local fake")
    ledger_verify_seconds: float = Field(default=600.0, ge=0, description="0 turns the periodic check off")

    rate_limit_per_minute: float = Field(default=0, ge=0, description="requests per key per minute; 0: off")
    rate_limit_burst: int | None = Field(
        default=None, ge=1, description="default: a tenth of a minute's worth"
    )
    redis_url: str | None = Field(default=None, description="share rate limits between gateway processes")
    artifacts_url: str | None = Field(
        default=None,
        description="s3://bucket/prefix: keep clips in an S3-compatible bucket (default: local disk)",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="an S3-compatible server (MinIO, Ceph, R2...)"
    )

    regeneration_guard: Literal["warn", "block", "off"] = Field(
        default="warn", description="an unchanged prompt regenerated on one model more than the limit"
    )
    regeneration_limit: int = Field(default=3, ge=1)
    capability_guard: Literal["warn", "block", "off"] = Field(
        default="warn",
        description="a request asking for what its model ignores (words outside its vocabulary, a size "
        "above its native one, a clip longer than it was trained on): warn, refuse, or say nothing",
    )

    max_body_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    max_prompt_chars: int = Field(default=4000, ge=1)
    max_image_pixels: int = Field(default=4096 * 4096, ge=1)
    qc_max_frames: int = Field(
        default=2000, ge=1, description="quality checks (POST /v1/qc, every take): longer clips are refused"
    )
    qc_max_pixels: int = Field(
        default=4096 * 2160,
        ge=1,
        description="quality checks: frames with more pixels are refused (default DCI 4K; UHD fits)",
    )
    batch_max: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="queued text-to-video jobs of one model with the same parameters but their seed run "
        "as one pipeline call, up to this many (each keeps its seed, progress, cancel and bill); "
        "default 4 on a CUDA device, 1 (off) on a CPU",
    )
    qc_settlement: Literal["hard_defects", "off"] = Field(
        default="hard_defects",
        description="pay for usable takes: a take with a hard defect is re-rendered once, free, and "
        "refunded if the re-render has one too (an account's own qc_settlement wins); "
        "off: every take is charged",
    )

    qc_concurrency: int = Field(
        default=1, ge=1, description="quality checks of uploads run at once per process; more get 429 qc_busy"
    )
    metrics_token: str | None = Field(
        default=None, description="if set, /metrics answers only 'Authorization: Bearer <token>'"
    )

    secret_key: str | None = Field(
        default=None,
        description="signs webhooks and content links; share it between gateway processes "
        "(default: a random key kept in data_dir/secret.key)",
    )
    outbound_allow_http: bool = Field(
        default=False, description="webhook targets and image URLs may be plain http (default: https only)"
    )
    outbound_allow_networks: list[str] = Field(
        default_factory=list,
        description="private networks webhook targets and image URLs may reach (CIDRs, e.g. 127.0.0.1/32)",
    )
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, description="per delivery attempt")
    webhook_concurrency: int = Field(default=8, ge=1, description="deliveries in flight per process")
    webhook_poll_seconds: float = Field(default=1.0, gt=0, description="how often the outbox is looked at")
    webhook_retry_schedule: list[float] = Field(
        default_factory=lambda: list(DEFAULT_SCHEDULE),
        description="seconds after each failed attempt before the next (8 attempts over ~24 h)",
    )
    wait_max_seconds: float = Field(default=60.0, gt=0, description="the longest 'Prefer: wait=N' honoured")
    image_url_timeout_seconds: float = Field(
        default=10.0, gt=0, description="fetching an input_reference URL"
    )
    content_link_seconds: int = Field(
        default=3600, ge=60, description="how long a signed content link ('url' on a video) stays valid"
    )
    retention_days: float | None = Field(
        default=None, gt=0, description="delete clips this long after they complete (default: keep)"
    )

    prompt_llm_url: str | None = Field(
        default=None,
        description="an OpenAI-compatible chat-completions API base (e.g. http://127.0.0.1:8000/v1) that "
        "writes prompt optimizations and shot-list drafts; unset: the built-in rules",
    )
    prompt_llm_model: str = Field(default="default", description="the model name sent to prompt_llm_url")
    prompt_llm_api_key: str | None = Field(default=None, description="sent as 'Authorization: Bearer'")
    prompt_llm_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="an answer slower than this falls back to the rules"
    )

    @field_validator("prompt_llm_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if not value or not value.strip():
            return None
        if not value.strip().lower().startswith(("http://", "https://")):
            raise ValueError("prompt_llm_url must be an http:// or https:// URL")
        return value.strip()

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'framegate.db').resolve()}"

    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"

    @property
    def resolved_models_dir(self) -> Path:
        return self.models_dir or self.data_dir / "models"
