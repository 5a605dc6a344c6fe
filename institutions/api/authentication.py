"""DRF authentication for institutions' systems: the HMAC request signature of institutions.signing."""

from __future__ import annotations

import hmac
import logging
import secrets
import time

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from institutions.actions import credential_mark_used
from institutions.api.sharedcache import claim
from institutions.choices import CredentialStatus
from institutions.models import ApiCredential
from institutions.signing import NONCE_RE, SKEW_SECONDS, signature

logger = logging.getLogger(__name__)
_MISSING = object()


class SignatureFailed(exceptions.AuthenticationFailed):
    """401 with a stable code; messages are rendered in Chinese and English by the API error handler."""

    def __init__(self, code: str, message):
        super().__init__(detail=message, code=code)
        self.default_code = code
        self.default_detail = message


class InstitutionPrincipal:
    """What request.user is for a signed call: the institution behind the key (not a staff user)."""

    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False
    scope_region_id = None

    def __init__(self, credential: ApiCredential, counted: dict | None = None):
        self.credential = credential
        self.institution = credential.institution
        # {rate-limit counter key: this call's count}: counted in the nonce's round trip (rate_counter below).
        self.counted = counted or {}

    def get_username(self) -> str:
        return f"{self.institution.code}:{self.credential.key_id}"

    def has_perm(self, perm, obj=None) -> bool:
        return False

    def __str__(self) -> str:
        return str(self.institution)


# --- Credentials cached per process -------------------------------------------------------------------------
# A signed call would otherwise load its key (and unseal its secret) on every request. Each web process keeps
# what it loaded for CREDENTIAL_CACHE_SECONDS; every call also reads a version stamp from the shared cache (in
# the nonce's round trip) that any change of a key or an institution bumps (signals below), so a revocation
# takes effect on the next call. A change that bypasses the models' save() (SQL, queryset.update) takes
# effect within CREDENTIAL_CACHE_SECONDS (docs/hospital-api.md).
VERSION_KEY = "hc-credentials-version"
_credentials: dict[str, _Entry] = {}


class _Entry:
    __slots__ = ("credential", "version", "loaded", "last_used_at")

    def __init__(self, credential, version, loaded):
        self.credential, self.version, self.loaded = credential, version, loaded
        self.last_used_at = credential.last_used_at


def _cached_credential(key_id: str, *, version=_MISSING) -> _Entry | None:
    """The key's cached entry, loaded again when older than the cache period."""
    entry = _credentials.get(key_id)
    now = time.monotonic()
    if entry is None or now - entry.loaded > settings.HC_CREDENTIAL_CACHE_SECONDS:
        if version is _MISSING:  # read before loading: a change after this read bumps it again
            version = cache.get(VERSION_KEY)
        credential = (
            ApiCredential.objects.select_related("medical_institution", "financial_institution")
            .filter(key_id=key_id)
            .first()
        )
        if credential is None:
            return None
        entry = _Entry(credential, version, now)
        if settings.HC_CREDENTIAL_CACHE_SECONDS > 0:
            _credentials[key_id] = entry
    return entry


def _copy(instance):
    """copy.copy of a model instance without the pickle protocol's round (its version checks cost more than the
    copy, on every signed call): the same state, copied the way Model.__getstate__ copies it."""
    state = instance.__getstate__()
    for attr, value in state.pop("_memoryview_attrs", ()):
        state[attr] = memoryview(value)
    clone = instance.__class__.__new__(instance.__class__)
    clone.__dict__.update(state)
    return clone


def _own_copy(entry: _Entry) -> ApiCredential:
    """The request's own copy of the cached credential and its institution (views may read and annotate them)."""
    credential = _copy(entry.credential)
    credential.last_used_at = entry.last_used_at
    for field in ("medical_institution", "financial_institution"):
        related = getattr(entry.credential, field)
        if related is not None:
            setattr(credential, field, _copy(related))
    return credential


def credentials_changed(**kwargs) -> None:
    """Bump the version stamp: every process reloads its cached keys on their next call. Bumped at once and
    again after commit, so a process that reloads in between cannot keep the old state."""
    _bump()
    transaction.on_commit(_bump)


def _bump() -> None:
    try:
        cache.set(VERSION_KEY, secrets.randbits(62), None)
    except Exception:  # the cache is down: the save goes on; cached keys expire within the cache period
        logger.warning("API key version stamp not bumped: the shared cache is unavailable", exc_info=True)


def _verify(credential: ApiCredential, request, timestamp: str, nonce: str, given: str) -> None:
    if credential.status == CredentialStatus.REVOKED:
        raise SignatureFailed("key_revoked", _("This API key has been revoked."))
    if credential.expires_at <= timezone.now():
        raise SignatureFailed(
            "key_expired", _("This API key has expired; ask your registration centre for a new one.")
        )
    if credential.institution.status != "active":
        raise SignatureFailed("institution_inactive", _("The institution of this key is deregistered."))
    expected = signature(
        credential.secret,
        method=request.method,
        path_with_query=request.get_full_path(),
        timestamp=timestamp,
        nonce=nonce,
        body=request.body,
    )
    if not hmac.compare_digest(expected, given.lower()):
        raise SignatureFailed("bad_signature", _("The signature does not match the request."))


def _no_rate_counter(institution) -> None:
    return None


class HospitalSignatureAuthentication(BaseAuthentication):
    """Checks X-HC-Key / X-HC-Timestamp / X-HC-Nonce / X-HC-Signature (see institutions.signing)."""

    def authenticate_header(self, request) -> str:
        return 'HC-HMAC-SHA256 realm="api"'

    def __init__(self, rate_counter=None):
        # rate_counter(institution) -> (key, timeout) of a rate-limit counter to count this call in, in the
        # nonce's round trip (the partner views pass theirs: every signed call counts per institution). A view
        # configures the one class instead of subclassing it: the OpenAPI schema has one signature scheme.
        self.rate_counter = rate_counter or _no_rate_counter

    def authenticate(self, request, *, meanwhile=None):
        """`meanwhile`: work to overlap with the shared cache's round trip (sharedcache.claim), started only
        once the signature has been checked."""
        meta = request.META
        key_id = meta.get("HTTP_X_HC_KEY")
        timestamp = meta.get("HTTP_X_HC_TIMESTAMP")
        nonce = meta.get("HTTP_X_HC_NONCE")
        given = meta.get("HTTP_X_HC_SIGNATURE")
        if not any((key_id, timestamp, nonce, given)):
            return None  # not a signed call: let the view's permission refuse it
        if not all((key_id, timestamp, nonce, given)):
            raise SignatureFailed(
                "signature_headers_missing",
                _("X-HC-Key, X-HC-Timestamp, X-HC-Nonce and X-HC-Signature are all required."),
            )
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > SKEW_SECONDS:
            raise SignatureFailed(
                "stale_timestamp", _("The timestamp is more than 300 seconds away from the server's clock.")
            )
        if not NONCE_RE.match(nonce):
            raise SignatureFailed(
                "bad_nonce", _("The nonce must be 16 to 64 characters of A-Z, a-z, 0-9, _ or -.")
            )
        entry = _cached_credential(key_id)
        if entry is None:
            raise SignatureFailed("unknown_key", _("Unknown API key."))
        credential = entry.credential
        _verify(credential, request, timestamp, nonce, given)
        # Checked last, so a forged request cannot burn a real client's nonce. The cache is shared by every
        # web process (Redis in production), and the claim is atomic: only the first of two replays wins. The
        # same round trip reads the credentials' version stamp (a key revoked, or an institution deregistered,
        # since this process cached it is reloaded and checked again before anything runs) and counts the
        # call in its institution's rate-limit window (a replay is not counted).
        counter = self.rate_counter(credential.institution)
        fresh, version, count = claim(
            f"hc-nonce:{key_id}:{nonce}",
            2 * SKEW_SECONDS,
            VERSION_KEY,
            *(counter or (None, 0)),
            meanwhile=meanwhile,
        )
        if not fresh:
            raise SignatureFailed(
                "replayed_nonce", _("This nonce was already used: the request looks replayed.")
            )
        if version != entry.version:
            _credentials.pop(key_id, None)
            entry = _cached_credential(key_id, version=version)
            if entry is None:
                raise SignatureFailed("unknown_key", _("Unknown API key."))
            _verify(entry.credential, request, timestamp, nonce, given)
        credential = _own_copy(entry)
        if credential_mark_used(credential=credential):
            entry.last_used_at = credential.last_used_at
        return InstitutionPrincipal(credential, {counter[0]: count} if counter else None), credential


class SignatureScheme(OpenApiAuthenticationExtension):
    target_class = HospitalSignatureAuthentication
    name = "HospitalSignature"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-HC-Signature",
            "description": (
                "HMAC-SHA256 request signature. Send X-HC-Key (key id), X-HC-Timestamp (Unix seconds), "
                "X-HC-Nonce (16-64 chars of [A-Za-z0-9_-]) and X-HC-Signature = lowercase hex "
                "HMAC-SHA256(secret, METHOD + '\\n' + path with query + '\\n' + timestamp + '\\n' + nonce + "
                "'\\n' + hex SHA-256 of the body). Timestamps more than 300 s away and reused nonces are refused."
            ),
        }
