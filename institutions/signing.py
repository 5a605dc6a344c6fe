"""The request-signing scheme every hospital (and bank) call uses. Published in docs/hospital-api.md.

    X-HC-Key        key id
    X-HC-Timestamp  Unix seconds
    X-HC-Nonce      random, 16-64 characters [A-Za-z0-9_-]
    X-HC-Signature  lowercase hex HMAC-SHA256(secret,
                        METHOD "\\n" path-with-query "\\n" timestamp "\\n" nonce "\\n" hex SHA-256(body))

A timestamp more than 300 s away is refused; a nonce seen within that window is refused (replay).
"""

from __future__ import annotations

import hashlib
import hmac
import re

SKEW_SECONDS = 300
NONCE_RE = re.compile(r"^[A-Za-z0-9_\-]{16,64}$")
HEADERS = ("X-HC-Key", "X-HC-Timestamp", "X-HC-Nonce", "X-HC-Signature")


def canonical_string(*, method: str, path_with_query: str, timestamp: str, nonce: str, body: bytes) -> str:
    return "\n".join([method.upper(), path_with_query, timestamp, nonce, hashlib.sha256(body).hexdigest()])


def signature(
    secret: str, *, method: str, path_with_query: str, timestamp: str, nonce: str, body: bytes
) -> str:
    message = canonical_string(
        method=method, path_with_query=path_with_query, timestamp=timestamp, nonce=nonce, body=body
    )
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signed_headers(
    *,
    key_id: str,
    secret: str,
    method: str,
    path_with_query: str,
    body: bytes = b"",
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """What a client sends: used by our tests, the demo and the integrator's walkthrough."""
    import secrets
    import time

    timestamp_text = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(16)
    return {
        "X-HC-Key": key_id,
        "X-HC-Timestamp": timestamp_text,
        "X-HC-Nonce": nonce,
        "X-HC-Signature": signature(
            secret,
            method=method,
            path_with_query=path_with_query,
            timestamp=timestamp_text,
            nonce=nonce,
            body=body,
        ),
    }
