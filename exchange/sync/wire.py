"""Node-to-node HTTP: requests signed with the node key, acknowledgements signed by the receiver.

Bundles carry their own signature; what a pull or a digest request needs is proof of which child asks, so
the child signs method, path, query and time, and the parent checks the time is within five minutes.
"""

from __future__ import annotations

import time

import requests
from django.conf import settings

from exchange.sync.bundle import canonical
from registry import node

MAX_SKEW = 300
TIMEOUT = (5, 120)  # connect, read: applying a large bundle takes a while
BUNDLE_TYPE = "application/vnd.healthcard.bundle"


class WireError(Exception):
    """The peer could not be reached, refused the call, or answered something that does not verify."""


def request_message(method: str, path: str, query: str, timestamp: str, sender: str) -> bytes:
    return "\n".join([method.upper(), path, query, timestamp, sender]).encode()


def signed_headers(method: str, path: str, query: str = "") -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {
        "X-HC-Node": settings.HC_REGION,
        "X-HC-Time": timestamp,
        "X-HC-Signature": node.sign(request_message(method, path, query, timestamp, settings.HC_REGION)),
    }


def request_verify(request, *, public_key: str) -> bool:
    sender = request.headers.get("X-HC-Node", "")
    timestamp = request.headers.get("X-HC-Time", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > MAX_SKEW:
        return False
    message = request_message(
        request.method, request.path, request.META.get("QUERY_STRING", ""), timestamp, sender
    )
    return node.verify(message, request.headers.get("X-HC-Signature", ""), public_key_pem_text=public_key)


def ack_sign(ack: dict) -> dict:
    return {**ack, "signature": node.sign(canonical(ack))}


def ack_verify(ack: dict, *, public_key: str) -> dict:
    body = {k: v for k, v in ack.items() if k != "signature"}
    if not node.verify(canonical(body), ack.get("signature", ""), public_key_pem_text=public_key):
        raise WireError("the acknowledgement is not signed by the parent's key")
    return body


def http_post(url: str, data: bytes, headers: dict) -> requests.Response:
    try:
        return requests.post(
            url, data=data, headers={"Content-Type": BUNDLE_TYPE, **headers}, timeout=TIMEOUT
        )
    except requests.RequestException as error:
        raise WireError(f"POST {url}: {error}") from None


def http_get(url: str, headers: dict) -> requests.Response:
    try:
        return requests.get(url, headers=headers, timeout=TIMEOUT)
    except requests.RequestException as error:
        raise WireError(f"GET {url}: {error}") from None
