"""Views of the personal self-query (public, for the residents' mobile page) and of the electronic health card
(request-signed, for hospitals)."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from cards.choices import CardStatus
from exchange import actions as exchange_actions
from exchange.hospital import ehc as ehc_module
from exchange.hospital import serializers as s
from exchange.hospital.base import PartnerView, PartnerWriteView
from exchange.hospital.selfquery import SelfQueryThrottled, selfquery_code_send, selfquery_result
from exchange.hospital.views import ERRORS, IDEMPOTENCY_HEADER, WRITE_ERRORS, _both, _resident_by_number
from exchange.models import ElectronicHealthCard
from registry.errors import NotFoundError
from registry.protection import mask_name

# --- Personal self-query -------------------------------------------------------------------------------------


class SelfQueryCodeSerializer(serializers.Serializer):
    id_number = serializers.CharField(max_length=40)
    name = serializers.CharField(max_length=60)


class SelfQueryCodeAnswerSerializer(serializers.Serializer):
    message_zh = serializers.CharField()
    message_en = serializers.CharField()
    expires_in = serializers.IntegerField()


class SelfQueryResultRequestSerializer(SelfQueryCodeSerializer):
    code = serializers.CharField(max_length=10)


class SelfQueryCardSerializer(serializers.Serializer):
    card_no = serializers.CharField(help_text=_("Masked."))
    chip_serial = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(choices=CardStatus.choices)
    status_label = serializers.CharField()
    expires_on = serializers.DateField(allow_null=True)


class SelfQueryEventSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    label = serializers.CharField()
    institution = serializers.CharField(allow_blank=True)


class SelfQueryAnswerSerializer(serializers.Serializer):
    holder = serializers.CharField(help_text=_("Masked."))
    document = serializers.CharField(help_text=_("Masked."))
    cards = SelfQueryCardSerializer(many=True)
    history = SelfQueryEventSerializer(many=True)


def _client(request) -> str:
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    return forwarded.split(",")[0].strip() if forwarded else request.META.get("REMOTE_ADDR", "")


class SelfQueryView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser]

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        if isinstance(exc, SelfQueryThrottled):
            response["Retry-After"] = str(exc.wait)
        return response


class SelfQueryCodeView(SelfQueryView):
    @extend_schema(
        operation_id="selfquery_code",
        summary="Ask for a one-time code (sent to the phone on record)",
        description="The answer is the same whether or not the ID number and name match a holder.",
        request=SelfQueryCodeSerializer,
        responses={202: SelfQueryCodeAnswerSerializer, 400: s.ErrorSerializer, 429: s.ErrorSerializer},
        auth=[],
    )
    def post(self, request):
        data = SelfQueryCodeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        lifetime = selfquery_code_send(**data.validated_data, client=_client(request))
        zh, en = _both(
            _("If the ID number and name are those of a holder, a code was sent to the phone on record.")
        )
        return Response(
            {"message_zh": zh, "message_en": en, "expires_in": lifetime}, status=status.HTTP_202_ACCEPTED
        )


class SelfQueryResultView(SelfQueryView):
    @extend_schema(
        operation_id="selfquery_result",
        summary="The holder's cards and case history, masked",
        request=SelfQueryResultRequestSerializer,
        responses={200: SelfQueryAnswerSerializer, 400: s.ErrorSerializer, 429: s.ErrorSerializer},
        auth=[],
    )
    def post(self, request):
        data = SelfQueryResultRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        answer = selfquery_result(**data.validated_data, client=_client(request))
        return Response(SelfQueryAnswerSerializer(answer).data)


# --- Electronic health card ----------------------------------------------------------------------------------


class EhcIssueSerializer(serializers.Serializer):
    id_number = serializers.CharField(max_length=40)


class EhcSerializer(serializers.Serializer):
    ehc_id = serializers.CharField()
    status = serializers.CharField()
    issued_at = serializers.DateTimeField()
    code = serializers.CharField(help_text=_("A dynamic code: ehcid:type:expiry:signature."))
    expires_at = serializers.IntegerField(help_text=_("Unix seconds."))


class EhcVerifySerializer(serializers.Serializer):
    code = serializers.CharField(max_length=300)


class EhcVerifyAnswerSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    result = serializers.CharField(
        help_text=_("valid, malformed, bad_signature, expired, unknown_here or revoked.")
    )
    ehc_id = serializers.CharField(allow_null=True)
    id_number = serializers.CharField(allow_null=True, help_text=_("The holder's ID number (audited)."))
    name = serializers.CharField(allow_null=True, help_text=_("Masked."))
    card_status = serializers.CharField(allow_null=True)


def _ehc_answer(ehc: ElectronicHealthCard) -> dict:
    code, expires_at = ehc_module.ehc_code(ehc)
    return {
        "ehc_id": ehc.ehc_id,
        "status": ehc.status,
        "issued_at": ehc.issued_at,
        "code": code,
        "expires_at": expires_at,
    }


class EhcIssueView(PartnerWriteView):
    @extend_schema(
        operation_id="hospital_ehc_issue",
        summary="Issue the holder's electronic health card (one per holder)",
        parameters=[IDEMPOTENCY_HEADER],
        request=EhcIssueSerializer,
        responses={201: EhcSerializer, 200: EhcSerializer, 404: s.ErrorSerializer, **WRITE_ERRORS},
    )
    def post(self, request):
        data = EhcIssueSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        resident = _resident_by_number(data.validated_data["id_number"].strip().upper())
        if resident is None:
            raise NotFoundError(
                _("No holder with this document is registered here: register the holder first."),
                code="holder_unknown_here",
            )
        ehc, created = exchange_actions.ehc_issue(actor=self.actor(), resident=resident)
        return Response(EhcSerializer(_ehc_answer(ehc)).data, status=201 if created else 200)


class EhcQrView(PartnerView):
    @extend_schema(
        operation_id="hospital_ehc_qr",
        summary="The e-card's QR code with a fresh dynamic code",
        parameters=[
            OpenApiParameter("as", OpenApiTypes.STR, enum=["svg", "png"], description="Image format (svg).")
        ],
        responses={
            (200, "image/svg+xml"): OpenApiTypes.BINARY,
            (200, "image/png"): OpenApiTypes.BINARY,
            404: OpenApiResponse(s.ErrorSerializer),
            **ERRORS,
        },
    )
    def get(self, request, ehc_id: str):
        ehc = ElectronicHealthCard.objects.filter(ehc_id=ehc_id).first()
        if ehc is None:
            raise NotFoundError(_("No such e-card on this node."), code="ehc_unknown_here")
        code, expires_at = ehc_module.ehc_code(ehc)
        image, content_type = ehc_module.ehc_qr(
            code, kind="png" if request.query_params.get("as") == "png" else "svg"
        )
        response = HttpResponse(image, content_type=content_type)
        response["X-HC-Code-Expires"] = str(expires_at)
        return response


class EhcVerifyView(PartnerView):
    @extend_schema(
        operation_id="hospital_ehc_verify",
        summary="Verify a scanned e-card code",
        request=EhcVerifySerializer,
        responses={200: EhcVerifyAnswerSerializer, **ERRORS},
        examples=[
            OpenApiExample("Scan", value={"code": "3f9a...:01:1795300000:MEUCIQ..."}, request_only=True)
        ],
    )
    def post(self, request):
        data = EhcVerifySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result, ehc = ehc_module.ehc_verify(data.validated_data["code"])
        answer = {
            "valid": result == ehc_module.EhcResult.VALID,
            "result": result,
            "ehc_id": None,
            "id_number": None,
            "name": None,
            "card_status": None,
        }
        if ehc is not None:
            resident = ehc.resident
            card = resident.cards.filter(status__in=("active", "lost")).order_by("-id").first()
            answer.update(
                ehc_id=ehc.ehc_id, name=mask_name(resident.name), card_status=card.status if card else None
            )
            if answer["valid"]:
                answer["id_number"] = resident.document_number
                ehc_module.ehc_verify_record(actor=self.actor(), ehc=ehc)
        return Response(EhcVerifyAnswerSerializer(answer).data)
