"""Staff API of the cards app: production plans (generate, submit, start, close, the maker's files) and their
items. Thin: parse, check permission, call an action."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from cards import actions
from cards.actions.production import MAX_PLAN_SIZE
from cards.admin.production import PLAN_COLUMNS
from cards.choices import ApplicationChannel, PlanItemStatus
from cards.filtersets.production import ProductionPlanFilterSet
from cards.importers_production import PLAN_RETURN_IMPORT
from cards.models import PlanItem, ProductionPlan
from cards.personalisation import RETURN_COLUMNS
from institutions.choices import OrganisationStatus
from institutions.models import CardMaker
from registry.api.mixins import ExportMixin, ScopedViewSetMixin, api_actor
from registry.api.permissions import CanChange, ScopedModelPermissions
from registry.api.serializers import ReasonSerializer
from registry.errors import NotFoundError
from registry.imports import import_check, import_commit, import_spec
from registry.models import Region


class CanDownloadPersonalData(ScopedModelPermissions):
    """The personalisation file carries holders' data in clear: view and change permission."""

    perms_map = {
        **ScopedModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s", "%(app_label)s.change_%(model_name)s"],
    }


class ProductionPlanSerializer(serializers.ModelSerializer):
    card_maker = serializers.CharField(source="card_maker.code", read_only=True)
    card_maker_name = serializers.CharField(source="card_maker.name", read_only=True)
    region_name = serializers.CharField(source="region.full_name", read_only=True)
    success_rate = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = ProductionPlan
        fields = [
            "id",
            "number",
            "card_maker",
            "card_maker_name",
            "region",
            "region_name",
            "status",
            "status_changed_at",
            "size_cap",
            "item_count",
            "produced_count",
            "failed_count",
            "success_rate",
            "created_at",
            "note",
        ]
        read_only_fields = fields


class PlanItemSerializer(serializers.ModelSerializer):
    application = serializers.CharField(source="application.number", read_only=True)
    holder = serializers.CharField(source="application.resident.masked_name", read_only=True)
    document_number = serializers.CharField(
        source="application.resident.masked_document_number", read_only=True
    )

    class Meta:
        model = PlanItem
        fields = ["id", "application", "holder", "document_number", "status", "chip_serial", "failure_reason"]
        read_only_fields = fields


class PlanGenerateSerializer(serializers.Serializer):
    card_maker = serializers.CharField(help_text="The card maker's unified social credit code")
    region = serializers.CharField(help_text="GB/T 2260 code of the city or county")
    size_cap = serializers.IntegerField(min_value=1, max_value=MAX_PLAN_SIZE, default=5000)
    channel = serializers.ChoiceField(
        choices=[c for c in ApplicationChannel.values if c != ApplicationChannel.ONSITE],
        required=False,
        allow_blank=True,
        default="",
    )
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class ReturnRowSerializer(serializers.Serializer):
    item_id = serializers.IntegerField()
    card_no = serializers.CharField(required=False, allow_blank=True, default="")
    result = serializers.ChoiceField(choices=PlanItemStatus.values)
    chip_serial = serializers.CharField(required=False, allow_blank=True, default="")
    failure_reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class ReturnRowsSerializer(serializers.Serializer):
    rows = ReturnRowSerializer(many=True)


class ReturnOutcomeSerializer(serializers.Serializer):
    produced = serializers.IntegerField()
    failed = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    completed = serializers.BooleanField()


class ReturnFileSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="The return file: CSV (UTF-8) or XLSX with the columns " + ", ".join(RETURN_COLUMNS)
    )
    dry_run = serializers.BooleanField(
        default=True, help_text="Only check (the default); false applies the file"
    )


class ReturnReportSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    total = serializers.IntegerField()
    valid = serializers.IntegerField()
    errors_total = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.DictField())
    changed = serializers.IntegerField(required=False)
    unchanged = serializers.IntegerField(required=False)


class ProductionPlanViewSet(
    ExportMixin, ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Production plans (制卡计划) in the caller's region: query, generate, submit, start, close; download the
    personalisation file; apply the card maker's return file."""

    queryset = ProductionPlan.objects.select_related("card_maker", "region")
    serializer_class = ProductionPlanSerializer
    filterset_class = ProductionPlanFilterSet
    ordering_fields = ["number", "created_at", "status", "item_count"]
    export_columns = PLAN_COLUMNS
    export_title = _("Production plans")

    @extend_schema(request=PlanGenerateSerializer, responses={201: ProductionPlanSerializer})
    @action(detail=False, methods=["post"])
    def generate(self, request):
        """A draft plan of the oldest approved applications of a region, for one card maker, up to a cap."""
        data = PlanGenerateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        maker = CardMaker.objects.filter(code=values["card_maker"], status=OrganisationStatus.ACTIVE).first()
        if maker is None:
            raise NotFoundError(
                _("No active card maker with code %(code)s."),
                {"code": values["card_maker"]},
                code="card_maker_not_found",
            )
        region = Region.objects.filter(code=values["region"]).first()
        if region is None:
            raise NotFoundError(
                _("Unknown region code %(code)s."), {"code": values["region"]}, code="unknown_region"
            )
        plan = actions.plan_generate(
            actor=api_actor(request),
            card_maker=maker,
            region=region,
            size_cap=values["size_cap"],
            channel=values["channel"],
            note=values["note"],
        )
        return Response(ProductionPlanSerializer(plan).data, status=201)

    @extend_schema(request=None, responses=ProductionPlanSerializer)
    @action(detail=True, methods=["post"], permission_classes=[CanChange])
    def submit(self, request, pk=None):
        plan = actions.plan_submit(actor=api_actor(request), plan=self.get_object())
        return Response(ProductionPlanSerializer(plan).data)

    @extend_schema(request=None, responses=ProductionPlanSerializer)
    @action(detail=True, methods=["post"], permission_classes=[CanChange])
    def start(self, request, pk=None):
        """Production starts: the personalisation file has been handed over."""
        plan = actions.plan_start(actor=api_actor(request), plan=self.get_object())
        return Response(ProductionPlanSerializer(plan).data)

    @extend_schema(request=ReasonSerializer, responses=ProductionPlanSerializer)
    @action(detail=True, methods=["post"], permission_classes=[CanChange])
    def close(self, request, pk=None):
        reason = ReasonSerializer(data=request.data)
        reason.is_valid(raise_exception=True)
        plan = actions.plan_close(
            actor=api_actor(request), plan=self.get_object(), reason=reason.validated_data["reason"]
        )
        return Response(ProductionPlanSerializer(plan).data)

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    @action(
        detail=True,
        methods=["get"],
        url_path="personalisation-file",
        permission_classes=[CanDownloadPersonalData],
    )
    def personalisation_file(self, request, pk=None):
        """The card maker's personalisation file (ZIP: cards.csv, manifest.json, manifest.sig). Audited."""
        made = actions.plan_personalisation_file(actor=api_actor(request), plan=self.get_object())
        response = HttpResponse(made.content, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{made.filename}"'
        return response

    @extend_schema(responses=PlanItemSerializer(many=True))
    @action(detail=True, methods=["get"])
    def items(self, request, pk=None):
        """The plan's cards: holder masked, chip serial or failure reason."""
        plan = self.get_object()
        queryset = (
            PlanItem.objects.filter(plan=plan)
            .select_related("application", "application__resident")
            .order_by("id")
        )
        status = request.query_params.get("status")
        if status:
            queryset = queryset.filter(status=status)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(PlanItemSerializer(page, many=True).data)

    @extend_schema(request=ReturnRowsSerializer, responses=ReturnOutcomeSerializer)
    @action(detail=True, methods=["post"], url_path="return", permission_classes=[CanChange])
    def return_rows(self, request, pk=None):
        """Apply the card maker's results for this plan as JSON rows: all rows or none, idempotent."""
        data = ReturnRowsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = actions.plan_return_apply(
            actor=api_actor(request), plan=self.get_object(), rows=data.validated_data["rows"]
        )
        return Response(
            {
                "produced": outcome.produced,
                "failed": outcome.failed,
                "unchanged": outcome.unchanged,
                "completed": outcome.completed,
            }
        )

    @extend_schema(request=ReturnFileSerializer, responses=ReturnReportSerializer)
    @action(
        detail=False,
        methods=["post"],
        url_path="return-file",
        permission_classes=[CanChange],
        parser_classes=[MultiPartParser, FormParser],
    )
    def return_file(self, request):
        """Check (dry_run, the default) or apply a return file as the maker sends it; every bad row is reported
        with its row number and the problem in Chinese and English."""
        data = ReturnFileSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload, dry_run = data.validated_data["file"], data.validated_data["dry_run"]
        spec = import_spec(PLAN_RETURN_IMPORT)
        if dry_run:
            report = import_check(spec, upload, user=request.user, filename=upload.name)
            return Response(
                {
                    "dry_run": True,
                    "total": report.total,
                    "valid": report.valid,
                    "errors_total": report.errors_total,
                    "errors": [error.as_dict() for error in report.errors],
                }
            )
        result = import_commit(
            spec, upload, actor=api_actor(request), user=request.user, filename=upload.name
        )
        return Response(
            {
                "dry_run": False,
                "total": result.total,
                "valid": result.valid,
                "errors_total": result.errors_total,
                "errors": [error.as_dict() for error in result.errors],
                "changed": result.updated,
                "unchanged": result.unchanged,
            }
        )


ROUTES = [("production-plans", ProductionPlanViewSet, "production-plan")]
