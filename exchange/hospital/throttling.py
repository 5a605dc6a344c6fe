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


def window_key(bucket: str, rate: str, now: float) -> tuple[str, int]:
    """The counter of the bucket's current window and how long it must live."""
    _limit, period = parse_rate(rate)
    return f"hc-rate:{bucket}:{period}:{int(now // period)}", period + 1


def window_wait(count: int, rate: str, now: float) -> float:
    """0 when the count is within the limit, else the seconds until the next window."""
    limit, period = parse_rate(rate)
    if count <= limit:
        return 0
    return max((int(now // period) + 1) * period - now, 1)


def window_hit(bucket: str, rate: str) -> float:
    """Count one hit in the bucket's current window; 0 when allowed, else the seconds until the next window."""
    now = time.time()
    key, timeout = window_key(bucket, rate, now)
    return window_wait(count_hit(key, timeout), rate, now)  # one round trip on Redis


def institution_bucket(institution, scope: str = "default") -> tuple[str, str]:
    return f"inst:{institution.code}:{scope}", rate_for(institution.code, scope)


def partner_rate_counter(institution) -> tuple[str, int]:
    """The signature check counts a partner call in its institution's window in the nonce's round trip: a
    signed partner call costs one Redis round trip, not two (InstitutionRateThrottle reads the count)."""
    bucket, rate = institution_bucket(institution)
    return window_key(bucket, rate, time.time())


class InstitutionRateThrottle(BaseThrottle):
    """One bucket per institution (all its keys together)."""

    scope = "default"

    def allow_request(self, request, view) -> bool:
        principal = request.user
        institution = getattr(principal, "institution", None)
        if institution is None:
            return True  # unsigned calls are refused by the permission anyway
        bucket, rate = institution_bucket(institution, self.scope)
        now = time.time()
        key, timeout = window_key(bucket, rate, now)
        counted = getattr(principal, "counted", {})
        if key in counted:  # counted by the signature check a moment ago
            self._wait = window_wait(counted[key], rate, now)
        else:  # not counted yet (another authentication, or the window turned since): count it now
            self._wait = window_wait(count_hit(key, timeout), rate, now)
        return not self._wait

    def wait(self):
        return self._wait
