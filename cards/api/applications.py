"""Staff API of the cards app: applications (submit, review, withdraw, receipt) and application batches."""

from __future__ import annotations

from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from cards import actions
from cards.actions.common import institution_of
from cards.admin.applications import APPLICATION_COLUMNS, BATCH_COLUMNS, batch_approve_all
from cards.choices import (
    ApplicantKind,
    ApplicationChannel,
    ContactRelation,
    DocumentType,
    ReviewDecision,
)
from cards.filtersets.applications import ApplicationBatchFilterSet, ApplicationFilterSet
from cards.models import Application, ApplicationBatch, ApplicationReview
from cards.receipts import application_receipt_response
from cards.selectors.applications import (
    APPLICATION_RELATED,
    application_batch_list,
    holder_by_document,
)
from institutions.models import FinancialInstitution, MedicalInstitution
from registry.actors import Actor
from registry.api.mixins import ExportMixin, ScopedViewSetMixin
from registry.api.serializers import ReasonSerializer
from registry.choices import Channel
from registry.errors import DomainError, NotFoundError
from registry.models import Region
from registry.protection import mask_id_number, mask_name
from registry.scope import scope_queryset


def requires(*perms: str) -> type[BasePermission]:
    """A permission class for one viewset action that needs these model permissions (e.g. a review)."""

    class Required(BasePermission):
        def has_permission(self, request, view) -> bool:
            return bool(request.user and request.user.is_authenticated and request.user.has_perms(perms))

    return Required


class ActionPermissionsMixin:
    """Actions that are not plain CRUD name their own permissions: {action name: (perm, ...)}."""

    action_permissions: dict[str, tuple[str, ...]] = {}

    def get_permissions(self):
        perms = self.action_permissions.get(self.action)
        if perms is None:
            return super().get_permissions()
        return [IsAuthenticated(), requires(*perms)()]

    def actor(self) -> Actor:
        return Actor.from_request(self.request, channel=Channel.API)


def service_point_by_code(user, code: str):
    """An active-or-not medical institution or bank in the user's scope, by its unified social credit code."""
    if not code:
        return None
    point = (
        scope_queryset(MedicalInstitution.objects.select_related("region"), user).filter(code=code).first()
        or scope_queryset(FinancialInstitution.objects.select_related("region"), user)
        .filter(code=code)
        .first()
    )
    if point is None:
        raise NotFoundError(
            _("No institution with code %(code)s in your region."),
            {"code": code},
            code="institution_not_found",
        )
    return point


class ReviewSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApplicationReview
        fields = ["level", "decision", "reason", "reviewer_label", "at"]
        read_only_fields = fields


class ApplicationSerializer(serializers.ModelSerializer):
    holder_name = serializers.SerializerMethodField(help_text="Masked")
    holder_document_type = serializers.CharField(source="resident.document_type", read_only=True)
    holder_document = serializers.SerializerMethodField(help_text="Masked")
    guardian_name = serializers.SerializerMethodField(help_text="Masked")
    guardian_document = serializers.SerializerMethodField(help_text="Masked")
    region_name = serializers.CharField(source="region.full_name", read_only=True)
    service_point_code = serializers.SerializerMethodField()
    service_point_name = serializers.SerializerMethodField()
    batch = serializers.SlugRelatedField(slug_field="number", read_only=True)
    reviews = ReviewSerializer(many=True, read_only=True)

    class Meta:
        model = Application
        fields = [
            "id",
            "number",
            "holder_name",
            "holder_document_type",
            "holder_document",
            "channel",
            "applicant_kind",
            "guardian_name",
            "guardian_document",
            "guardian_relation",
            "status",
            "status_changed_at",
            "region",
            "region_name",
            "service_point_code",
            "service_point_name",
            "batch",
            "submitted_at",
            "note",
            "reviews",
        ]
        read_only_fields = fields

    def get_holder_name(self, obj) -> str:
        return obj.resident.masked_name

    def get_holder_document(self, obj) -> str:
        return obj.resident.masked_document_number

    def get_guardian_name(self, obj) -> str:
        return mask_name(obj.guardian_name)

    def get_guardian_document(self, obj) -> str:
        return mask_id_number(obj.guardian_document_number)

    def get_service_point_code(self, obj) -> str:
        return getattr(institution_of(obj), "code", "")

    def get_service_point_name(self, obj) -> str:
        return getattr(institution_of(obj), "name", "")


class ApplicationSubmitSerializer(serializers.Serializer):
    document_type = serializers.ChoiceField(choices=DocumentType.choices, default=DocumentType.ID_CARD)
    document_number = serializers.CharField(max_length=40, help_text="The holder's, exactly as registered")
    channel = serializers.ChoiceField(choices=ApplicationChannel.choices)
    applicant_kind = serializers.ChoiceField(choices=ApplicantKind.choices, default=ApplicantKind.HOLDER)
    guardian_name = serializers.CharField(required=False, allow_blank=True, default="")
    guardian_document_type = serializers.ChoiceField(
        choices=DocumentType.choices, required=False, allow_blank=True, default=""
    )
    guardian_document_number = serializers.CharField(required=False, allow_blank=True, default="")
    guardian_relation = serializers.ChoiceField(
        choices=ContactRelation.choices, required=False, allow_blank=True, default=""
    )
    service_point = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Unified social credit code"
    )
    batch = serializers.CharField(required=False, allow_blank=True, default="", help_text="Batch number")
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class DecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=ReviewDecision.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class ApplicationViewSet(
    ActionPermissionsMixin,
    ExportMixin,
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Applications in the caller's region: list, submit, review (city then province), withdraw, receipt."""

    queryset = Application.objects.select_related(*APPLICATION_RELATED).prefetch_related(
        Prefetch("reviews", queryset=ApplicationReview.objects.order_by("at"))
    )
    serializer_class = ApplicationSerializer
    filterset_class = ApplicationFilterSet
    ordering_fields = ["submitted_at", "number", "status"]
    export_columns = APPLICATION_COLUMNS
    export_title = _("Applications")
    action_permissions = {
        "review": ("cards.review_application",),
        "withdraw": ("cards.change_application",),
    }

    def get_serializer_class(self):
        return ApplicationSubmitSerializer if self.action == "create" else ApplicationSerializer

    @extend_schema(request=ApplicationSubmitSerializer, responses={201: ApplicationSerializer})
    def create(self, request, *args, **kwargs):
        """Submit an application for a registered holder (found by the exact document number)."""
        data = ApplicationSubmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        resident = holder_by_document(
            user=request.user,
            document_number=values.pop("document_number"),
            document_type=values.pop("document_type"),
        )
        if resident is None:
            raise NotFoundError(
                _("No holder with this document number in your region: register the holder first."),
                code="holder_not_found",
            )
        batch_number = values.pop("batch")
        batch = None
        if batch_number:
            batch = (
                scope_queryset(ApplicationBatch.objects.all(), request.user)
                .filter(number=batch_number)
                .first()
            )
            if batch is None:
                raise NotFoundError(
                    _("No batch %(number)s in your region."), {"number": batch_number}, code="batch_not_found"
                )
        institution = service_point_by_code(request.user, values.pop("service_point"))
        application = actions.application_submit(
            actor=self.actor(), resident=resident, institution=institution, batch=batch, **values
        )
        return Response(ApplicationSerializer(self.get_queryset().get(pk=application.pk)).data, status=201)

    @extend_schema(request=DecisionSerializer, responses=ApplicationSerializer)
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        """Approve or reject at the level the application waits for (city, then province); a rejection needs
        a reason."""
        data = DecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        application = actions.application_review(
            actor=self.actor(), application=self.get_object(), **data.validated_data
        )
        return Response(ApplicationSerializer(self.get_queryset().get(pk=application.pk)).data)

    @extend_schema(request=ReasonSerializer, responses=ApplicationSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        reason = ReasonSerializer(data=request.data)
        reason.is_valid(raise_exception=True)
        application = actions.application_withdraw(
            actor=self.actor(), application=self.get_object(), reason=reason.validated_data["reason"]
        )
        return Response(ApplicationSerializer(self.get_queryset().get(pk=application.pk)).data)

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def receipt(self, request, pk=None):
        """The printable application receipt (申领回执), personal data masked."""
        return application_receipt_response(self.get_object())


class ApplicationBatchSerializer(serializers.ModelSerializer):
    region_name = serializers.CharField(source="region.full_name", read_only=True)
    service_point_code = serializers.SerializerMethodField()
    service_point_name = serializers.SerializerMethodField()
    application_count = serializers.IntegerField(read_only=True)
    waiting_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = ApplicationBatch
        fields = [
            "id",
            "number",
            "title",
            "region",
            "region_name",
            "service_point_code",
            "service_point_name",
            "created_at",
            "application_count",
            "waiting_count",
        ]
        read_only_fields = fields

    def get_service_point_code(self, obj) -> str:
        return getattr(institution_of(obj), "code", "")

    def get_service_point_name(self, obj) -> str:
        return getattr(institution_of(obj), "name", "")


class BatchCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=100)
    region = serializers.CharField(required=False, allow_blank=True, default="", help_text="County code")
    service_point = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Unified social credit code"
    )


class BatchReviewResultSerializer(serializers.Serializer):
    done = serializers.IntegerField()
    failed = serializers.ListField(child=serializers.DictField())


class ApplicationBatchViewSet(
    ActionPermissionsMixin,
    ExportMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Batch applications (a school, a village): open a batch, list it, approve all at the caller's level.
    The batch's applications are at /applications/?batch=<number>. Scoped by its selector."""

    queryset = ApplicationBatch.objects.all()
    serializer_class = ApplicationBatchSerializer
    filterset_class = ApplicationBatchFilterSet
    ordering_fields = ["created_at", "number"]
    export_columns = BATCH_COLUMNS
    export_title = _("Application batches")
    action_permissions = {"review": ("cards.review_application",)}

    def get_queryset(self):
        return application_batch_list(user=self.request.user)

    @extend_schema(request=BatchCreateSerializer, responses={201: ApplicationBatchSerializer})
    def create(self, request, *args, **kwargs):
        data = BatchCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        institution = service_point_by_code(request.user, data.validated_data["service_point"])
        region = None
        code = data.validated_data["region"]
        if code:
            region = Region.objects.filter(code=code).first()
            if region is None:
                raise DomainError(
                    _("Unknown region code %(code)s."),
                    {"code": code},
                    code="invalid_region",
                    detail={"field": "region"},
                )
        if region is None and institution is None:
            raise DomainError(
                _("Name the batch's county or its service point."),
                code="region_required",
                detail={"field": "region"},
            )
        batch = actions.batch_create(
            actor=self.actor(),
            title=data.validated_data["title"],
            region=region or institution.region,
            institution=institution,
        )
        return Response(ApplicationBatchSerializer(self.get_queryset().get(pk=batch.pk)).data, status=201)

    @extend_schema(request=None, responses=BatchReviewResultSerializer)
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        """Approve all applications of the batch that wait for the caller's level (city or province); a
        rejection is decided one application at a time, with its reason."""
        done, failed = batch_approve_all(actor=self.actor(), user=request.user, batch=self.get_object())
        return Response({"done": done, "failed": failed})


ROUTES: list = [
    ("applications", ApplicationViewSet, "application"),
    ("application-batches", ApplicationBatchViewSet, "application-batch"),
]
