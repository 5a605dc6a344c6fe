"""The bank and regional-platform interfaces (same signing, rate limits and idempotency as the hospital API).

Banks (financial institutions) that issue financial-function cards submit card applications and loss reports and
read the status changes of the cards and applications that came through them. The regional health information
platform uploads institutions and holders in bulk through the same importers the admin uses."""

from __future__ import annotations

import io

from django.conf import settings
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import BaseParser
from rest_framework.response import Response

from cards.actions import application_submit
from cards.choices import ApplicationChannel, DocumentType
from cards.models import CardEvent
from exchange.hospital import serializers as s
from exchange.hospital.base import PartnerView, PartnerWriteView
from exchange.hospital.views import (
    ERRORS,
    IDEMPOTENCY_HEADER,
    WRITE_ERRORS,
    _card_answer,
    _card_find,
    _interface,
    _resident_by_number,
)
from institutions.models import FinancialInstitution, MedicalInstitution
from registry.errors import DomainError, NotFoundError, PermissionDeniedError
from registry.imports import import_check, import_commit, import_spec
from registry.protection import mask_id_number

CHANGES_PAGE = 500


class BankApplicationSerializer(serializers.Serializer):
    id_number = serializers.CharField(max_length=40)
    document_type = serializers.ChoiceField(choices=DocumentType.choices, default=DocumentType.ID_CARD)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class BankApplicationAnswerSerializer(serializers.Serializer):
    number = serializers.CharField()
    status = serializers.CharField()
    channel = serializers.CharField()


class BankLossReportSerializer(serializers.Serializer):
    card_no = serializers.CharField(max_length=40)
    chip = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    document_type = serializers.ChoiceField(choices=DocumentType.choices, default=DocumentType.ID_CARD)
    document_number = serializers.CharField(max_length=40)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class StatusChangeSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text=_("Pass the last id you hold as `since`."))
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    application_number = serializers.CharField(allow_null=True)
    card_no = serializers.CharField(allow_null=True, help_text=_("Masked."))
    chip_serial = serializers.CharField(allow_null=True)
    card_status = serializers.CharField(allow_null=True)


class StatusChangesSerializer(serializers.Serializer):
    changes = StatusChangeSerializer(many=True)
    next_since = serializers.IntegerField()
    more = serializers.BooleanField()


class BankView(PartnerWriteView):
    institution_types = (FinancialInstitution,)


class BankApplicationView(BankView):
    @extend_schema(
        operation_id="bank_application_submit",
        summary="A bank branch applies for a card for a registered holder",
        parameters=[IDEMPOTENCY_HEADER],
        request=BankApplicationSerializer,
        responses={201: BankApplicationAnswerSerializer, 404: s.ErrorSerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("Apply", value={"id_number": "610113198506150012"}, request_only=True)],
    )
    def post(self, request):
        data = BankApplicationSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        resident = _resident_by_number(values["id_number"].strip().upper())
        if resident is None or resident.document_type != values["document_type"]:
            raise NotFoundError(
                _("No holder with this document is registered here: register the holder first."),
                code="holder_unknown_here",
            )
        application = application_submit(
            actor=self.actor(),
            resident=resident,
            channel=ApplicationChannel.BANK,
            institution=self.institution,
            note=values["note"],
        )
        answer = {"number": application.number, "status": application.status, "channel": application.channel}
        return Response(BankApplicationAnswerSerializer(answer).data, status=status.HTTP_201_CREATED)


class BankLossReportView(BankView):
    @extend_schema(
        operation_id="bank_loss_report",
        summary="A loss report taken at a bank branch",
        parameters=[IDEMPOTENCY_HEADER],
        request=BankLossReportSerializer,
        responses={200: s.CardAnswerSerializer, 404: s.ErrorSerializer, **WRITE_ERRORS},
    )
    def post(self, request):
        data = BankLossReportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        card = _card_find(values["card_no"], values["chip"])
        card = _interface("cards.actions", "card_report_loss")(  # Cards II
            actor=self.actor(),
            card=card,
            document_type=values["document_type"],
            document_number=values["document_number"],
            note=values["note"],
            institution=self.institution,
        )
        return Response(s.CardAnswerSerializer(_card_answer(card)).data)


class BankStatusChangesView(PartnerView):
    institution_types = (FinancialInstitution,)

    @extend_schema(
        operation_id="bank_status_changes",
        summary="Status changes of the cards and applications that came through this bank",
        parameters=[
            OpenApiParameter(
                "since", OpenApiTypes.INT, description="The last change id you hold (0 at first)."
            )
        ],
        responses={200: StatusChangesSerializer, **ERRORS},
    )
    def get(self, request):
        raw = request.query_params.get("since", "0")
        if not raw.isdigit():
            raise DomainError(
                _("since is a change id (0 or more)."), code="invalid_since", detail={"field": "since"}
            )
        bank = self.institution
        events = list(
            CardEvent.objects.filter(
                Q(card__financial_institution=bank) | Q(application__financial_institution=bank),
                id__gt=int(raw),
            )
            .select_related("card", "application")
            .order_by("id")[: CHANGES_PAGE + 1]
        )
        more = len(events) > CHANGES_PAGE
        events = events[:CHANGES_PAGE]
        changes = [
            {
                "id": event.id,
                "at": event.at,
                "kind": event.kind,
                "application_number": event.application.number if event.application_id else None,
                "card_no": mask_id_number(event.card.card_no) if event.card_id else None,
                "chip_serial": (event.card.chip_serial or None) if event.card_id else None,
                "card_status": event.card.status if event.card_id else None,
            }
            for event in events
        ]
        answer = {"changes": changes, "next_since": events[-1].id if events else int(raw), "more": more}
        return Response(StatusChangesSerializer(answer).data)


# --- The regional health information platform --------------------------------------------------------------

REGIONAL_IMPORTS = {"institutions": "institutions.medical", "holders": "cards.holders"}


class RawFileParser(BaseParser):
    """The body is the file itself (CSV, XLSX or JSON, as the admin's import takes)."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return None


class ImportReportSerializer(serializers.Serializer):
    committed = serializers.BooleanField()
    total = serializers.IntegerField()
    valid = serializers.IntegerField()
    invalid_rows = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.DictField(), help_text=_("Personal values masked."))
    created = serializers.IntegerField(allow_null=True)
    updated = serializers.IntegerField(allow_null=True)


class RegionalImportView(PartnerWriteView):
    parser_classes = [RawFileParser]
    institution_types = (MedicalInstitution, FinancialInstitution)

    def check_permissions(self, request):
        super().check_permissions(request)
        allowed = getattr(settings, "HC_REGIONAL_PLATFORMS", [])
        if self.institution.code not in allowed:
            raise PermissionDeniedError(
                _("Only the regional health information platform uploads in bulk."),
                code="institution_type_refused",
            )

    @extend_schema(
        operation_id="regional_import",
        summary="Bulk upload of institutions or holders (regional health information platform)",
        description="The body is the file (CSV in UTF-8 or GB18030, XLSX or JSON, recognised by its content, with the columns of the admin's "
        "import template). Without `commit=1` the file is only checked; with it, valid files are applied in "
        "batches of 1,000 rows (re-uploading never duplicates: rows match by their key).",
        parameters=[
            IDEMPOTENCY_HEADER,
            OpenApiParameter("kind", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(REGIONAL_IMPORTS)),
            OpenApiParameter(
                "commit", OpenApiTypes.BOOL, description="Apply the rows (default: check only)."
            ),
            OpenApiParameter(
                "skip_invalid", OpenApiTypes.BOOL, description="Commit the valid rows, skip bad ones."
            ),
        ],
        request={"text/csv": OpenApiTypes.BINARY, "application/json": OpenApiTypes.BINARY},
        responses={200: ImportReportSerializer, 404: s.ErrorSerializer, **WRITE_ERRORS},
    )
    def post(self, request, kind: str):
        if kind not in REGIONAL_IMPORTS:
            raise NotFoundError(_("Unknown import “%(name)s”."), {"name": kind}, code="import_unknown")
        spec = import_spec(REGIONAL_IMPORTS[kind])
        commit = request.query_params.get("commit") in ("1", "true")
        skip_invalid = request.query_params.get("skip_invalid") in ("1", "true")
        body = io.BytesIO(request.body)
        if commit:
            report = import_commit(spec, body, actor=self.actor(), skip_invalid=skip_invalid)
        else:
            report = import_check(spec, body)
        answer = {
            "committed": commit,
            "total": report.total,
            "valid": report.valid,
            "invalid_rows": report.invalid_rows,
            "errors": [error.as_dict() for error in report.errors],
            "created": getattr(report, "created", None),
            "updated": getattr(report, "updated", None),
        }
        return Response(ImportReportSerializer(answer).data)
