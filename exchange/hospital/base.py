"""The base of every signed partner endpoint: signature, per-institution rate limit, and (for writes) the
Idempotency-Key. Views only parse, call an action or selector, and shape the answer."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from exchange.hospital import idempotency
from exchange.hospital.throttling import InstitutionRateThrottle, partner_rate_counter
from institutions.api.authentication import HospitalSignatureAuthentication
from institutions.api.views import HospitalAPIView
from institutions.models import FinancialInstitution, MedicalInstitution
from registry.actors import Actor
from registry.choices import Channel
from registry.errors import PermissionDeniedError

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class PartnerView(HospitalAPIView):
    authentication_classes = [HospitalSignatureAuthentication]
    parser_classes = [JSONParser]
    throttle_classes = [InstitutionRateThrottle]
    institution_types: tuple = (MedicalInstitution, FinancialInstitution)

    def get_authenticators(self):
        # Every signed partner call is counted in its institution's rate window by the signature check itself.
        return [auth(rate_counter=partner_rate_counter) for auth in self.authentication_classes]

    @property
    def institution(self):
        return self.request.user.institution

    def actor(self) -> Actor:
        """The institution acts (no staff user): its code and key id are what the audit rows name."""
        meta = self.request.META
        forwarded = meta.get("HTTP_X_FORWARDED_FOR", "")
        ip = forwarded.split(",")[0].strip() if forwarded else meta.get("REMOTE_ADDR")
        return Actor(user=None, channel=Channel.API, ip=ip or None, label=self.request.user.get_username())

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not isinstance(self.institution, self.institution_types):
            raise PermissionDeniedError(
                _("This interface is not open to your kind of institution."), code="institution_type_refused"
            )


class PartnerWriteView(PartnerView):
    """Every write takes an Idempotency-Key: a retry gets the first answer; nothing changes twice."""

    idempotent_methods = WRITE_METHODS
    _claimed = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method in self.idempotent_methods:
            self._claimed = idempotency.claim(request, institution_code=self.institution.code)

    def handle_exception(self, exc):
        if isinstance(exc, idempotency.Replay):
            record = exc.record
            return Response(
                idempotency.replayed(record),
                status=record.status_code,
                headers={idempotency.REPLAY_HEADER: "true"},
            )
        try:
            return super().handle_exception(exc)
        except Exception:
            if self._claimed is not None:
                idempotency.release(self._claimed)
                self._claimed = None
            raise

    def finalize_response(self, request, response, *args, **kwargs):
        if self._claimed is not None:
            idempotency.store(
                self._claimed, status_code=response.status_code, data=getattr(response, "data", None)
            )
            self._claimed = None
        return super().finalize_response(request, response, *args, **kwargs)
