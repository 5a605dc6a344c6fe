"""Per-institution rate limits for the signed interfaces: a fixed window counted in the shared cache (Redis in
production, so every web process counts together); over the limit -> 429 with Retry-After."""

from __future__ import annotations

import time

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from institutions.api.sharedcache import count_hit

DEFAULT_RATE = "1200/min"
PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


def parse_rate(rate: str) -> tuple[int, int]:
    """'600/min' -> (600, 60)."""
    count, _sep, period = rate.partition("/")
    return int(count), PERIODS[period.strip().lower()]


def rate_for(institution_code: str, scope: str = "default") -> str:
    """HC_HOSPITAL_RATE_LIMITS = {"default": "1200/min", "<institution code>": "6000/min", "selfquery": ...}."""
    limits = getattr(settings, "HC_HOSPITAL_RATE_LIMITS", {}) or {}
    own = limits.get(f"{institution_code}:{scope}")
    if own is None and scope == "default":
        own = limits.get(institution_code)
    return own or limits.get(scope) or limits.get("default") or DEFAULT_RATE


def window_hit(bucket: str, rate: str) -> float:
    """Count one hit in the bucket's current window; 0 when allowed, else the seconds until the next window."""
    limit, period = parse_rate(rate)
    now = time.time()
    window = int(now // period)
    key = f"hc-rate:{bucket}:{period}:{window}"
    count = count_hit(key, period + 1)  # one round trip on Redis
    if count <= limit:
        return 0
    return max((window + 1) * period - now, 1)


class InstitutionRateThrottle(BaseThrottle):
    """One bucket per institution (all its keys together)."""

    scope = "default"

    def allow_request(self, request, view) -> bool:
        principal = request.user
        institution = getattr(principal, "institution", None)
        if institution is None:
            return True  # unsigned calls are refused by the permission anyway
        self._wait = window_hit(
            f"inst:{institution.code}:{self.scope}", rate_for(institution.code, self.scope)
        )
        return not self._wait

    def wait(self):
        return self._wait
