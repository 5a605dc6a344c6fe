"""SM4 key diversification, session keys and MACs as the emulated card and SAM compute them.

The host never calls these for a real card: the SAM holds the keys. Only the emulator uses this module.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 16
# Demo keys only: derived from a text that says so; no production key looks like this.
DEMO_MASTER_SEED = b"HEALTHCARD-EMULATOR-DEMO-MASTER-KEY-NOT-FOR-PRODUCTION"


def demo_master_key(key_id: int) -> bytes:
    return hashlib.sha256(DEMO_MASTER_SEED + bytes([key_id])).digest()[:16]


def sm4_encrypt(key: bytes, data: bytes) -> bytes:
    # ECB is what the card and SAM specify for single blocks (key diversification, 80FA).
    enc = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()  # noqa: S305
    return enc.update(data) + enc.finalize()


def sm4_decrypt(key: bytes, data: bytes) -> bytes:
    dec = Cipher(algorithms.SM4(key), modes.ECB()).decryptor()  # noqa: S305
    return dec.update(data) + dec.finalize()


def diversify(key: bytes, factor: bytes) -> bytes:
    """One level: SM4_K(D || not D) for an 8-byte factor D."""
    if len(factor) != 8:
        raise ValueError("a diversification factor has 8 bytes")
    return sm4_encrypt(key, factor + bytes(b ^ 0xFF for b in factor))


def diversify_chain(key: bytes, factors: bytes) -> bytes:
    for i in range(0, len(factors), 8):
        key = diversify(key, factors[i : i + 8])
    return key


def pad80(data: bytes) -> bytes:
    data = data + b"\x80"
    return data + bytes(-len(data) % BLOCK)


def unpad80(data: bytes) -> bytes:
    stripped = data.rstrip(b"\x00")
    if not stripped.endswith(b"\x80"):
        raise ValueError("bad 80 padding")
    return stripped[:-1]


def mac4(key: bytes, data: bytes) -> bytes:
    """CBC-MAC with zero IV over data padded 80.., the first 4 bytes."""
    enc = Cipher(algorithms.SM4(key), modes.CBC(bytes(BLOCK))).encryptor()
    out = enc.update(pad80(data)) + enc.finalize()
    return out[-BLOCK:][:4]


def fold(c: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(c[:8], c[8:16], strict=True))


def pf_factor(city_code: str) -> bytes:
    """PF: ASCII of the first two digits of the application city code, then "000000"."""
    return (city_code[:2] + "000000").encode("ascii")
