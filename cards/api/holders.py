"""Staff API of the cards app: holders. Lists and details are masked; the unmasked view is its own audited call
(POST /holders/{id}/reveal/); registering and modifying go through cards.actions.holders."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from cards.actions.holders import EDITABLE, holder_register, holder_reveal, holder_update
from cards.actions.maintenance import person_blacklist_add, person_blacklist_remove
from cards.admin.holders import HOLDER_COLUMNS
from cards.choices import ContactRelation, DocumentType, Ethnicity
from cards.filtersets.holders import HolderFilterSet
from cards.models import Resident
from cards.selectors.cards import person_timeline
from cards.selectors.holders import DIMENSIONS, holder_statistics, statistics_sheet
from registry.actors import Actor
from registry.api.mixins import ExportMixin, ScopedViewSetMixin
from registry.choices import Channel
from registry.errors import DomainError
from registry.exports import export_response
from registry.models import Region
from registry.protection import mask_address, mask_id_number, mask_name, mask_phone
from registry.scope import user_can_see_region


@extend_schema_field(OpenApiTypes.STR)
class MaskedField(serializers.Field):
    """A sealed field shown masked (read-only)."""

    def __init__(self, mask, **kwargs):
        self.mask = mask
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return self.mask(value or "")


@extend_schema_field(
    {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "relation": {"type": "string"},
                "phone": {"type": "string"},
            },
        },
        "description": "Up to three emergency contacts, masked.",
    }
)
class MaskedContactsField(serializers.Field):
    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return [
            {
                "name": mask_name(c.get("name", "")),
                "relation": c.get("relation", ""),
                "phone": mask_phone(c.get("phone", "")),
            }
            for c in value or []
        ]


class HolderListSerializer(serializers.ModelSerializer):
    name = MaskedField(mask_name)
    document_number = MaskedField(mask_id_number)
    region_name = serializers.CharField(source="region.full_name", read_only=True)

    class Meta:
        model = Resident
        fields = [
            "id",
            "name",
            "document_type",
            "document_number",
            "sex",
            "ethnicity",
            "birth_date",
            "region",
            "region_name",
            "created_at",
        ]
        read_only_fields = fields


class HolderSerializer(HolderListSerializer):
    address1 = MaskedField(mask_address)
    address2 = MaskedField(mask_address)
    phone1 = MaskedField(mask_phone)
    phone2 = MaskedField(mask_phone)
    contacts = MaskedContactsField()
    health_record_no = MaskedField(mask_id_number)
    rural_coop_no = MaskedField(mask_id_number)

    class Meta(HolderListSerializer.Meta):
        fields = [
            *HolderListSerializer.Meta.fields,
            "address1_type",
            "address1",
            "address2_type",
            "address2",
            "phone1",
            "phone2",
            "contacts",
            "education",
            "marital_status",
            "occupation",
            "health_record_no",
            "rural_coop_no",
            "changed_at",
        ]
        read_only_fields = fields


class ContactSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=50, allow_blank=True, required=False, default="")
    relation = serializers.ChoiceField(
        choices=ContactRelation.choices, required=False, default=ContactRelation.OTHER
    )
    phone = serializers.CharField(max_length=30, allow_blank=True, required=False, default="")


class HolderWriteSerializer(serializers.Serializer):
    """What registering a holder takes (the ID number decides birth date, sex and county when left out)."""

    document_type = serializers.ChoiceField(choices=DocumentType.choices, default=DocumentType.ID_CARD)
    document_number = serializers.CharField(max_length=40)
    name = serializers.CharField(max_length=50)
    sex = serializers.ChoiceField(choices=Resident._meta.get_field("sex").choices, required=False)
    birth_date = serializers.DateField(required=False)
    region = serializers.SlugRelatedField(slug_field="code", queryset=Region.objects.all(), required=False)
    ethnicity = serializers.ChoiceField(choices=Ethnicity.choices, default=Ethnicity.HAN)
    address1_type = serializers.ChoiceField(
        choices=Resident._meta.get_field("address1_type").choices, required=False
    )
    address1 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    address2_type = serializers.ChoiceField(
        choices=Resident._meta.get_field("address2_type").choices, required=False
    )
    address2 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    phone1 = serializers.CharField(max_length=30, required=False, allow_blank=True)
    phone2 = serializers.CharField(max_length=30, required=False, allow_blank=True)
    contacts = ContactSerializer(many=True, required=False)
    education = serializers.ChoiceField(choices=Resident._meta.get_field("education").choices, required=False)
    marital_status = serializers.ChoiceField(
        choices=Resident._meta.get_field("marital_status").choices, required=False
    )
    occupation = serializers.CharField(max_length=3, required=False, allow_blank=True)
    health_record_no = serializers.CharField(max_length=40, required=False, allow_blank=True)
    rural_coop_no = serializers.CharField(max_length=40, required=False, allow_blank=True)


class HolderUpdateSerializer(HolderWriteSerializer):
    """PATCH: only the editable fields (identity never changes)."""

    def get_fields(self):
        return {name: field for name, field in super().get_fields().items() if name in EDITABLE}


class RevealSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class PersonBlacklistSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, help_text="Why, and who decided")
    valid_until = serializers.DateField(required=False, allow_null=True, default=None)


def person_entry_data(entry) -> dict:
    return {
        "list_number": entry.removed_number or entry.added_number,
        "label": entry.label,
        "reason": entry.note,
        "valid_until": entry.valid_until,
        "decided_by": entry.added_by,
        "listed": entry.removed_number is None,
    }


class HolderViewSet(
    ExportMixin,
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Holders in the caller's region scope: masked list and detail, register, modify, audited unmasked view."""

    queryset = Resident.objects.select_related("region")
    filterset_class = HolderFilterSet
    ordering_fields = ["birth_date", "created_at", "region"]
    http_method_names = ["get", "post", "patch", "head", "options"]
    export_columns = HOLDER_COLUMNS
    export_title = _("Holders")

    def get_serializer_class(self):
        if self.action == "list":
            return HolderListSerializer
        return HolderSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "list":
            # The list shows name and number only: the other sealed columns are not read (nor decrypted).
            queryset = queryset.defer(
                "address1", "address2", "phone2", "contacts", "health_record_no", "rural_coop_no"
            )
        return queryset

    def get_permissions(self):
        if self.action == "reveal":
            # A look-up, not a write: viewing holders and the personal-data permission are what it needs.
            return [IsAuthenticated()]
        return super().get_permissions()

    def actor(self) -> Actor:
        return Actor.from_request(self.request, channel=Channel.API)

    @extend_schema(request=HolderWriteSerializer, responses={201: HolderSerializer})
    def create(self, request, *args, **kwargs):
        """Register a holder (manual entry rules: the ID number is checked and decides birth date and sex)."""
        data = HolderWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        resident = holder_register(actor=self.actor(), **values)
        return Response(HolderSerializer(resident).data, status=201)

    @extend_schema(request=HolderUpdateSerializer, responses=HolderSerializer)
    def partial_update(self, request, *args, **kwargs):
        """Modify a holder's editable fields (name, ethnicity, county, addresses, phones, contacts, ...)."""
        resident = self.get_object()
        data = HolderUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        reason = str(request.data.get("reason", ""))[:200] if hasattr(request.data, "get") else ""
        resident = holder_update(actor=self.actor(), resident=resident, reason=reason, **data.validated_data)
        return Response(HolderSerializer(resident).data)

    @extend_schema(request=RevealSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def reveal(self, request, pk=None):
        """调阅: the unmasked personal data; needs registry.view_personal_data and leaves an audit row."""
        if not request.user.has_perm("cards.view_resident"):
            raise PermissionDenied
        reason = RevealSerializer(data=request.data)
        reason.is_valid(raise_exception=True)
        values = holder_reveal(
            actor=self.actor(), resident=self.get_object(), reason=reason.validated_data["reason"]
        )
        return Response({"id": int(pk), **values})

    @extend_schema(request=PersonBlacklistSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def blacklist(self, request, pk=None):
        """Put the person on the blacklist (reason, optional end date): they cannot apply for or use a card."""
        if not request.user.has_perm("cards.change_resident"):
            raise PermissionDenied
        data = PersonBlacklistSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = person_blacklist_add(actor=self.actor(), resident=self.get_object(), **data.validated_data)
        return Response(person_entry_data(entry))

    @extend_schema(request=RevealSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def unblacklist(self, request, pk=None):
        """Take the person off the blacklist (mandatory reason)."""
        if not request.user.has_perm("cards.change_resident"):
            raise PermissionDenied
        data = RevealSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = person_blacklist_remove(
            actor=self.actor(), resident=self.get_object(), reason=data.validated_data["reason"]
        )
        return Response(person_entry_data(entry))

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def timeline(self, request, pk=None):
        """The person's case history across all their cards, oldest first."""
        from cards.api.cards import CardEventSerializer

        return Response(CardEventSerializer(person_timeline(resident=self.get_object()), many=True).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("by", OpenApiTypes.STR, enum=list(DIMENSIONS)),
            OpenApiParameter("region", OpenApiTypes.STR, description="GB/T 2260 code; default: your scope"),
            OpenApiParameter("as_of", OpenApiTypes.DATE, description="ages on this day; default: today"),
            OpenApiParameter("as", OpenApiTypes.STR, enum=["json", "xlsx", "pdf"]),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    @action(detail=False, methods=["get"])
    def statistics(self, request):
        """分类统计: holders by region (next level down), sex, age band or ethnicity, each split by sex and age."""
        by = request.query_params.get("by", "region")
        if by not in DIMENSIONS:
            raise DomainError(
                _("Classify by region, sex, age or ethnicity."), code="bad_dimension", detail={"field": "by"}
            )
        region = request.query_params.get("region") or None
        if region is not None and not user_can_see_region(request.user, region):
            raise DomainError(
                _("%(region)s is outside your region."), {"region": region}, code="out_of_scope"
            )
        try:
            as_of = (
                dt.date.fromisoformat(request.query_params["as_of"])
                if request.query_params.get("as_of")
                else None
            )
        except ValueError:
            raise DomainError(
                _("as_of must be a date (2026-01-31)."), code="bad_date", detail={"field": "as_of"}
            ) from None
        statistics = holder_statistics(user=request.user, by=by, region=region, as_of=as_of)
        fmt = request.query_params.get("as", "json")
        if fmt in ("xlsx", "pdf"):
            return export_response(
                statistics_sheet(statistics, generated_by=request.user.get_username()), fmt
            )
        return Response(
            {
                "by": by,
                "region": statistics.region.code if statistics.region else None,
                "as_of": statistics.as_of,
                "rows": [_statistics_row(row) for row in statistics.rows],
                "total": _statistics_row(statistics.total),
            }
        )


def _statistics_row(row) -> dict:
    return {
        "key": row.key,
        "label": row.label,
        "total": row.total,
        "by_sex": row.by_sex,
        "by_age_band": row.by_band,
    }


# (prefix, viewset, basename) triples that cards/api/urls.py registers.
ROUTES: list = [("holders", HolderViewSet, "holder")]
