"""The shared cache's hot path for signed calls: one Redis round trip per step, one client per process.

Django's RedisCache builds a client per operation and its incr() is two round trips (EXISTS, INCRBY); a signed
call made at every hospital visit pays that several times. With Redis as the default cache, these helpers send
the same commands pipelined on a client kept per process (redis-py's pool is thread-safe and reset after a fork);
with any other backend (locmem in tests and the demo) they use the cache API. Keys are made by the cache, so
both paths see the same entries.
"""

from __future__ import annotations

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

_clients: dict = {}


def redis_client():
    """The default cache's Redis client (one per process and server), or None when the cache is not Redis."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    server = backend._servers[0]
    client = _clients.get(server)
    if client is None:
        client = _clients[server] = backend._cache.get_client(write=True)
    return client


def add_and_get(add_key: str, add_timeout: int, get_key: str):
    """cache.add(add_key, 1, add_timeout) and cache.get(get_key) in one round trip: (added, value)."""
    client = redis_client()
    if client is None:
        return cache.add(add_key, 1, timeout=add_timeout), cache.get(get_key)
    pipe = client.pipeline(transaction=False)
    pipe.set(cache.make_and_validate_key(add_key), 1, ex=add_timeout, nx=True)
    pipe.get(cache.make_and_validate_key(get_key))
    added, value = pipe.execute()
    return bool(added), _loads(value)


def count_hit(key: str, timeout: int) -> int:
    """Add one to the counter `key` (created with `timeout` when absent) and return it, in one round trip."""
    client = redis_client()
    if client is None:
        try:
            return cache.incr(key)
        except ValueError:  # absent (or just expired): create it; another process may win
            return 1 if cache.add(key, 1, timeout=timeout) else cache.incr(key)
    full = cache.make_and_validate_key(key)
    pipe = client.pipeline(transaction=True)  # MULTI: the counter never exists without its expiry
    pipe.set(full, 0, ex=timeout, nx=True)
    pipe.incr(full)
    return pipe.execute()[1]


def _loads(value):
    if value is None:
        return None
    return caches["default"]._cache._serializer.loads(value)
