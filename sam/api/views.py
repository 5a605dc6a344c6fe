"""Staff API of the sam app. Thin: parse, check permission, call an action."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from institutions.models import CardMaker, MedicalInstitution
from registry.api.mixins import ExportMixin, ScopedViewSetMixin, api_actor
from registry.api.permissions import CanChange
from registry.api.serializers import ReasonSerializer
from registry.errors import DomainError, NotFoundError, PermissionDeniedError
from registry.exports import export_response
from registry.models import Region
from registry.scope import scope_queryset
from sam import actions
from sam.admin import (
    APPLICATION_COLUMNS,
    PLAN_COLUMNS,
    SAM_COLUMNS,
    SHIPMENT_COLUMNS,
    STOCK_IN_COLUMNS,
    STOCK_OUT_COLUMNS,
    SUPERVISION_REPORTS,
    SupervisionForm,
    supervision_sheet,
)
from sam.api import serializers as s
from sam.filtersets import (
    SamApplicationFilterSet,
    SamFilterSet,
    SamPlanFilterSet,
    SamShipmentFilterSet,
    SamStockInFilterSet,
    SamStockOutFilterSet,
)
from sam.models import Sam, SamApplication, SamPlan, SamShipment, SamStockIn, SamStockOut

READ = (ExportMixin, ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin)


def _require(request, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDeniedError(_("You may not do this."), code="permission_denied")


def _institution(request, code: str) -> MedicalInstitution:
    code = code.strip().upper()
    institution = scope_queryset(MedicalInstitution.objects.all(), request.user).filter(code=code).first()
    if institution is None:
        raise NotFoundError(
            _("No medical institution with code %(code)s in your region."),
            {"code": code},
            code="institution_not_found",
        )
    return institution


class SamApplicationViewSet(*READ, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """SAM applications (申领登记) in the caller's region; POST submits one for an institution."""

    queryset = SamApplication.objects.select_related("institution", "plan")
    serializer_class = s.SamApplicationSerializer
    filterset_class = SamApplicationFilterSet
    ordering_fields = ["submitted_at", "number", "quantity"]
    export_columns = APPLICATION_COLUMNS
    export_title = _("SAM applications")

    @extend_schema(request=s.SamApplicationCreateSerializer, responses={201: s.SamApplicationSerializer})
    def create(self, request, *args, **kwargs):
        data = s.SamApplicationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        application = actions.sam_application_submit(
            actor=api_actor(request),
            institution=_institution(request, values.pop("institution_code")),
            **values,
        )
        return Response(s.SamApplicationSerializer(application).data, status=201)

    @extend_schema(request=s.SamDecisionSerializer, responses=s.SamApplicationSerializer)
    @action(detail=True, methods=["post"], permission_classes=[CanChange])
    def review(self, request, pk=None):
        """The city's decision: approve, cut (approved_quantity and reason) or reject (reason)."""
        _require(request, "sam.review_samapplication")
        data = s.SamDecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        application = actions.sam_application_review(
            actor=api_actor(request), application=self.get_object(), **data.validated_data
        )
        return Response(s.SamApplicationSerializer(application).data)


class SamPlanViewSet(*READ, viewsets.GenericViewSet):
    """SAM plans: this tier's own and those reported to it; aggregate, report, review, start, complete."""

    queryset = SamPlan.objects.select_related("parent", "card_maker")
    serializer_class = s.SamPlanSerializer
    filterset_class = SamPlanFilterSet
    ordering_fields = ["created_at", "number", "quantity"]
    export_columns = PLAN_COLUMNS
    export_title = _("SAM plans")

    def _done(self, plan):
        return Response(s.SamPlanSerializer(plan).data)

    @extend_schema(request=s.AggregateSerializer, responses={201: s.SamPlanSerializer})
    @action(detail=False, methods=["post"], permission_classes=[CanChange])
    def aggregate(self, request):
        """Aggregate what the tier below sent into this tier's plan (the ministry names the card maker)."""
        data = s.AggregateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        maker = None
        if data.validated_data["card_maker"]:
            maker = CardMaker.objects.filter(code=data.validated_data["card_maker"].strip().upper()).first()
            if maker is None:
                raise NotFoundError(_("Unknown card maker."), code="card_maker_not_found")
        plan = actions.sam_plan_aggregate(
            actor=api_actor(request), card_maker=maker, note=data.validated_data["note"]
        )
        return Response(s.SamPlanSerializer(plan).data, status=201)

    @extend_schema(request=None, responses=s.SamPlanSerializer)
    @action(detail=True, methods=["post"], permission_classes=[CanChange])
    def report(self, request, pk=None):
        """Report the plan to the tier above."""
        return self._done(actions.sam_plan_report(actor=api_actor(request), plan=self.get_object()))

    @extend_schema(request=s.SamDecisionSerializer, responses=s.SamPlanSerializer)
    @action(detail=True, methods=["post"], permission_classes=[CanChange])
    def review(self, request, pk=None):
        """The tier above decides: approve, cut (approved_quantity and reason) or reject (reason)."""
        _require(request, "sam.review_samplan")
        data = s.SamDecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        plan = actions.sam_plan_review(
            actor=api_actor(request), plan=self.get_object(), **data.validated_data
        )
        return self._done(plan)

    @extend_schema(request=None, responses=s.SamPlanSerializer)
    @action(detail=True, methods=["post"], permission_classes=[CanChange])
    def start(self, request, pk=None):
        """Send the ministry's production plan to its card maker."""
        return self._done(actions.sam_plan_start(actor=api_actor(request), plan=self.get_object()))

    @extend_schema(request=s.CompleteSerializer, responses=s.SamPlanSerializer)
    @action(detail=True, methods=["post"], permission_classes=[CanChange])
    def complete(self, request, pk=None):
        """Production is over; the maker's failed count."""
        data = s.CompleteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        plan = actions.sam_plan_complete(
            actor=api_actor(request), plan=self.get_object(), **data.validated_data
        )
        return self._done(plan)


class SamViewSet(*READ, viewsets.GenericViewSet):
    """SAM cards in the caller's region: bind to a terminal, freeze, unfreeze, cancel, report use."""

    queryset = Sam.objects.select_related("institution")
    serializer_class = s.SamSerializer
    filterset_class = SamFilterSet
    ordering_fields = ["serial", "status_changed_at", "use_count"]
    export_columns = SAM_COLUMNS
    export_title = _("SAM cards")

    def _done(self, sam):
        return Response(s.SamSerializer(sam).data)

    @extend_schema(request=s.BindSerializer, responses=s.SamSerializer)
    @action(detail=True, methods=["post"], permission_classes=[CanChange])
    def bind(self, request, pk=None):
        """Record the terminal (type and number) the SAM sits in."""
        data = s.BindSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._done(
            actions.sam_bind(actor=api_actor(request), sam=self.get_object(), **data.validated_data)
        )

    def _with_reason(self, request, perform, perm: str | None = None):
        if perm:
            _require(request, perm)
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._done(
            perform(actor=api_actor(request), sam=self.get_object(), reason=data.validated_data["reason"])
        )

    @extend_schema(request=ReasonSerializer, responses=s.SamSerializer)
    @action(detail=True, methods=["post"], permission_classes=[CanChange])
    def unbind(self, request, pk=None):
        """Take the SAM out of its terminal (reason)."""
        return self._with_reason(request, actions.sam_unbind)

    @extend_schema(request=ReasonSerializer, responses=s.SamSerializer)
    @action(detail=True, methods=["post"], permission_classes=[CanChange])
    def freeze(self, request, pk=None):
        """Temporarily stop the SAM (reason): it goes on the blacklist."""
        return self._with_reason(request, actions.sam_freeze, "sam.freeze_sam")

    @extend_schema(request=ReasonSerializer, responses=s.SamSerializer)
    @action(detail=True, methods=["post"], permission_classes=[CanChange])
    def unfreeze(self, request, pk=None):
        """Put a frozen SAM back in use (reason): its blacklist hold is removed."""
        return self._with_reason(request, actions.sam_unfreeze, "sam.freeze_sam")

    @extend_schema(request=ReasonSerializer, responses=s.SamSerializer)
    @action(detail=True, methods=["post"], permission_classes=[CanChange])
    def cancel(self, request, pk=None):
        """Cancel the SAM for good (reason): it stays on the blacklist."""
        return self._with_reason(request, actions.sam_cancel, "sam.freeze_sam")

    @extend_schema(request=s.UseReportSerializer, responses=s.SamSerializer)
    @action(detail=True, methods=["post"], url_path="use", permission_classes=[CanChange])
    def use(self, request, pk=None):
        """A terminal reports how often the SAM was used."""
        data = s.UseReportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._done(
            actions.sam_use_report(actor=api_actor(request), sam=self.get_object(), **data.validated_data)
        )


class SamStockInViewSet(*READ, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """SAM stock-ins (入库); POST stocks in serial numbers (under a production plan where there is one)."""

    queryset = SamStockIn.objects.select_related("plan")
    serializer_class = s.SamStockInSerializer
    filterset_class = SamStockInFilterSet
    ordering_fields = ["at", "batch_number", "quantity"]
    export_columns = STOCK_IN_COLUMNS
    export_title = _("SAM stock-ins")

    @extend_schema(request=s.SamStockInCreateSerializer, responses={201: s.SamStockInSerializer})
    def create(self, request, *args, **kwargs):
        data = s.SamStockInCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        plan = None
        if values.pop("plan"):
            plan = (
                scope_queryset(SamPlan.objects.all(), request.user)
                .filter(number=request.data["plan"])
                .first()
            )
            if plan is None:
                raise NotFoundError(
                    _("No SAM plan %(number)s in your region."),
                    {"number": request.data["plan"]},
                    code="plan_not_found",
                )
        stock_in = actions.sam_stock_in(actor=api_actor(request), plan=plan, **values)
        return Response(s.SamStockInSerializer(stock_in).data, status=201)


class SamStockOutViewSet(*READ, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """SAM stock-outs (出库) down the tiers or to the institution using them."""

    queryset = SamStockOut.objects.select_related("institution", "shipment")
    serializer_class = s.SamStockOutSerializer
    filterset_class = SamStockOutFilterSet
    ordering_fields = ["at", "batch_number", "quantity"]
    export_columns = STOCK_OUT_COLUMNS
    export_title = _("SAM stock-outs")

    @extend_schema(request=s.SamStockOutCreateSerializer, responses={201: s.SamStockOutSerializer})
    def create(self, request, *args, **kwargs):
        data = s.SamStockOutCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        code, region_code = values.pop("institution_code"), values.pop("region")
        institution = _institution(request, code) if code else None
        region = None
        if region_code:
            region = Region.objects.filter(code=region_code).first()
            if region is None:
                raise DomainError(
                    _("Unknown region code %(code)s."), {"code": region_code}, code="region_not_found"
                )
        stock_out = actions.sam_stock_out(
            actor=api_actor(request), institution=institution, region=region, **values
        )
        return Response(s.SamStockOutSerializer(stock_out).data, status=201)


class SamShipmentViewSet(*READ, viewsets.GenericViewSet):
    """Deliveries (物流) of SAM stock-outs; record progress up to signed for."""

    queryset = SamShipment.objects.select_related("stock_out", "stock_out__institution")
    serializer_class = s.SamShipmentSerializer
    filterset_class = SamShipmentFilterSet
    ordering_fields = ["id", "status"]
    export_columns = SHIPMENT_COLUMNS
    export_title = _("SAM shipments")

    @extend_schema(request=s.SamShipmentUpdateSerializer, responses=s.SamShipmentSerializer)
    @action(detail=True, methods=["post"], url_path="update-status", permission_classes=[CanChange])
    def update_status(self, request, pk=None):
        """Next delivery status and details (fields left out stay as they are); signed needs signed_by."""
        data = s.SamShipmentUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        shipment = actions.sam_shipment_update(
            actor=api_actor(request), shipment=self.get_object(), **data.validated_data
        )
        return Response(s.SamShipmentSerializer(shipment).data)


class SamSupervisionView(APIView):
    """Supervision figures (§4.3.5): report = applications | production | issuance | maintenance."""

    queryset = Sam.objects.none()  # for the model permission: sam.view_sam

    @extend_schema(
        parameters=[
            OpenApiParameter("date_from", OpenApiTypes.DATE),
            OpenApiParameter("date_to", OpenApiTypes.DATE),
            OpenApiParameter("by", OpenApiTypes.STR, enum=["date", "region", "institution"]),
            OpenApiParameter("as", OpenApiTypes.STR, enum=["json", "xlsx", "pdf"]),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request, report: str):
        if report not in SUPERVISION_REPORTS:
            raise NotFoundError(_("Unknown report."), code="report_not_found")
        form = SupervisionForm(request.query_params)
        if not form.is_valid():
            raise DomainError(_("Dates are written YYYY-MM-DD."), code="bad_date", detail=form.errors)
        sheet = supervision_sheet(request.user, report, form.cleaned_data)
        fmt = request.query_params.get("as", "json")
        if fmt in ("xlsx", "pdf"):
            return export_response(sheet, fmt)
        return Response({"title": sheet.title, "rows": sheet.rows})
