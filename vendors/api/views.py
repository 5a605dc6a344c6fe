"""Staff API of the vendors app: filings (writes at the ministry only), actual use and its figures, card makers
compared with filings. Thin: parse, check permission, call an action."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response

from institutions.models import FinancialInstitution, MedicalInstitution
from registry.actors import Actor
from registry.api.mixins import ExportMixin, ScopedViewSetMixin
from registry.api.permissions import ScopedModelPermissions
from registry.api.serializers import ReasonSerializer
from registry.choices import Channel
from registry.errors import NotFoundError
from registry.scope import scope_queryset
from vendors import actions
from vendors.admin import (
    ACTUAL_USE_COLUMNS,
    CARD_MAKER_FILING_COLUMNS,
    MANUFACTURER_COLUMNS,
    PRODUCT_COLUMNS,
)
from vendors.api.serializers import (
    ActualUseFigureSerializer,
    ActualUseFiguresQuerySerializer,
    ActualUseSerializer,
    CardMakerFilingSerializer,
    FiledProductSerializer,
    ManufacturerSerializer,
)
from vendors.filtersets import (
    ActualUseFilterSet,
    CardMakerFilingFilterSet,
    FiledProductFilterSet,
    ManufacturerFilterSet,
)
from vendors.models import ActualUse, CardMakerFiling, FiledProduct, Manufacturer
from vendors.selectors import actual_use_totals, card_maker_filing_match, national_queryset


class FilingWritesAtMinistry(BasePermission):
    """Below the ministry filings are a read-only copy: a write answers 403 `filing_read_only`."""

    def has_permission(self, request, view) -> bool:
        if request.method not in SAFE_METHODS:
            actions.filings_check_editable()
        return True


class ActualUseWritesBelowMinistry(BasePermission):
    """At the ministry actual use arrives by sync: a write answers 403 `actual_use_read_only`."""

    def has_permission(self, request, view) -> bool:
        if request.method not in SAFE_METHODS:
            actions.actual_use_check_editable()
        return True


class ApiActorMixin:
    def actor(self) -> Actor:
        return Actor.from_request(self.request, channel=Channel.API)

    def _require(self, perm: str) -> None:
        if not self.request.user.has_perm(perm):
            raise PermissionDenied


class FilingViewSet(
    ApiActorMixin,
    ExportMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """A national filing list (not region-scoped): query and export everywhere, write at the ministry."""

    permission_classes = [ScopedModelPermissions, FilingWritesAtMinistry]

    def get_queryset(self):
        return national_queryset(super().get_queryset(), self.request.user)

    def change_status(self, verb: str, obj, reason: str):  # pragma: no cover - each subclass has its own
        raise NotImplementedError

    def _status(self, request, verb: str):
        self._require(f"vendors.revoke_{self.queryset.model._meta.model_name}")
        reason = ReasonSerializer(data=request.data)
        reason.is_valid(raise_exception=True)
        obj = self.change_status(verb, self.get_object(), reason.validated_data["reason"])
        return Response(self.get_serializer(obj).data)

    @extend_schema(request=ReasonSerializer)
    @action(detail=True, methods=["post"])
    def suspend(self, request, pk=None):
        """Suspend (暂停) the filing, with a reason."""
        return self._status(request, "suspend")

    @extend_schema(request=ReasonSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        """Revoke (撤销) the filing for good, with a reason."""
        return self._status(request, "revoke")

    @extend_schema(request=ReasonSerializer)
    @action(detail=True, methods=["post"])
    def reinstate(self, request, pk=None):
        """Lift a suspension, with a reason."""
        return self._status(request, "reinstate")


class ManufacturerViewSet(FilingViewSet):
    queryset = Manufacturer.objects.select_related("region")
    serializer_class = ManufacturerSerializer
    filterset_class = ManufacturerFilterSet
    ordering_fields = ["name", "code", "region", "registered_at"]
    export_columns = MANUFACTURER_COLUMNS
    export_title = _("Filed manufacturers")

    def perform_create(self, serializer):
        serializer.instance = actions.manufacturer_register(actor=self.actor(), **serializer.validated_data)

    def perform_update(self, serializer):
        data = {k: v for k, v in serializer.validated_data.items() if k != "code"}
        serializer.instance = actions.manufacturer_update(
            actor=self.actor(), manufacturer=serializer.instance, **data
        )

    def perform_destroy(self, instance):
        actions.manufacturer_delete(actor=self.actor(), manufacturer=instance)

    def change_status(self, verb, obj, reason):
        perform = getattr(actions, f"manufacturer_{verb}")
        return perform(actor=self.actor(), manufacturer=obj, reason=reason)


class FiledProductViewSet(FilingViewSet):
    queryset = FiledProduct.objects.select_related("manufacturer")
    serializer_class = FiledProductSerializer
    filterset_class = FiledProductFilterSet
    ordering_fields = ["filing_number", "filing_date", "valid_until", "name"]
    export_columns = PRODUCT_COLUMNS
    export_title = _("Filed products")

    def perform_create(self, serializer):
        serializer.instance = actions.product_register(actor=self.actor(), **serializer.validated_data)

    def perform_update(self, serializer):
        data = {
            k: v for k, v in serializer.validated_data.items() if k not in ("filing_number", "manufacturer")
        }
        serializer.instance = actions.product_update(actor=self.actor(), product=serializer.instance, **data)

    def perform_destroy(self, instance):
        actions.product_delete(actor=self.actor(), product=instance)

    def change_status(self, verb, obj, reason):
        perform = getattr(actions, f"product_{verb}")
        return perform(actor=self.actor(), product=obj, reason=reason)


class ActualUseViewSet(
    ApiActorMixin,
    ExportMixin,
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Actual use in the caller's region scope: register, correct, retire, figures, export."""

    queryset = ActualUse.objects.select_related(
        "medical_institution", "financial_institution", "product__manufacturer", "region"
    )
    serializer_class = ActualUseSerializer
    filterset_class = ActualUseFilterSet
    permission_classes = [ScopedModelPermissions, ActualUseWritesBelowMinistry]
    ordering_fields = ["since", "quantity", "registered_at"]
    export_columns = ACTUAL_USE_COLUMNS
    export_title = _("Actual use of filed products")

    def _institution(self, code: str):
        user = self.request.user
        institution = (
            scope_queryset(MedicalInstitution.objects.all(), user).filter(code=code).first()
            or scope_queryset(FinancialInstitution.objects.all(), user).filter(code=code).first()
        )
        if institution is None:
            raise NotFoundError(
                _("No institution with code %(code)s in your region."),
                {"code": code},
                code="institution_not_found",
                detail={"field": "institution_code"},
            )
        return institution

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        institution = self._institution(data.pop("institution_code"))
        serializer.instance = actions.actual_use_register(actor=self.actor(), institution=institution, **data)

    def perform_update(self, serializer):
        data = {k: v for k, v in serializer.validated_data.items() if k in actions.ACTUAL_USE_EDITABLE}
        serializer.instance = actions.actual_use_update(actor=self.actor(), use=serializer.instance, **data)

    @extend_schema(request=ReasonSerializer)
    @action(detail=True, methods=["post"])
    def retire(self, request, pk=None):
        """The products are no longer in use there: the registration stays and stops counting."""
        self._require("vendors.change_actualuse")
        reason = ReasonSerializer(data=request.data)
        reason.is_valid(raise_exception=True)
        obj = actions.actual_use_retire(
            actor=self.actor(), use=self.get_object(), reason=reason.validated_data["reason"]
        )
        return Response(self.get_serializer(obj).data)

    @extend_schema(
        parameters=[
            ActualUseFiguresQuerySerializer,
            OpenApiParameter("region", OpenApiTypes.STR, description="Region code, any level"),
        ],
        responses=ActualUseFigureSerializer(many=True),
    )
    @action(detail=False, methods=["get"], pagination_class=None, filterset_class=None)
    def figures(self, request):
        """Actual use in use, summed by product, product type, manufacturer, province, region or institution.

        Takes the list's filters too; the groups add up to the filtered list's total.
        """
        query = ActualUseFiguresQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = {k: v for k, v in request.query_params.items() if k not in ("by", "page", "page_size")}
        rows = actual_use_totals(user=request.user, by=query.validated_data["by"], filters=filters)
        return Response(ActualUseFigureSerializer(rows, many=True).data)


class CardMakerFilingViewSet(
    ExportMixin, ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Card makers compared with filings: `has_valid_filing=false` is the report of makers without one."""

    queryset = CardMakerFiling.objects.select_related("region")
    serializer_class = CardMakerFilingSerializer
    filterset_class = CardMakerFilingFilterSet
    ordering_fields = ["name", "code", "region"]
    export_columns = CARD_MAKER_FILING_COLUMNS
    export_title = _("Card makers compared with filings")

    def get_queryset(self):
        return super().get_queryset().annotate(**card_maker_filing_match())
