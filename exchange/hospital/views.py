"""The hospital API (/api/v1/hospital/...): every endpoint request-signed, rate-limited per institution, every
write idempotent. Views parse, call one action or selector, and shape the answer."""

from __future__ import annotations

import functools
import importlib
import json
from collections import Counter

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import override
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from cards.actions import application_submit
from cards.actions.holders import clean_id_number
from cards.actions.issuance import (
    card_issue_onsite_abort,
    card_issue_onsite_allocate,
    card_issue_onsite_complete,
    clean_chip_serial,
)
from cards.choices import ApplicationChannel, ApplicationStatus
from cards.models import Application, Card, Resident
from exchange.hospital import lists
from exchange.hospital import serializers as s
from exchange.hospital.base import PartnerView, PartnerWriteView
from exchange.hospital.cardstatus import (
    MESSAGES,
    USABLE,
    PendingCheck,
    card_status_codes,
    normal_card_no,
    normal_chip,
)
from institutions.models import MedicalInstitution
from registry.errors import DomainError, NotFoundError, PermissionDeniedError
from registry.protection import blind_index, mask_address, mask_id_number, mask_phone

ERRORS = {
    code: OpenApiResponse(s.ErrorSerializer, description=text)
    for code, text in (
        (400, "Refused: see the error code."),
        (401, "The signature was refused."),
        (403, "Not a signed institution call, or not open to this kind of institution."),
        (429, "Over the institution's rate limit: retry after Retry-After seconds."),
    )
}
WRITE_ERRORS = {
    **ERRORS,
    409: OpenApiResponse(
        s.ErrorSerializer,
        description="The first request with this Idempotency-Key is still running (idempotency_in_progress), "
        "or the card's state does not allow this (illegal_transition).",
    ),
    422: OpenApiResponse(
        s.ErrorSerializer, description="The Idempotency-Key was used for a different request."
    ),
    503: OpenApiResponse(s.ErrorSerializer, description="The interface is not available on this node yet."),
}
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    pattern=r"^[A-Za-z0-9_\-:.]{8,100}$",
    description="8-100 characters of A-Z a-z 0-9 _ - : . ; a retry with the same key gets the first answer.",
)


class Unavailable(DomainError):
    status = 503


def _interface(module: str, name: str):
    """An action another part of the platform provides (Cards II, card use): 503 until it is installed here."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise Unavailable(
            _("This interface is not available on this node yet."), code="interface_unavailable"
        ) from None


def _both(message) -> tuple[str, str]:
    with override("zh-hans"):
        zh = str(message)
    with override("en"):
        en = str(message)
    return zh, en


@functools.cache
def _messages(code: str) -> tuple[str, str]:
    """A status code's message in Chinese and English (the catalogues are fixed while the process runs)."""
    return _both(MESSAGES[code])


_DATETIME, _DATE = serializers.DateTimeField(), serializers.DateField()


def _check_dict(check) -> dict:
    return {"card_no": check.card_no, "chip": check.chip, "code": check.code, "usable": check.code in USABLE}


def _resident_by_number(number: str) -> Resident | None:
    return Resident.objects.filter(document_index=blind_index(number, family="id_number")).first()


def _card_find(card_no: str, chip: str) -> Card:
    card_find = _interface("cards.selectors.cards", "card_find")  # Cards II
    card = card_find(card_no=normal_card_no(card_no), chip_serial=normal_chip(chip))
    if card is None:
        raise NotFoundError(
            _("No card with this number (and chip) is known on this node; it may not have synced yet."),
            code="card_unknown_here",
        )
    return card


def _card_answer(card: Card) -> dict:
    return {
        "card_no": mask_id_number(card.card_no),
        "chip_serial": card.chip_serial,
        "status": card.status,
        "expires_on": card.expires_on,
    }


class IdentityVerifyView(PartnerView):
    @extend_schema(
        operation_id="hospital_identity_verify",
        summary="Verify an ID number (and name)",
        description="Is the number well formed, is a holder with it known here, does the name sent match? "
        "Never returns personal data the caller did not send.",
        request=s.IdentityVerifySerializer,
        responses={200: s.IdentityResultSerializer, **ERRORS},
        examples=[
            OpenApiExample(
                "Request", value={"id_number": "610113198506150012", "name": "王小明"}, request_only=True
            ),
            OpenApiExample(
                "Known, name matches",
                value={"valid": True, "problem": None, "known_here": True, "name_matches": True},
                response_only=True,
            ),
        ],
    )
    def post(self, request):
        data = s.IdentityVerifySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        number, name = data.validated_data["id_number"], data.validated_data.get("name", "")
        answer = {"valid": True, "problem": None, "known_here": False, "name_matches": None}
        try:
            number = clean_id_number(number)
        except DomainError as refusal:
            answer.update(valid=False, problem=refusal.code)
            number = number.strip().upper()
        resident = _resident_by_number(number)
        if resident is not None and resident.document_type == data.validated_data["document_type"]:
            answer["known_here"] = True
            if name.strip():
                answer["name_matches"] = "".join(name.split()) == "".join(resident.name.split())
        return Response(s.IdentityResultSerializer(answer).data)


def _status_answer(card_no: str, chip: str, pending: PendingCheck | None = None) -> dict:
    check, number = (pending or PendingCheck(card_no, chip)).result()
    zh, en = _messages(check.code)
    # The CardStatusSerializer's shape, written out (this is the call every hospital makes at every visit).
    return {
        **_check_dict(check),
        "message_zh": zh,
        "message_en": en,
        "card_status": check.card_status,
        "status_since": None
        if check.status_since is None
        else _DATETIME.to_representation(check.status_since),
        "expires_on": None if check.expires_on is None else _DATE.to_representation(check.expires_on),
        "list_number": number,
        "checked_at": _DATETIME.to_representation(timezone.now()),
    }


JSON_ACCEPTS = {"", "*/*", "application/json", "application/*"}


def _lean_eligible(request) -> bool:
    """A signed call asking for JSON (what integrators send); a browser (the browsable API) or ?format= goes
    DRF's way."""
    return (
        "HTTP_X_HC_SIGNATURE" in request.META
        and request.META.get("HTTP_ACCEPT", "").strip() in JSON_ACCEPTS
        and "format" not in request.GET
    )


class CardStatusView(PartnerWriteView):
    """GET: the card's state. POST: a loss report / revocation made at the hospital (Cards II)."""

    @extend_schema(
        operation_id="hospital_card_status",
        summary="The state of one physical card",
        description="Card number + chip serial, checked against this node's cards and the current blacklist. "
        "Codes: "
        + ", ".join(f"`{code}`" for code in MESSAGES)
        + ". `unknown_here` means not known on this node (it may not have synced yet), not invalid.",
        parameters=[
            OpenApiParameter("chip", OpenApiTypes.STR, description="The chip serial read from the card.")
        ],
        responses={200: s.CardStatusSerializer, **ERRORS},
        examples=[
            OpenApiExample(
                "An active card",
                value={
                    "card_no": "610113198506150012",
                    "chip": "A1B2C3D4E5F60708",
                    "code": "active",
                    "usable": True,
                    "message_zh": "卡片有效，可以使用。",
                    "message_en": "The card is active: it may be used.",
                    "card_status": "active",
                    "status_since": "2026-03-02T09:15:00+08:00",
                    "expires_on": "2036-03-02",
                    "list_number": 1842,
                    "checked_at": "2026-11-21T10:00:00+08:00",
                },
            )
        ],
    )
    def get(self, request, card_no: str):
        return Response(_status_answer(card_no, request.query_params.get("chip", "")))

    def dispatch(self, request, *args, **kwargs):
        """The card check is the call every hospital makes at every visit: a signed JSON GET takes a lean path
        doing what DRF's dispatch would (signature, rate limit, institution type, the same answer and the same
        errors through handle_exception) without its per-request machinery (request wrapper, content
        negotiation, renderer). Anything else (unsigned, another format asked for, the POST) takes DRF's path."""
        if request.method == "GET" and _lean_eligible(request):
            return self._lean_get(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def _lean_get(self, request, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
        self.headers = self.default_response_headers
        principal = None
        card_no, chip = kwargs["card_no"], request.GET.get("chip", "")
        try:
            # The card is read while the signature's claim is on its way to Redis (one wait, not two); the rows
            # are only used once the claim let the call through, and discarded with any refusal.
            pending = PendingCheck(card_no, chip)
            signed = self.get_authenticators()[0].authenticate(request, meanwhile=pending.send)
            if signed is None:  # no signature headers after all: DRF's path refuses it its own way
                return super().dispatch(request, *args, **kwargs)
            principal, credential = signed
            request.user, request.auth = principal, credential  # as DRF's Request would set them
            throttle = self.throttle_classes[0]()
            if not throttle.allow_request(request, self):
                self.throttled(request, throttle.wait())
            if not isinstance(principal.institution, self.institution_types):
                raise PermissionDeniedError(
                    _("This interface is not open to your kind of institution."),
                    code="institution_type_refused",
                )
            answer = _status_answer(card_no, chip, pending)
        except Exception as exc:  # the very same error answers as DRF's path
            self.request = drf_request = self.initialize_request(request, *args, **kwargs)
            if principal is None:  # never authenticate twice (the nonce is spent)
                drf_request._not_authenticated()
            else:
                drf_request.user, drf_request.auth = principal, request.auth
            response = self.handle_exception(exc)
            return self.finalize_response(drf_request, response, *args, **kwargs)
        return HttpResponse(
            json.dumps(answer, ensure_ascii=False, separators=(",", ":")),  # what DRF's JSONRenderer writes
            content_type="application/json",
            headers=self.headers,
        )

    @extend_schema(
        operation_id="hospital_card_status_change",
        summary="Report a card lost, or revoke the loss, at the hospital",
        parameters=[IDEMPOTENCY_HEADER],
        request=s.CardStatusChangeSerializer,
        responses={200: s.CardAnswerSerializer, 404: s.ErrorSerializer, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "Loss report",
                value={
                    "action": "report_loss",
                    "chip": "A1B2C3D4E5F60708",
                    "document_type": "01",
                    "document_number": "610113198506150012",
                    "note": "持卡人电话挂失",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request, card_no: str):
        data = s.CardStatusChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        card = _card_find(card_no, values["chip"])
        name = "card_report_loss" if values["action"] == "report_loss" else "card_unreport_loss"
        action = _interface("cards.actions", name)  # Cards II
        card = action(
            actor=self.actor(),
            card=card,
            document_type=values["document_type"],
            document_number=values["document_number"],
            note=values["note"],
            institution=self.institution,
        )
        return Response(s.CardAnswerSerializer(_card_answer(card)).data)


class VerifyBatchView(PartnerView):
    @extend_schema(
        operation_id="hospital_cards_verify_batch",
        summary="Check up to 1,000 cards in one call",
        description="A front-end server's morning check: the same codes as the single status, in order.",
        request=s.VerifyBatchSerializer,
        responses={200: s.VerifyBatchResultSerializer, **ERRORS},
        examples=[
            OpenApiExample(
                "Two cards",
                value={
                    "cards": [
                        {"card_no": "610113198506150012", "chip": "A1B2C3D4E5F60708"},
                        {"card_no": "610113199001010019", "chip": "0011223344556677"},
                    ]
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        checks, number = card_status_codes(_batch_pairs(request.data))
        answer = {
            "list_number": number,
            "checked_at": timezone.now(),
            "counts": dict(Counter(code for _card_no, _chip, code in checks)),
            "results": [
                {"card_no": card_no, "chip": chip, "code": code, "usable": code in USABLE}
                for card_no, chip, code in checks
            ],
        }
        return Response(answer)


def _batch_pairs(payload) -> list[tuple[str, str]]:
    """A fast path for the common, well-formed body; the serializer explains anything else."""
    cards = payload.get("cards") if isinstance(payload, dict) else None
    if (
        isinstance(cards, list)
        and 0 < len(cards) <= s.MAX_BATCH
        and len(payload) == 1
        and all(
            isinstance(item, dict)
            and isinstance(item.get("card_no"), str)
            and 0 < len(item["card_no"]) <= 40
            and isinstance(item.get("chip", ""), str)
            and len(item.get("chip", "")) <= 40
            for item in cards
        )
    ):
        return [(item["card_no"], item.get("chip", "")) for item in cards]
    data = s.VerifyBatchSerializer(data=payload)
    data.is_valid(raise_exception=True)
    return [(item["card_no"], item["chip"]) for item in data.validated_data["cards"]]


class CardIssuedView(PartnerWriteView):
    @extend_schema(
        operation_id="hospital_card_issued",
        summary="A card issued on site at the hospital (issuance sync)",
        description="The holder must be registered here. Uses the holder's approved on-site application (or the "
        "one named), or applies on the spot; the card is allocated, its chip serial recorded, and it is active.",
        parameters=[IDEMPOTENCY_HEADER],
        request=s.CardIssuedSerializer,
        responses={201: s.CardIssuedResultSerializer, 404: s.ErrorSerializer, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "Issued at the hospital",
                value={"id_number": "610113198506150012", "chip_serial": "A1B2C3D4E5F60708"},
                request_only=True,
            )
        ],
    )
    def post(self, request):
        data = s.CardIssuedSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        chip = clean_chip_serial(values["chip_serial"])
        resident = _resident_by_number(normal_card_no(values["id_number"]))
        if resident is None or resident.document_type != values["document_type"]:
            raise NotFoundError(
                _("No holder with this document is registered here: register the holder first."),
                code="holder_unknown_here",
            )
        actor = self.actor()
        application = _onsite_application(resident, values["application_number"])
        if application is None:
            application = application_submit(
                actor=actor,
                resident=resident,
                channel=ApplicationChannel.ONSITE,
                institution=self.institution,
            )
        card = card_issue_onsite_allocate(actor=actor, application=application, institution=self.institution)
        try:
            card = card_issue_onsite_complete(actor=actor, card=card, chip_serial=chip)
        except DomainError:
            card_issue_onsite_abort(
                actor=actor, card=card, reason=str(_("The hospital's issuance was refused."))
            )
            raise
        answer = {**_card_answer(card), "application_number": application.number}
        return Response(s.CardIssuedResultSerializer(answer).data, status=status.HTTP_201_CREATED)


def _onsite_application(resident: Resident, number: str) -> Application | None:
    applications = Application.objects.filter(resident=resident, status=ApplicationStatus.APPROVED)
    if number:
        application = applications.filter(number=number).first()
        if application is None:
            raise NotFoundError(
                _("Application %(number)s is not an approved application of this holder."),
                {"number": number},
                code="application_unknown",
            )
        return application
    return (
        applications.filter(
            channel__in=(ApplicationChannel.ONSITE, ApplicationChannel.KIOSK, ApplicationChannel.COUNTER)
        )
        .order_by("-id")
        .first()
    )


class ReplacementView(PartnerWriteView):
    @extend_schema(
        operation_id="hospital_card_replacement",
        summary="A replacement done at the hospital",
        description="The old card becomes `replaced` (permanently blacklisted). With `new_chip_serial` the new "
        "card was written on site and is active at once; without it a replacement application enters production.",
        parameters=[IDEMPOTENCY_HEADER],
        request=s.ReplacementSerializer,
        responses={201: s.CardAnswerSerializer, 404: s.ErrorSerializer, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "Replaced on site",
                value={
                    "chip": "A1B2C3D4E5F60708",
                    "reason": "damaged",
                    "new_chip_serial": "B1B2C3D4E5F60799",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request, card_no: str):
        data = s.ReplacementSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        card = _card_find(card_no, values["chip"])
        new_chip = clean_chip_serial(values["new_chip_serial"]) if values["new_chip_serial"] else ""
        new = _interface("cards.actions", "card_replace")(  # Cards II
            actor=self.actor(),
            card=card,
            reason=values["reason"],
            note=values["note"],
            new_chip_serial=new_chip,
            institution=self.institution,
        )
        return Response(s.CardAnswerSerializer(_card_answer(new)).data, status=status.HTTP_201_CREATED)


class ResidentPatchView(PartnerWriteView):
    @extend_schema(
        operation_id="hospital_resident_update",
        summary="Change a holder's contacts (address, phone, emergency contacts)",
        description="Identity fields (name, document, birth date, sex) are never changed here; the change is "
        "audited. The answer shows the new values masked.",
        parameters=[IDEMPOTENCY_HEADER],
        request=s.ResidentPatchSerializer,
        responses={200: s.ResidentAnswerSerializer, 404: s.ErrorSerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("New phone", value={"phone1": "13800138000"}, request_only=True)],
    )
    def patch(self, request, card_no: str):
        data = s.ResidentPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        resident = _resident_by_number(normal_card_no(card_no))
        if resident is None:
            raise NotFoundError(
                _("No holder with this card number is registered here."), code="holder_unknown_here"
            )
        changes = dict(data.validated_data)
        if "contacts" in changes:
            changes["contacts"] = [dict(contact) for contact in changes["contacts"]]
        update = _interface("cards.actions", "holder_contacts_update")  # Cards II
        resident = update(actor=self.actor(), resident=resident, changes=changes)
        answer = {
            "changed": sorted(changes),
            "phone1": mask_phone(resident.phone1 or ""),
            "address1": mask_address(resident.address1 or ""),
        }
        return Response(s.ResidentAnswerSerializer(answer).data)


class CardPatchView(PartnerWriteView):
    @extend_schema(
        operation_id="hospital_card_update",
        summary="Change what a hospital may change on a card",
        parameters=[IDEMPOTENCY_HEADER],
        request=s.CardPatchSerializer,
        responses={200: s.CardAnswerSerializer, 404: s.ErrorSerializer, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "New expiry",
                value={"chip": "A1B2C3D4E5F60708", "expires_on": "2036-03-02"},
                request_only=True,
            )
        ],
    )
    def patch(self, request, card_no: str):
        data = s.CardPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        card = _card_find(card_no, values.pop("chip", ""))
        card = _interface("cards.actions", "card_info_update")(actor=self.actor(), card=card, changes=values)
        return Response(s.CardAnswerSerializer(_card_answer(card)).data)


class BinaryRenderer(BaseRenderer):
    media_type = "application/octet-stream"
    format = "bin"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return json.dumps(data, ensure_ascii=False).encode()  # an error answer


def _list_document(*, list_name: str, since: int | None):
    from registry import lists as registry_lists

    if since is None:
        return registry_lists.list_snapshot(list_name=list_name)
    return registry_lists.list_delta(list_name=list_name, since=since)  # 409 snapshot_required


def _document_json(doc) -> dict:
    from registry.node import sign

    answer = doc.as_json()
    body = json.dumps(answer, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    answer["signature"] = sign(body)
    return answer


class ListView(PartnerView):
    renderer_classes = [JSONRenderer, BinaryRenderer]
    list_name = lists.BLACKLIST
    snapshot = True

    def get(self, request):
        since = None
        if not self.snapshot:
            raw = request.query_params.get("since", "0")
            if not raw.isdigit():
                raise DomainError(
                    _("since is a list number (0 or more)."), code="invalid_since", detail={"field": "since"}
                )
            since = int(raw)
        if request.accepted_renderer.format == "bin":
            from registry import lists as registry_lists

            blob = registry_lists.list_file(list_name=self.list_name, since=since)  # 409 snapshot_required
            number = registry_lists.list_header(blob)["number"]
            return Response(
                blob, content_type="application/octet-stream", headers={"X-HC-List-Number": str(number)}
            )
        doc = _list_document(list_name=self.list_name, since=since)
        return Response(_document_json(doc), headers={"X-HC-List-Number": str(doc.number)})


LIST_RESPONSES = {
    (200, "application/json"): s.ListDocumentSerializer,
    (200, "application/octet-stream"): OpenApiTypes.BINARY,
    **ERRORS,
    503: OpenApiResponse(s.ErrorSerializer, description="The list is not available on this node yet."),
}
LIST_DESCRIPTION = (
    "JSON (Accept: application/json) or the signed compact binary file (Accept: application/octet-stream); "
    "the JSON form's `signature` is the node's Ed25519 signature over the JSON without it (sorted keys, no spaces)."
)


class BlacklistDeltaView(ListView):
    snapshot = False

    @extend_schema(
        operation_id="hospital_blacklist_delta",
        summary="Blacklist changes since a list number",
        description="The changes after list number `since`. " + LIST_DESCRIPTION,
        parameters=[
            OpenApiParameter("since", OpenApiTypes.INT, description="The last list number you hold.")
        ],
        responses={
            **LIST_RESPONSES,
            409: OpenApiResponse(s.ErrorSerializer, description="Download the snapshot."),
        },
    )
    def get(self, request):
        return super().get(request)


class BlacklistSnapshotView(ListView):
    @extend_schema(
        operation_id="hospital_blacklist_snapshot",
        summary="The whole current blacklist",
        description="Signed, with its list number, issue time and next update. " + LIST_DESCRIPTION,
        responses=LIST_RESPONSES,
    )
    def get(self, request):
        return super().get(request)


class WhitelistSnapshotView(ListView):
    list_name = lists.WHITELIST

    @extend_schema(
        operation_id="hospital_whitelist_snapshot",
        summary="The whole current whitelist (active cards)",
        description=LIST_DESCRIPTION,
        responses=LIST_RESPONSES,
    )
    def get(self, request):
        return super().get(request)


class CardUsesView(PartnerWriteView):
    institution_types = (MedicalInstitution,)

    @extend_schema(
        operation_id="hospital_card_uses",
        summary="A batch of card use records",
        description="Each record: card_no, chip_serial, used_at (ISO 8601), scenario. Unknown cards are "
        "rejected with their reasons; a use sent twice counts once.",
        parameters=[IDEMPOTENCY_HEADER],
        request=s.CardUseBatchSerializer,
        responses={201: s.CardUseResultSerializer, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "One use",
                value={
                    "batch_id": "20261121-001",
                    "records": [
                        {
                            "card_no": "610113198506150012",
                            "chip_serial": "A1B2C3D4E5F60708",
                            "used_at": "2026-11-21T08:30:00+08:00",
                            "scenario": "outpatient",
                        }
                    ],
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        data = s.CardUseBatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = _interface("cards.actions.uses", "card_use_ingest_batch")(
            actor=self.actor(),
            institution=self.institution,
            batch_id=data.validated_data["batch_id"],
            records=[dict(record) for record in data.validated_data["records"]],
        )
        return Response(result.as_dict(), status=status.HTTP_201_CREATED)
