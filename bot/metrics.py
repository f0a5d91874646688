"""Prometheus metrics, one registry per Application (so tests and several apps never collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.hellos = Counter(
            "komorebi_hellos", "Hellos by outcome (sent, skipped, blocked, deferred)", ["outcome"], registry=self.registry
        )
        for outcome in ("sent", "skipped", "blocked", "deferred"):
            self.hellos.labels(outcome)  # every outcome shows from the start, at 0
        self.checkins = Counter("komorebi_checkins", "Days counted as showing up", registry=self.registry)
        self.telegram_errors = Counter(
            "komorebi_telegram_errors", "Errors from the Bot API, by kind", ["kind"], registry=self.registry
        )
        self.tick_lag = Gauge(
            "komorebi_tick_lag_seconds", "How late the oldest hello of the last batch was", registry=self.registry
        )
        self.last_tick = Gauge(
            "komorebi_last_tick_timestamp_seconds", "When the tick last finished (Unix time)", registry=self.registry
        )
        self.batch_size = Histogram(
            "komorebi_claim_batch_size",
            "Rows claimed per batch",
            buckets=(1, 5, 10, 25, 50, 100),
            registry=self.registry,
        )
        self.duplicate_updates = Counter(
            "komorebi_duplicate_updates", "Retried webhook deliveries dropped", registry=self.registry
        )

        self.last_tick_at = 0.0  # Unix time of the tick's last sign of life, for /healthz

    def tick_progressed(self, at: float) -> None:
        """A batch went through: a long send is busy, not late."""
        self.last_tick_at = at

    def tick_finished(self, at: float) -> None:
        self.last_tick_at = at
        self.last_tick.set(at)

    def render(self) -> bytes:
        return generate_latest(self.registry)
