"""The shared cache's one-round-trip helpers behave like the cache API, on Redis too (when one is configured)."""

import os

import pytest
from django.core.cache import cache
from django.test import override_settings

from institutions.api.sharedcache import add_and_get, claim, count_hit

BROKER = os.environ.get("CACHE_URL") or os.environ.get("CELERY_BROKER_URL", "")
BACKENDS = [pytest.param(None, id="locmem")]
if BROKER.startswith("redis://"):
    BACKENDS.append(pytest.param(BROKER, id="redis"))


@pytest.mark.parametrize("location", BACKENDS)
def test_add_and_get_and_count_hit(location):
    caches = (
        {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location}}
        if location
        else {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t"}}
    )
    with override_settings(CACHES=caches):
        cache.delete_many(["hc-test-n1", "hc-test-v", "hc-test-c"])
        cache.set("hc-test-v", 41, None)
        assert add_and_get("hc-test-n1", 5, "hc-test-v") == (True, 41)
        assert add_and_get("hc-test-n1", 5, "hc-test-v") == (
            False,
            41,
        )  # the second add of a nonce is refused
        assert cache.get("hc-test-n1") == 1  # visible through the cache API
        assert [count_hit("hc-test-c", 5) for _ in range(3)] == [1, 2, 3]
        assert cache.get("hc-test-c") == 3
        cache.delete_many(["hc-test-n1", "hc-test-v", "hc-test-c"])


@pytest.mark.parametrize("location", BACKENDS)
def test_claim_takes_the_nonce_reads_the_stamp_and_counts_fresh_calls_only(location):
    caches = (
        {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location}}
        if location
        else {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t"}}
    )
    keys = ["hc-test-n1", "hc-test-n2", "hc-test-v", "hc-test-c"]
    with override_settings(CACHES=caches):
        cache.delete_many(keys)
        assert claim("hc-test-n1", 5, "hc-test-v") == (True, None, 0)  # no counter asked for
        cache.set("hc-test-v", 41, None)
        assert claim("hc-test-n2", 5, "hc-test-v", "hc-test-c", 5) == (True, 41, 1)
        assert claim("hc-test-n2", 5, "hc-test-v", "hc-test-c", 5) == (False, 41, 0)  # a replay: not counted
        assert cache.get("hc-test-c") == 1  # the counter is the cache's own integer (incr works on it)
        assert cache.incr("hc-test-c") == 2
        assert cache.get("hc-test-n2") == 1
        if location:
            from institutions.api.sharedcache import redis_client

            ttl = redis_client().ttl(cache.make_and_validate_key("hc-test-c"))
            assert 0 < ttl <= 5  # the counter never lives without its expiry
        cache.delete_many(keys)
