"""The bundle: a page of journal rows that leaves a node, signed by the sender and encrypted to the receiver.

On the wire (HTTP body or file), four parts:

    HCB1\\n
    <header: canonical JSON>\\n
    <Ed25519 signature of the header line, base64>\\n
    <body>

The header names the sender and receiver nodes, the direction, the range of sequences, the row count, the
SHA-256 and size of the body, and when it was made. The body is the rows as JSON lines, gzip-compressed, then
encrypted to the receiver (X25519 + HKDF-SHA256 + AES-256-GCM) because rows to a parent carry personal data.
The receiver's X25519 key is derived from its Ed25519 node key (the RFC 7748 / libsodium birational map), so
the one key in each centre record serves both: no second key to register.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import secrets
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.utils import timezone

from registry import node

MAGIC = b"HCB1"
FORMAT = 1
ALGORITHM = "x25519-hkdf-sha256-aes256gcm"
_P = 2**255 - 19


class BundleError(Exception):
    """A bundle that cannot be trusted or read; `code` is stable, the message says what is wrong."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def canonical(data: dict) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# --- Ed25519 node keys used for X25519 ------------------------------------------------------------------


def x25519_private(key: Ed25519PrivateKey) -> X25519PrivateKey:
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return X25519PrivateKey.from_private_bytes(hashlib.sha512(seed).digest()[:32])  # clamped by the library


def x25519_public(pem: str) -> X25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise BundleError("receiver_key", "the receiver's key is not an Ed25519 public key")
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    y = int.from_bytes(raw, "little") & ((1 << 255) - 1)
    u = (1 + y) * pow(1 - y, _P - 2, _P) % _P
    return X25519PublicKey.from_public_bytes(u.to_bytes(32, "little"))


def _aead_key(shared: bytes, epk: bytes, receiver: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=epk + receiver, info=b"hc-bundle-v1").derive(
        shared
    )


def _raw(public: X25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def encrypt_to(plaintext: bytes, *, receiver_pem: str, aad: bytes) -> tuple[bytes, dict]:
    receiver = x25519_public(receiver_pem)
    ephemeral = X25519PrivateKey.generate()
    epk = _raw(ephemeral.public_key())
    key = _aead_key(ephemeral.exchange(receiver), epk, _raw(receiver))
    nonce = secrets.token_bytes(12)
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, aad)
    return ciphertext, {
        "alg": ALGORITHM,
        "epk": base64.b64encode(epk).decode(),
        "nonce": base64.b64encode(nonce).decode(),
    }


def decrypt_for_me(ciphertext: bytes, *, enc: dict, aad: bytes) -> bytes:
    if enc.get("alg") != ALGORITHM:
        raise BundleError("encryption", f"unknown body encryption {enc.get('alg')!r}")
    mine = x25519_private(node.node_private_key())
    epk = base64.b64decode(enc["epk"])
    key = _aead_key(mine.exchange(X25519PublicKey.from_public_bytes(epk)), epk, _raw(mine.public_key()))
    try:
        return AESGCM(key).decrypt(base64.b64decode(enc["nonce"]), ciphertext, aad)
    except Exception:
        raise BundleError(
            "decrypt", "the body does not open with this node's key (not meant for this node?)"
        ) from None


# --- Building and reading ---------------------------------------------------------------------------------


@dataclass
class Bundle:
    header: dict
    signature: str
    body: bytes
    rows: list[dict] = field(default_factory=list)

    @property
    def sender(self) -> str:
        return self.header["sender"]

    @property
    def sha256(self) -> str:
        return self.header["sha256"]

    def to_bytes(self) -> bytes:
        return b"\n".join([MAGIC, canonical(self.header), self.signature.encode(), self.body])


def _aad(header: dict) -> bytes:
    return f"{header['sender']}>{header['receiver']}:{header['direction']}:{header['first_seq']}-{header['last_seq']}".encode()


def bundle_build(
    rows: list[dict],
    *,
    sender: str,
    receiver: str,
    receiver_pem: str,
    direction: str,
    first_seq: int,
    last_seq: int,
) -> Bundle:
    """Sign and encrypt a page of rows (transport form, see exchange.sync.transport) for one receiver.

    first_seq..last_seq is the range of the sender's journal the page covers (rows not for the receiver may
    be left out, so count can be smaller than the range).
    """
    lines = b"\n".join(canonical(row) for row in rows)
    header = {
        "format": FORMAT,
        "sender": sender,
        "receiver": receiver,
        "direction": direction,
        "first_seq": first_seq,
        "last_seq": last_seq,
        "count": len(rows),
        "created": timezone.now().isoformat(),
    }
    body, enc = encrypt_to(gzip.compress(lines, compresslevel=6), receiver_pem=receiver_pem, aad=_aad(header))
    header.update(enc=enc, sha256=hashlib.sha256(body).hexdigest(), size=len(body))
    return Bundle(header=header, signature=node.sign(canonical(header)), body=body, rows=rows)


def bundle_header(data: bytes) -> tuple[dict, str, bytes]:
    """Split a bundle into header, signature and body, without trusting anything yet."""
    parts = data.split(b"\n", 3)
    if len(parts) != 4 or parts[0] != MAGIC:
        raise BundleError("format", "not a health-card sync bundle (HCB1)")
    try:
        header = json.loads(parts[1])
    except ValueError:
        raise BundleError("format", "the bundle header is not JSON") from None
    if header.get("format") != FORMAT:
        raise BundleError("format", f"bundle format {header.get('format')!r} is not supported")
    return header, parts[2].decode(errors="replace"), parts[3]


def _json_lines(text: bytes) -> list:
    """The JSON lines of a body, parsed as one array: a JSON text never holds a raw newline (it is escaped inside
    strings), so the lines joined by commas are the array of the rows; one parse instead of one per line costs
    half as much. A body that does not parse that way (an empty line) is read line by line."""
    try:
        return json.loads(b"[" + text.replace(b"\n", b",") + b"]") if text else []
    except ValueError:
        return [json.loads(line) for line in text.split(b"\n") if line]


def bundle_open(data: bytes, *, sender_pem: str, receiver: str) -> Bundle:
    """Verify (signature, receiver, SHA-256 and size of the body), decrypt and parse a bundle.

    Raises BundleError naming the first check that failed; nothing is read from a bundle that fails one.
    """
    header, signature, body = bundle_header(data)
    raw_header = data.split(b"\n", 2)[1]  # verified as received, byte for byte
    if not node.verify(raw_header, signature, public_key_pem_text=sender_pem):
        raise BundleError(
            "signature", f"the signature does not match the key registered for node {header.get('sender')}"
        )
    if header.get("receiver") != receiver:
        raise BundleError(
            "receiver", f"the bundle is addressed to {header.get('receiver')}, not to this node ({receiver})"
        )
    if hashlib.sha256(body).hexdigest() != header.get("sha256") or len(body) != header.get("size"):
        raise BundleError(
            "body_digest", "the body's SHA-256 does not match the signed header (corrupted in transit?)"
        )
    plain = decrypt_for_me(body, enc=header.get("enc") or {}, aad=_aad(header))
    try:
        text = gzip.decompress(plain)
        rows = _json_lines(text)
    except (OSError, ValueError, EOFError):
        raise BundleError("body_format", "the body is not gzip-compressed JSON lines") from None
    if len(rows) != header["count"]:
        raise BundleError("count", f"the header says {header['count']} rows, the body has {len(rows)}")
    return Bundle(header=header, signature=signature, body=body, rows=rows)
