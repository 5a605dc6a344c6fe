"""This node's identity: its tier, region and Ed25519 signing key (kept in a file, never in the database)."""

from __future__ import annotations

import base64
import hashlib
import os
from functools import cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed


def node_key_create(path: Path) -> Ed25519PrivateKey:
    """Create the node's key pair once; an existing key is kept (re-running `node init` is harmless)."""
    if path.exists():
        return node_private_key_from(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    node_private_key.cache_clear()
    return key


def node_private_key_from(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured(f"{path} is not an Ed25519 private key")
    return key


@cache
def node_private_key() -> Ed25519PrivateKey:
    path = Path(settings.HC_NODE_KEY_FILE)
    if not path.exists():
        raise ImproperlyConfigured(
            f"The node key {path} does not exist: run `manage.py node init` / 节点密钥不存在，请先执行 node init"
        )
    return node_private_key_from(path)


def _reset(**kwargs) -> None:
    if kwargs.get("setting") == "HC_NODE_KEY_FILE":
        node_private_key.cache_clear()


setting_changed.connect(_reset)


def public_key_pem(key: Ed25519PrivateKey | None = None) -> str:
    key = key or node_private_key()
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def public_key_fingerprint(pem: str) -> str:
    """SHA-256 of the raw public key, shown as colon-separated hex groups (what people compare by phone)."""
    key = serialization.load_pem_public_key(pem.encode())
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    digest = hashlib.sha256(raw).hexdigest()[:32]
    return ":".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def sign(data: bytes) -> str:
    """The node's signature over `data`, base64."""
    return base64.b64encode(node_private_key().sign(data)).decode()


def verify(data: bytes, signature: str, *, public_key_pem_text: str) -> bool:
    key = serialization.load_pem_public_key(public_key_pem_text.encode())
    if not isinstance(key, Ed25519PublicKey):
        return False
    try:
        key.verify(base64.b64decode(signature), data)
    except (InvalidSignature, ValueError):
        return False
    return True
