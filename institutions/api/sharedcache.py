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
_scripts: dict = {}

# Claim a signed call's nonce, read the credentials' version stamp and, only when the nonce was fresh, count the
# call in its rate-limit window: one command, one round trip, atomic on the server.
# KEYS: nonce, version[, rate counter]; ARGV: nonce timeout, counter timeout.
CLAIM_SCRIPT = """
local fresh = redis.call('SET', KEYS[1], 1, 'EX', ARGV[1], 'NX')
local version = redis.call('GET', KEYS[2])
local count = 0
if fresh and KEYS[3] then
  count = redis.call('INCR', KEYS[3])
  if count == 1 then redis.call('EXPIRE', KEYS[3], ARGV[2]) end
end
return {fresh and 1 or 0, version, count}
"""


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


def claim(
    nonce_key: str,
    nonce_timeout: int,
    version_key: str,
    counter_key: str | None = None,
    counter_timeout: int = 0,
) -> tuple[bool, object, int]:
    """A signed call's shared-cache work in one round trip: (the nonce was fresh, the version stamp, the call's
    count in `counter_key` (0 when no counter, or the nonce was not fresh: a replay is not counted))."""
    client = redis_client()
    if client is None:
        fresh = cache.add(nonce_key, 1, timeout=nonce_timeout)
        count = count_hit(counter_key, counter_timeout) if fresh and counter_key else 0
        return fresh, cache.get(version_key), count
    script = _scripts.get(client)
    if script is None:
        script = _scripts[client] = client.register_script(CLAIM_SCRIPT)  # EVALSHA, loaded on first NOSCRIPT
    keys = [cache.make_and_validate_key(nonce_key), cache.make_and_validate_key(version_key)]
    if counter_key:
        keys.append(cache.make_and_validate_key(counter_key))
    fresh, version, count = script(keys=keys, args=[nonce_timeout, counter_timeout])
    return bool(fresh), _loads(version), count


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
