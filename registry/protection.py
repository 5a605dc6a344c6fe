"""Personal-data protection: encrypted fields, keyed blind indexes, masking, log redaction.

Values are sealed with AES-256-GCM; each stored value carries the id of the key that sealed it, so keys
rotate without downtime (`manage.py data_keys rotate`). Keys come from HC_DATA_KEYS (JSON) or the file
HC_DATA_KEYS_FILE, never from the database:

    {"active": "k2026a", "keys": {"k2026a": "<base64, 32 bytes>"}, "index_key": "<base64, 32 bytes>"}

The associated data of every value is its model and field, so a ciphertext copied into another column
does not decrypt. Equality lookups go through a keyed HMAC ("blind index") in a separate column.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import models
from django.utils.translation import gettext_lazy as _

SEAL_PREFIX = "hc1"
NONCE_BYTES = 12


@dataclass(frozen=True)
class Keyring:
    keys: dict[str, bytes]
    active: str
    index_key: bytes
    # One cipher object per key, made on first use: setting one up costs more than sealing a short value.
    ciphers: dict[str, AESGCM] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def aead(self, key_id: str) -> AESGCM:
        cipher = self.ciphers.get(key_id)
        if cipher is not None:
            return cipher
        try:
            cipher = self.ciphers[key_id] = AESGCM(self.keys[key_id])
        except KeyError:
            raise ImproperlyConfigured(
                f"Personal-data key {key_id!r} is not in the key set / 个人数据密钥 {key_id!r} 不在密钥集中"
            ) from None
        return cipher


def new_key_material() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def new_key_id() -> str:
    return "k" + secrets.token_hex(4)


def keyring_from_json(text: str) -> Keyring:
    data = json.loads(text)
    keys = {kid: base64.b64decode(value) for kid, value in data["keys"].items()}
    for kid, key in keys.items():
        if len(key) != 32:
            raise ImproperlyConfigured(f"Personal-data key {kid!r} must be 32 bytes (AES-256)")
    active = settings.HC_DATA_KEY_ACTIVE or data.get("active") or sorted(keys)[-1]
    if active not in keys:
        raise ImproperlyConfigured(f"The active personal-data key {active!r} is not in the key set")
    return Keyring(keys=keys, active=active, index_key=base64.b64decode(data["index_key"]))


def key_file_create(path: Path) -> None:
    """Write a fresh key set (development and `node init`); production keys come from the operator."""
    path.parent.mkdir(parents=True, exist_ok=True)
    kid = new_key_id()
    data = {"active": kid, "keys": {kid: new_key_material()}, "index_key": new_key_material()}
    # Written whole under a private name, then linked into place: processes starting together (generate's
    # workers on a fresh node) either win the link or read the winner's complete file, never a half-written one.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        tmp.unlink()


def key_file_add(path: Path) -> str:
    """Add a new key to a key file and make it the active one; old keys stay to read old values."""
    data = json.loads(path.read_text())
    kid = new_key_id()
    data["keys"][kid] = new_key_material()
    data["active"] = kid
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
    tmp.replace(path)
    keyring.cache_clear()
    return kid


@cache
def keyring() -> Keyring:
    if settings.HC_DATA_KEYS:
        return keyring_from_json(settings.HC_DATA_KEYS)
    path = Path(settings.HC_DATA_KEYS_FILE)
    if not path.exists():
        if settings.PRODUCTION:
            raise ImproperlyConfigured(
                "No personal-data keys: set HC_DATA_KEYS or HC_DATA_KEYS_FILE / 未配置个人数据密钥"
            )
        key_file_create(path)
    return keyring_from_json(path.read_text())


def _reset_keyring(**kwargs) -> None:
    if kwargs.get("setting", "").startswith("HC_DATA_KEY"):
        keyring.cache_clear()


setting_changed.connect(_reset_keyring)


def seal(plaintext: str, *, context: str) -> str:
    ring = keyring()
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = ring.aead(ring.active).encrypt(nonce, plaintext.encode(), context.encode())
    return f"{SEAL_PREFIX}.{ring.active}.{base64.b64encode(nonce + sealed).decode()}"


def unseal(token: str, *, context: str) -> str:
    prefix, key_id, body = token.split(".", 2)
    if prefix != SEAL_PREFIX:
        raise ValueError("not a sealed value")
    raw = base64.b64decode(body)
    return keyring().aead(key_id).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode()).decode()


def sealed_key_id(token: str) -> str:
    return token.split(".", 2)[1] if token else ""


_SHA256_BLOCK = 64  # bytes: HMAC pads its key to the hash's block


def normalise_for_index(value: str) -> str:
    # str.split() splits on exactly the characters re's \s matches, at an eighth of re.sub's cost (a catch-up
    # indexes millions of numbers).
    return "".join(value.split()).upper()


def blind_index(value: str, *, family: str) -> str:
    """A keyed HMAC of the normalised value: equal values give equal indexes, nothing else is learnt."""
    message = f"{family}\x1f{normalise_for_index(value)}".encode()
    return hmac.new(keyring().index_key, message, hashlib.sha256).hexdigest()[:40]


def blind_indexes(values, *, family: str) -> dict[str, str]:
    """{value: blind_index(value)} for many values (verify-batch: a thousand a call), the same HMAC written out
    (RFC 2104) on two SHA-256 states keyed once and copied per value: a third of what the hmac module's per-value
    copy and wrappers cost. A value without whitespace (an ID number) is only upper-cased, no regular expression."""
    key = keyring().index_key
    if len(key) > _SHA256_BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_SHA256_BLOCK, b"\0")
    inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in key) + f"{family}\x1f".encode())
    outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in key))
    indexes = {}
    for value in values:
        if value not in indexes:
            mac = inner.copy()
            mac.update((value.upper() if value.isalnum() else normalise_for_index(value)).encode())
            digest = outer.copy()
            digest.update(mac.digest())
            indexes[value] = digest.hexdigest()[:40]
    return indexes


class EncryptedTextField(models.TextField):
    """A text column stored sealed. Only isnull lookups work; search by the companion BlindIndexField."""

    def contribute_to_class(self, cls, name, private_only=False):
        super().contribute_to_class(cls, name, private_only)
        self.seal_context = f"{cls._meta.label_lower}.{name}"

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        return unseal(value, context=self.seal_context)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return seal(str(value), context=self.seal_context)

    def get_lookup(self, lookup_name):
        if lookup_name != "isnull":
            raise FieldError(
                f"{self.seal_context} is encrypted: look it up through its blind index, not '{lookup_name}' "
                f"/ 加密字段不能直接查询，请使用盲索引"
            )
        return super().get_lookup(lookup_name)


class EncryptedJSONField(EncryptedTextField):
    """A JSON value (e.g. a holder's emergency contacts) sealed as one text column."""

    def from_db_value(self, value, expression, connection):
        text = super().from_db_value(value, expression, connection)
        return json.loads(text) if text else (None if text is None else [])

    def to_python(self, value):
        if isinstance(value, str) and value:
            return json.loads(value)
        return value

    def get_prep_value(self, value):
        if value is None:
            return None
        if isinstance(value, str):  # already JSON text (from a form)
            value = json.loads(value) if value else []
        return seal(json.dumps(value, ensure_ascii=False, separators=(",", ":")), context=self.seal_context)

    def value_to_string(self, obj):
        return json.dumps(self.value_from_object(obj), ensure_ascii=False)


class BlindIndexField(models.CharField):
    """Holds blind_index(<source field>) and is recomputed on every save."""

    def __init__(self, *args, source: str, family: str = "", **kwargs):
        self.source = source
        self.family = family or source
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("db_index", True)
        kwargs.setdefault("verbose_name", _("blind index"))
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        # __init__ defaults db_index to True, so an explicit False must survive the round trip too.
        kwargs["db_index"] = self.db_index
        if self.family != self.source:
            kwargs["family"] = self.family
        return name, path, args, kwargs

    def pre_save(self, model_instance, add):
        value = getattr(model_instance, self.source)
        digest = blind_index(value, family=self.family) if value else ""
        setattr(model_instance, self.attname, digest)
        return digest


def blind_lookup(model: type[models.Model], source: str, value: str) -> dict[str, str]:
    """Filter kwargs that find rows whose encrypted `source` equals `value`: Model.objects.filter(**...)."""
    for field in model._meta.get_fields():
        if isinstance(field, BlindIndexField) and field.source == source:
            return {field.name: blind_index(value, family=field.family)}
    raise FieldError(f"{model._meta.label} has no blind index for {source}")


JOURNAL_CONTEXT = "journal"


def seal_payload(payload: dict, fields: tuple[str, ...] | list[str]) -> dict:
    """A journal payload with its personal fields sealed under this node's keys ({"sealed": token}).

    The journal is stored in the database like everything else, so personal data in it is sealed too; the
    exchange app opens these fields and re-encrypts the bundle for the receiving node.
    """
    sealed = dict(payload)
    for field in fields:
        value = sealed.get(field)
        if value not in (None, "", []):
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            sealed[field] = {
                "sealed": seal(text, context=f"{JOURNAL_CONTEXT}.{field}"),
                "json": not isinstance(value, str),
            }
    return sealed


def unseal_payload(payload: dict) -> dict:
    opened = dict(payload)
    for field, value in payload.items():
        if isinstance(value, dict) and "sealed" in value:
            text = unseal(value["sealed"], context=f"{JOURNAL_CONTEXT}.{field}")
            opened[field] = json.loads(text) if value.get("json") else text
    return opened


def encrypted_fields(model: type[models.Model]) -> list[EncryptedTextField]:
    return [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]


# --- Masking: what the screen and exports show by default -------------------------------------------------


def mask_id_number(value: str) -> str:
    """610102199001011234 -> 610102**********1234 (first six and last four kept)."""
    if not value:
        return ""
    if len(value) >= 15:
        return f"{value[:6]}{'*' * 10}{value[-4:]}"
    if len(value) > 4:
        return f"{value[:2]}{'*' * (len(value) - 4)}{value[-2:]}"
    return "*" * len(value)


def mask_phone(value: str) -> str:
    """13812345678 -> 138****5678."""
    digits = value or ""
    if len(digits) >= 7:
        return f"{digits[:3]}****{digits[-4:]}"
    return "*" * len(digits)


def mask_name(value: str) -> str:
    """张三 -> 张*, 欧阳娜娜 -> 欧***."""
    if not value:
        return ""
    return value[0] + "*" * max(1, len(value) - 1)


def mask_address(value: str) -> str:
    if not value:
        return ""
    return value[:6] + "****" if len(value) > 6 else value[:2] + "****"


# --- Logs never carry personal data ---------------------------------------------------------------------

ID_NUMBER_RE = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[\dXx])(?![0-9A-Za-z])")
OLD_ID_NUMBER_RE = re.compile(r"(?<!\d)(\d{6})(\d{6})(\d{3})(?!\d)")
MOBILE_RE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def redact(text: str) -> str:
    text = ID_NUMBER_RE.sub(lambda m: mask_id_number(m.group(0)), text)
    text = OLD_ID_NUMBER_RE.sub(lambda m: mask_id_number(m.group(0)), text)
    return MOBILE_RE.sub(lambda m: mask_phone(m.group(0)), text)


class RedactPersonalData(logging.Filter):
    """A logging filter that masks ID numbers and mobile numbers in every message, whatever logged them."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is logged as is
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True
