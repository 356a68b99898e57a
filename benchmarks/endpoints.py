"""What `make bench` measures. Add an endpoint by appending to ENDPOINTS."""

from __future__ import annotations

from dataclasses import dataclass

BASELINE = "healthz"


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    # Bearer token kind made by benchmarks.setup_data (a key of its TOKEN_KINDS), or None.
    auth: str | None = None
    # Minimum req/s as a fraction of the baseline's req/s in the same round; None: report only.
    target_ratio: float | None = None
    headers: tuple[tuple[str, str], ...] = ()


ENDPOINTS: list[Endpoint] = [
    Endpoint(BASELINE, "/healthz"),
    Endpoint("me", "/api/me", auth="patient", target_ratio=0.35),
    # The patient's own record: decrypted, with its audit event.
    Endpoint("record", "/api/patients/me", auth="patient", target_ratio=0.30),
    # A physician's review queue, one page of 20, each row audited (one INSERT).
    Endpoint("queue", "/api/review/intakes?page_size=20", auth="physician", target_ratio=0.15),
]
