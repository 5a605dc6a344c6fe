"""Staff API of card use: the records (masked cards), the batches (POST ingests one), the daily aggregates.

The hospital-facing `POST /api/v1/hospital/card-uses` (exchange) calls the same action."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.response import Response

from cards import actions
from cards.admin.uses import CARD_USE_BATCH_COLUMNS, CARD_USE_COLUMNS, CARD_USE_DAILY_COLUMNS
from cards.api.production import api_actor
from cards.filtersets.uses import CardUseDailyFilterSet, CardUseFilterSet
from cards.models import CardUse, CardUseBatch, CardUseDaily
from institutions.models import MedicalInstitution
from registry.api.mixins import ExportMixin, ScopedViewSetMixin
from registry.errors import NotFoundError
from registry.protection import mask_id_number
from registry.scope import scope_queryset


class CardUseSerializer(serializers.ModelSerializer):
    card_no = serializers.SerializerMethodField(help_text="Masked; empty for a rejected record")
    institution = serializers.CharField(source="institution.code", read_only=True)
    institution_name = serializers.CharField(source="institution.name", read_only=True)
    batch_id = serializers.CharField(source="batch.batch_id", read_only=True)

    class Meta:
        model = CardUse
        fields = [
            "id",
            "used_at",
            "institution",
            "institution_name",
            "card_no",
            "chip_serial",
            "scenario",
            "region",
            "status",
            "reason",
            "batch_id",
            "line",
        ]
        read_only_fields = fields

    def get_card_no(self, obj) -> str:
        return mask_id_number(obj.card.card_no) if obj.card_id else ""


class CardUseBatchSerializer(serializers.ModelSerializer):
    institution = serializers.CharField(source="institution.code", read_only=True)
    institution_name = serializers.CharField(source="institution.name", read_only=True)

    class Meta:
        model = CardUseBatch
        fields = [
            "id",
            "batch_id",
            "institution",
            "institution_name",
            "region",
            "received_at",
            "record_count",
            "accepted_count",
            "duplicate_count",
            "rejected_count",
        ]
        read_only_fields = fields


class CardUseIngestSerializer(serializers.Serializer):
    institution_code = serializers.CharField(
        help_text="Unified social credit code of the medical institution"
    )
    batch_id = serializers.CharField(max_length=64, help_text="The hospital's own id of this batch")
    records = serializers.ListField(
        child=serializers.DictField(),
        allow_empty=False,
        help_text=(
            "Each: card_no, chip_serial, used_at (ISO 8601; without an offset Asia/Shanghai time), scenario "
            "(registration, consultation, pharmacy, lab, settlement, inpatient_admission, rural_coop_settlement). "
            "A bad record is rejected with its reason; the others are taken."
        ),
    )


class CardUseDailySerializer(serializers.ModelSerializer):
    institution = serializers.CharField(source="institution.code", read_only=True)
    institution_name = serializers.CharField(source="institution.name", read_only=True)

    class Meta:
        model = CardUseDaily
        fields = ["id", "day", "institution", "institution_name", "scenario", "region", "count"]
        read_only_fields = fields


class CardUseRejectionSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    code = serializers.CharField()
    message_zh = serializers.CharField()
    message_en = serializers.CharField()


class CardUseIngestResultSerializer(serializers.Serializer):
    batch_id = serializers.CharField()
    institution = serializers.CharField()
    records = serializers.IntegerField()
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = CardUseRejectionSerializer(many=True)
    resent = serializers.BooleanField(help_text="True: this batch was received before; the first result")
    received_at = serializers.DateTimeField()


class CardUseViewSet(
    ExportMixin, ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Card use records (刷卡记录) in the caller's region: filter by institution, scenario, status, region, date."""

    queryset = CardUse.objects.select_related("institution", "region", "card", "batch")
    serializer_class = CardUseSerializer
    filterset_class = CardUseFilterSet
    ordering_fields = ["used_at", "id"]
    export_columns = CARD_USE_COLUMNS
    export_title = _("Card uses")


class CardUseBatchViewSet(
    ExportMixin,
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Batches of card uses; POST ingests one (idempotent by institution + batch id)."""

    queryset = CardUseBatch.objects.select_related("institution", "region")
    serializer_class = CardUseBatchSerializer
    filterset_fields = ["batch_id"]
    ordering_fields = ["received_at", "id"]
    export_columns = CARD_USE_BATCH_COLUMNS
    export_title = _("Card use batches")

    @extend_schema(
        request=CardUseIngestSerializer,
        responses={
            201: CardUseIngestResultSerializer,
            200: CardUseIngestResultSerializer,
            409: OpenApiTypes.OBJECT,
        },
    )
    def create(self, request, *args, **kwargs):
        """Ingest a batch: 201 with the counts and rejected records; 200 with the first result when the same
        batch is sent again; 409 when the batch id was used for other records."""
        data = CardUseIngestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        code = values["institution_code"].strip().upper()
        institution = scope_queryset(MedicalInstitution.objects.all(), request.user).filter(code=code).first()
        if institution is None:
            raise NotFoundError(
                _("No medical institution with code %(code)s in your region."),
                {"code": code},
                code="institution_not_found",
            )
        result = actions.card_use_ingest_batch(
            actor=api_actor(request),
            institution=institution,
            batch_id=values["batch_id"],
            records=values["records"],
        )
        return Response(result.as_dict(), status=200 if result.resent else 201)


class CardUseDailyViewSet(
    ExportMixin, ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Card uses per day, institution and scenario (what statistics read)."""

    queryset = CardUseDaily.objects.select_related("institution", "region")
    filterset_class = CardUseDailyFilterSet
    ordering_fields = ["day", "count"]
    export_columns = CARD_USE_DAILY_COLUMNS
    export_title = _("Daily card uses")

    serializer_class = CardUseDailySerializer


ROUTES = [
    ("card-uses", CardUseViewSet, "card-use"),
    ("card-use-batches", CardUseBatchViewSet, "card-use-batch"),
    ("card-use-daily", CardUseDailyViewSet, "card-use-daily"),
]
