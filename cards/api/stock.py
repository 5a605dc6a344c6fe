"""Staff API of the cards app: stock-ins, stock-outs to issuing points, shipments (logistics). Thin: parse,
check permission, call an action."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cards import actions
from cards.admin.stock import SHIPMENT_COLUMNS, STOCK_IN_COLUMNS, STOCK_OUT_COLUMNS
from cards.choices import ShipmentStatus
from cards.filtersets.stock import ShipmentFilterSet, StockInFilterSet, StockOutFilterSet
from cards.models import Card, ProductionPlan, Shipment, StockIn, StockOut
from cards.selectors.stock import cards_in_stock
from institutions.models import FinancialInstitution, MedicalInstitution
from registry.api.mixins import ExportMixin, ScopedViewSetMixin, api_actor
from registry.api.permissions import CanChange
from registry.errors import DomainError, NotFoundError
from registry.scope import scope_queryset


def _point(obj) -> dict:
    point = obj.issuing_point
    return {"code": point.code, "name": point.name} if point else {}


class StockInSerializer(serializers.ModelSerializer):
    plan = serializers.CharField(source="plan.number", read_only=True, allow_null=True)

    class Meta:
        model = StockIn
        fields = [
            "id",
            "batch_number",
            "plan",
            "region",
            "quantity",
            "responsible_unit",
            "responsible_person",
            "at",
        ]
        read_only_fields = fields


class StockInCreateSerializer(serializers.Serializer):
    plan = serializers.CharField(help_text="Plan number")
    responsible_unit = serializers.CharField(max_length=100)
    responsible_person = serializers.CharField(max_length=50)
    batch_number = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    quantity = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    items = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        allow_null=True,
        default=None,
        help_text="Plan item ids; all produced items not yet in stock when left out",
    )


class ShipmentSerializer(serializers.ModelSerializer):
    stock_out = serializers.CharField(source="stock_out.batch_number", read_only=True)
    issuing_point = serializers.SerializerMethodField()
    quantity = serializers.IntegerField(source="stock_out.quantity", read_only=True)

    class Meta:
        model = Shipment
        fields = [
            "id",
            "stock_out",
            "issuing_point",
            "quantity",
            "waybill",
            "courier",
            "responsible_person",
            "status",
            "status_changed_at",
            "shipped_at",
            "delivered_at",
            "signed_by",
        ]
        read_only_fields = fields

    def get_issuing_point(self, obj) -> dict:
        return _point(obj.stock_out)


class StockOutSerializer(serializers.ModelSerializer):
    issuing_point = serializers.SerializerMethodField()
    shipment = serializers.SerializerMethodField()

    class Meta:
        model = StockOut
        fields = [
            "id",
            "batch_number",
            "region",
            "issuing_point",
            "quantity",
            "responsible_unit",
            "responsible_person",
            "at",
            "shipment",
        ]
        read_only_fields = fields

    def get_issuing_point(self, obj) -> dict:
        return _point(obj)

    def get_shipment(self, obj) -> dict | None:
        shipment = getattr(obj, "shipment", None)
        return {"id": shipment.pk, "status": shipment.status} if shipment else None


class StockOutCreateSerializer(serializers.Serializer):
    institution_code = serializers.CharField(help_text="Unified social credit code of the issuing point")
    responsible_unit = serializers.CharField(max_length=100)
    responsible_person = serializers.CharField(max_length=50)
    batch_number = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    count = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    chip_serials = serializers.ListField(
        child=serializers.CharField(), required=False, allow_null=True, default=None
    )
    stock_in_batch = serializers.CharField(required=False, allow_blank=True, default="")
    waybill = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    courier = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")


class ShipmentUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=ShipmentStatus.values, required=False, allow_blank=True, default=""
    )
    waybill = serializers.CharField(max_length=40, required=False, allow_null=True, default=None)
    courier = serializers.CharField(max_length=50, required=False, allow_null=True, default=None)
    responsible_person = serializers.CharField(max_length=50, required=False, allow_null=True, default=None)
    signed_by = serializers.CharField(max_length=50, required=False, allow_null=True, default=None)


class StockInViewSet(
    ExportMixin,
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Stock-ins (入库) in the caller's region; POST stocks in a plan's produced cards."""

    queryset = StockIn.objects.select_related("plan", "region")
    serializer_class = StockInSerializer
    filterset_class = StockInFilterSet
    ordering_fields = ["at", "batch_number", "quantity"]
    export_columns = STOCK_IN_COLUMNS
    export_title = _("Stock-ins")

    @extend_schema(request=StockInCreateSerializer, responses={201: StockInSerializer})
    def create(self, request, *args, **kwargs):
        data = StockInCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        plan = (
            scope_queryset(ProductionPlan.objects.all(), request.user).filter(number=values["plan"]).first()
        )
        if plan is None:
            raise NotFoundError(
                _("No production plan %(number)s in your region."),
                {"number": values["plan"]},
                code="plan_not_found",
            )
        stock_in = actions.stock_in_record(
            actor=api_actor(request),
            plan=plan,
            responsible_unit=values["responsible_unit"],
            responsible_person=values["responsible_person"],
            batch_number=values["batch_number"],
            items=values["items"],
            quantity=values["quantity"],
        )
        return Response(StockInSerializer(stock_in).data, status=201)


class StockOutViewSet(
    ExportMixin,
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Stock-outs (出库) to issuing points; POST sends cards (a number from stock, or chip serials)."""

    queryset = StockOut.objects.select_related(
        "region", "medical_institution", "financial_institution", "shipment"
    )
    serializer_class = StockOutSerializer
    filterset_class = StockOutFilterSet
    ordering_fields = ["at", "batch_number", "quantity"]
    export_columns = STOCK_OUT_COLUMNS
    export_title = _("Stock-outs")

    @extend_schema(request=StockOutCreateSerializer, responses={201: StockOutSerializer})
    def create(self, request, *args, **kwargs):
        data = StockOutCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        code = values["institution_code"].strip().upper()
        institution = (
            scope_queryset(MedicalInstitution.objects.all(), request.user).filter(code=code).first()
            or scope_queryset(FinancialInstitution.objects.all(), request.user).filter(code=code).first()
        )
        if institution is None:
            raise NotFoundError(
                _("No institution with code %(code)s in your region."),
                {"code": code},
                code="institution_not_found",
            )
        cards: list[Card] | None = None
        if values["chip_serials"] is not None:
            serials = values["chip_serials"]
            found = {
                c.chip_serial: c for c in cards_in_stock(user=request.user).filter(chip_serial__in=serials)
            }
            missing = [s for s in serials if s not in found]
            if missing:
                raise DomainError(
                    _("Not in stock in your region: %(serials)s"),
                    {"serials": ", ".join(missing[:20])},
                    code="cards_not_in_stock",
                    detail={"chip_serials": missing},
                )
            cards = list(found.values())
        stock_in = None
        if values["stock_in_batch"]:
            stock_in = (
                scope_queryset(StockIn.objects.all(), request.user)
                .filter(batch_number=values["stock_in_batch"])
                .first()
            )
            if stock_in is None:
                raise NotFoundError(
                    _("No stock-in batch %(number)s in your region."),
                    {"number": values["stock_in_batch"]},
                    code="stock_in_not_found",
                )
        stock_out = actions.stock_out_record(
            actor=api_actor(request),
            institution=institution,
            responsible_unit=values["responsible_unit"],
            responsible_person=values["responsible_person"],
            batch_number=values["batch_number"],
            cards=cards,
            count=values["count"] if cards is None else None,
            stock_in=stock_in,
            waybill=values["waybill"],
            courier=values["courier"],
        )
        return Response(StockOutSerializer(stock_out).data, status=201)


class ShipmentViewSet(
    ExportMixin, ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Deliveries (物流) to issuing points: query by status, waybill, courier, date; record progress."""

    queryset = Shipment.objects.select_related(
        "stock_out", "stock_out__medical_institution", "stock_out__financial_institution"
    )
    serializer_class = ShipmentSerializer
    filterset_class = ShipmentFilterSet
    ordering_fields = ["id", "status", "shipped_at", "delivered_at"]
    export_columns = SHIPMENT_COLUMNS
    export_title = _("Shipments")

    @extend_schema(request=ShipmentUpdateSerializer, responses=ShipmentSerializer)
    @action(detail=True, methods=["post"], url_path="update-status", permission_classes=[CanChange])
    def update_status(self, request, pk=None):
        """Next delivery status and details (fields left out stay as they are). Delivered: the cards wait for
        collection at the issuing point; returned: they go back to stock."""
        data = ShipmentUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        shipment = actions.shipment_update(
            actor=api_actor(request), shipment=self.get_object(), **data.validated_data
        )
        return Response(ShipmentSerializer(shipment).data)


ROUTES = [
    ("stock-ins", StockInViewSet, "stock-in"),
    ("stock-outs", StockOutViewSet, "stock-out"),
    ("shipments", ShipmentViewSet, "shipment"),
]
