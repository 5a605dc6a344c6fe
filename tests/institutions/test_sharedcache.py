"""The shared cache's one-round-trip helpers behave like the cache API, on Redis too (when one is configured)."""

import os

import pytest
from django.core.cache import cache
from django.test import override_settings

from institutions.api.sharedcache import add_and_get, claim, count_hit
from tests.integration.conftest import service_missing

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


def _redis_caches():
    if not BROKER.startswith("redis://"):
        service_missing("no Redis configured: set CACHE_URL or CELERY_BROKER_URL")
    return {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": BROKER}}


def test_the_claims_own_connection_recovers_from_a_flushed_script_and_a_closed_connection():
    from institutions.api.sharedcache import ClaimLine, redis_client

    with override_settings(CACHES=_redis_caches()):
        keys = ["hc-test-n1", "hc-test-n2", "hc-test-n3", "hc-test-v", "hc-test-c"]
        cache.delete_many(keys)
        line = ClaimLine.current()
        assert line is not None  # a plain redis:// URL: the claim's own socket
        assert claim("hc-test-n1", 5, "hc-test-v", "hc-test-c", 5) == (True, None, 1)
        redis_client().script_flush()  # NOSCRIPT next: the script is sent again
        assert claim("hc-test-n2", 5, "hc-test-v", "hc-test-c", 5) == (True, None, 2)
        host, port = line.sock.getsockname()[:2]
        redis_client().client_kill(f"{host}:{port}")  # Redis closes the kept connection (restart, timeout)
        assert claim("hc-test-n3", 5, "hc-test-v", "hc-test-c", 5) == (True, None, 3)
        assert claim("hc-test-n3", 5, "hc-test-v", "hc-test-c", 5) == (False, None, 0)
        assert ClaimLine.current() is line and cache.get("hc-test-c") == 3
        cache.delete_many(keys)


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded")  # the child only claims and exits
def test_the_claims_own_connection_is_not_shared_across_fork_or_threads():
    import threading

    from institutions.api.sharedcache import ClaimLine

    with override_settings(CACHES=_redis_caches()):
        cache.delete_many(["hc-test-n1", "hc-test-n2", "hc-test-n3"])
        assert claim("hc-test-n1", 5, "hc-test-v")[0]
        parents = ClaimLine.current()
        child = os.fork()
        if child == 0:  # a gunicorn worker forked from a process that had claimed already
            try:
                line = ClaimLine.current()
                ok = line is not parents and claim("hc-test-n2", 5, "hc-test-v")[0] and line.sock is not None
            finally:
                os._exit(0 if ok else 1)
        assert os.waitpid(child, 0)[1] == 0
        assert claim("hc-test-n1", 5, "hc-test-v")[0] is False  # the parent's socket is still in step
        seen = []
        thread = threading.Thread(
            target=lambda: seen.append((ClaimLine.current(), claim("hc-test-n3", 5, "x")))
        )
        thread.start()
        thread.join()
        assert seen[0][0] is not parents and seen[0][1][0] is True
        cache.delete_many(["hc-test-n1", "hc-test-n2", "hc-test-n3"])


def test_the_claim_takes_redis_pys_client_where_its_own_connection_does_not_speak_the_url():
    from institutions.api.sharedcache import _address

    assert _address("redis://127.0.0.1:6379/4", {"parser_class": object}) == {
        "host": "127.0.0.1",
        "port": 6379,
        "db": 4,
    }
    assert _address("unix:///run/redis.sock?db=2", {})["path"] == "/run/redis.sock"
    assert _address("rediss://cache.example:6380/0", {}) is None  # TLS
    assert _address("redis://127.0.0.1:6379/4", {"socket_timeout": 2}) is None  # options of its own
