"""The shared cache's hot path for signed calls: one Redis round trip per step, one client per process.

Django's RedisCache builds a client per operation and its incr() is two round trips (EXISTS, INCRBY); a signed
call made at every hospital visit pays that several times. With Redis as the default cache, these helpers send
the same commands pipelined on a client kept per process (redis-py's pool is thread-safe and reset after a fork);
with any other backend (locmem in tests and the demo) they use the cache API. Keys are made by the cache, so
both paths see the same entries. The claim, made by every signed call, has a socket of its own (ClaimLine).
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading

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
CLAIM_SHA = hashlib.sha1(CLAIM_SCRIPT.encode()).hexdigest().encode()  # noqa: S324 (Redis names scripts so)


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
    *,
    meanwhile=None,
) -> tuple[bool, object, int]:
    """A signed call's shared-cache work in one round trip: (the nonce was fresh, the version stamp, the call's
    count in `counter_key` (0 when no counter, or the nonce was not fresh: a replay is not counted)).
    `meanwhile()`, when given, is called once the claim is on the wire and returns the step that finishes its own
    work, called once the claim's answer is in (the caller's other round trip overlaps this one); on the other
    paths it is not called."""
    client = redis_client()
    if client is None:
        fresh = cache.add(nonce_key, 1, timeout=nonce_timeout)
        count = count_hit(counter_key, counter_timeout) if fresh and counter_key else 0
        return fresh, cache.get(version_key), count
    line = ClaimLine.current()
    if line is not None:
        keys = [cache.make_key(nonce_key).encode(), cache.make_key(version_key).encode()]
        if counter_key:
            keys.append(cache.make_key(counter_key).encode())
        fresh, version, count = line.claim(
            keys, [b"%d" % nonce_timeout, b"%d" % counter_timeout], meanwhile=meanwhile
        )
        return bool(fresh), _loads(version), count
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


# --- The claim's own connection ----------------------------------------------------------------------------
# redis-py spends about 0.15 ms of CPU around each EVALSHA (its retry wrapper, the pool's get/release, its
# parser, connection health bookkeeping) against some 10 us for the bytes themselves; every signed call pays it.
# The claim's three-element answer needs a few lines of RESP, so it has a kept-open socket of its own; redis-py
# stays for everything else (and for the claim when the cache's URL or options are more than this speaks).
_lines = threading.local()
PLAIN_POOL_OPTIONS = {"parser_class", "driver_info", "lib_name"}  # what Django's RedisCache passes by itself


class ClaimLine:
    """A kept-open RESP2 connection for the claim: one per thread (gthread workers run several) and per process
    (a socket inherited across fork belongs to the parent: the child opens its own). Sends EVALSHA and, after
    NOSCRIPT (a restart, SCRIPT FLUSH), EVAL, which loads the script again. A kept connection found closed when a
    call starts (Redis restarted, an idle timeout, a dropped line) is opened again and the call sent once more, as
    redis-py's retry does; a call cut off after it was sent is an error (it may have claimed the nonce)."""

    def __init__(self, address: dict):
        self.address = address
        self.pid = os.getpid()
        self.sock: socket.socket | None = None

    @classmethod
    def current(cls) -> ClaimLine | None:
        """This thread's line to the default cache's Redis, or None (not Redis, or a URL or option it does
        not speak: TLS, a custom pool)."""
        backend = caches["default"]
        if not isinstance(backend, RedisCache):
            return None
        server = backend._servers[0]
        lines = getattr(_lines, "by_server", None)
        if lines is None:
            lines = _lines.by_server = {}
        line = lines.get(server)
        if line is None or line.pid != os.getpid():
            address = _address(server, backend._cache._pool_options)
            line = lines[server] = cls(address) if address is not None else None
        return line

    def claim(self, keys: list[bytes], args: list[bytes], *, meanwhile=None) -> list:
        reply = self._call(_command(b"EVALSHA", CLAIM_SHA, b"%d" % len(keys), *keys, *args), meanwhile)
        if isinstance(reply, _Refusal) and reply.startswith("NOSCRIPT"):
            reply = self._call(_command(b"EVAL", CLAIM_SCRIPT.encode(), b"%d" % len(keys), *keys, *args))
        if isinstance(reply, _Refusal):
            import redis

            raise redis.exceptions.ResponseError(str(reply))
        return reply

    def _call(self, command: bytes, meanwhile=None):
        kept = self.sock is not None
        finish = None
        try:
            if not kept:
                self._open()
            self.sock.sendall(command)
            if meanwhile is not None:
                finish = meanwhile()
            return self._read(first=kept)
        except _ClosedBeforeAnswer:
            self.close()
            if not kept:
                raise _connection_error("Redis closed the connection") from None
            self._open()  # the kept connection was gone before the call: nothing was run, send it again
            self.sock.sendall(command)
            return self._read(first=False)
        except OSError as failure:
            self.close()
            raise _connection_error(f"Redis: {failure}") from failure
        finally:
            if finish is not None:
                finish()

    def _read(self, *, first: bool):
        buffer = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            if not chunk:
                if first and not buffer:
                    raise _ClosedBeforeAnswer
                self.close()
                raise _connection_error("Redis closed the connection in the middle of an answer")
            buffer += chunk
            try:
                reply, end = _parse(buffer, 0)
            except _Partial:
                continue
            if end != len(buffer):  # an answer to nothing we asked: the connection cannot be trusted
                self.close()
                raise _connection_error("Redis sent more than one answer")
            return reply

    def _open(self) -> None:
        address = self.address
        if "path" in address:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(10)
            sock.connect(address["path"])
        else:
            sock = socket.create_connection((address["host"], address["port"]), timeout=10)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(None)  # as redis-py's default (no socket_timeout): a blocking read, no poll per call
        setup = []
        if address.get("password"):
            credentials = [address.get("username") or "", address["password"]]
            setup.append(_command(b"AUTH", *(value.encode() for value in credentials if value)))
        if address.get("db"):
            setup.append(_command(b"SELECT", b"%d" % int(address["db"])))
        self.sock = sock
        for command in setup:
            sock.sendall(command)
            reply = self._read(first=False)
            if isinstance(reply, _Refusal):
                self.close()
                raise _connection_error(f"Redis refused the connection's setup: {reply}")

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None


def _address(server: str, pool_options: dict) -> dict | None:
    from redis.connection import UnixDomainSocketConnection, parse_url

    if set(pool_options) - PLAIN_POOL_OPTIONS:
        return None
    try:
        address = parse_url(server)
    except ValueError:
        return None
    kind = address.pop("connection_class", None)
    if kind is not None and kind is not UnixDomainSocketConnection:
        return None  # TLS (rediss://): redis-py's client
    if set(address) - {"host", "port", "db", "username", "password", "path"}:
        return None  # options in the URL (timeouts, ...): redis-py's client
    address.setdefault("host", "localhost")
    address.setdefault("port", 6379)
    return address


def _connection_error(message: str) -> Exception:
    import redis

    return redis.exceptions.ConnectionError(message)


class _ClosedBeforeAnswer(Exception):
    pass


class _Partial(Exception):
    pass


class _Refusal(str):
    """An error answer (-ERR ..., -NOSCRIPT ...)."""


def _command(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(arg), arg) for arg in args)


def _parse(buffer: bytes, at: int):
    """One RESP2 answer at `at`: (value, where the next one starts); _Partial when the buffer ends inside it."""
    end = buffer.find(b"\r\n", at)
    if end < 0:
        raise _Partial
    kind, text, after = buffer[at], buffer[at + 1 : end], end + 2
    if kind == 58:  # ":" integer
        return int(text), after
    if kind == 36:  # "$" bulk string, $-1 nil
        size = int(text)
        if size < 0:
            return None, after
        if len(buffer) < after + size + 2:
            raise _Partial
        return buffer[after : after + size], after + size + 2
    if kind == 42:  # "*" array, *-1 nil
        size = int(text)
        if size < 0:
            return None, after
        items = []
        for _item in range(size):
            item, after = _parse(buffer, after)
            items.append(item)
        return items, after
    if kind == 43:  # "+" simple string
        return text.decode(), after
    if kind == 45:  # "-" error
        return _Refusal(text.decode(errors="replace")), after
    raise _connection_error(f"Redis sent an answer this client does not read: {buffer[at : at + 20]!r}")
