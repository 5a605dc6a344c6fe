"""API views of the institutions app: the staff registers and the hospital-facing whoami. Thin: parse, check, act."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from institutions import actions
from institutions.admin import CARD_MAKER_COLUMNS, FINANCIAL_COLUMNS, MEDICAL_COLUMNS
from institutions.api.authentication import HospitalSignatureAuthentication, InstitutionPrincipal
from institutions.api.serializers import (
    ApiCredentialSerializer,
    CardMakerSerializer,
    CredentialIssueSerializer,
    CredentialRotateSerializer,
    FinancialInstitutionSerializer,
    IssuedCredentialSerializer,
    MedicalInstitutionSerializer,
    WhoAmISerializer,
)
from institutions.filtersets import (
    ApiCredentialFilterSet,
    CardMakerFilterSet,
    FinancialInstitutionFilterSet,
    MedicalInstitutionFilterSet,
)
from institutions.models import ApiCredential, CardMaker, FinancialInstitution, MedicalInstitution
from registry.actors import Actor
from registry.api.mixins import ExportMixin, ScopedViewSetMixin
from registry.api.serializers import ReasonSerializer
from registry.choices import Channel
from registry.errors import NotFoundError
from registry.scope import scope_queryset


class OrganisationViewSet(
    ExportMixin,
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """A register in the caller's region scope: combined query, export, register, modify, deregister."""

    ordering_fields = ["name", "code", "region", "registered_at"]

    def actor(self) -> Actor:
        return Actor.from_request(self.request, channel=Channel.API)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = actions.organisation_register(
            actor=self.actor(), model=self.queryset.model, **data
        )

    def perform_update(self, serializer):
        data = {k: v for k, v in serializer.validated_data.items() if k != "code"}
        serializer.instance = actions.organisation_update(actor=self.actor(), obj=serializer.instance, **data)

    @extend_schema(request=ReasonSerializer)
    @action(detail=True, methods=["post"])
    def deregister(self, request, pk=None):
        """Deregister (注销) with a mandatory reason; the record stays."""
        model = self.queryset.model
        if not request.user.has_perm(f"institutions.deregister_{model._meta.model_name}"):
            raise PermissionDenied
        reason = ReasonSerializer(data=request.data)
        reason.is_valid(raise_exception=True)
        obj = actions.organisation_deregister(
            actor=self.actor(), obj=self.get_object(), reason=reason.validated_data["reason"]
        )
        return Response(self.get_serializer(obj).data)


class MedicalInstitutionViewSet(OrganisationViewSet):
    queryset = MedicalInstitution.objects.select_related("region")
    serializer_class = MedicalInstitutionSerializer
    filterset_class = MedicalInstitutionFilterSet
    export_columns = MEDICAL_COLUMNS
    export_title = _("Medical institutions")


class CardMakerViewSet(OrganisationViewSet):
    queryset = CardMaker.objects.select_related("region")
    serializer_class = CardMakerSerializer
    filterset_class = CardMakerFilterSet
    export_columns = CARD_MAKER_COLUMNS
    export_title = _("Card makers")


class FinancialInstitutionViewSet(OrganisationViewSet):
    queryset = FinancialInstitution.objects.select_related("region")
    serializer_class = FinancialInstitutionSerializer
    filterset_class = FinancialInstitutionFilterSet
    export_columns = FINANCIAL_COLUMNS
    export_title = _("Financial institutions")


class ApiCredentialViewSet(
    ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Institutions' API keys: list, issue (secret shown once), rotate, revoke."""

    queryset = ApiCredential.objects.select_related("medical_institution", "financial_institution")
    serializer_class = ApiCredentialSerializer
    filterset_class = ApiCredentialFilterSet

    def actor(self) -> Actor:
        return Actor.from_request(self.request, channel=Channel.API)

    def _require(self, perm: str) -> None:
        if not self.request.user.has_perm(perm):
            raise PermissionDenied

    @extend_schema(request=CredentialIssueSerializer, responses={201: IssuedCredentialSerializer})
    @action(detail=False, methods=["post"])
    def issue(self, request):
        self._require("institutions.add_apicredential")
        data = CredentialIssueSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        code = data.validated_data["institution_code"]
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
        credential, secret = actions.credential_issue(
            actor=self.actor(),
            institution=institution,
            valid_days=data.validated_data["valid_days"],
            label=data.validated_data["label"],
        )
        credential.secret = secret
        return Response(IssuedCredentialSerializer(credential).data, status=201)

    @extend_schema(request=CredentialRotateSerializer, responses={201: IssuedCredentialSerializer})
    @action(detail=True, methods=["post"])
    def rotate(self, request, pk=None):
        self._require("institutions.change_apicredential")
        data = CredentialRotateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        successor, secret = actions.credential_rotate(
            actor=self.actor(), credential=self.get_object(), **data.validated_data
        )
        successor.secret = secret
        return Response(IssuedCredentialSerializer(successor).data, status=201)

    @extend_schema(request=ReasonSerializer, responses=ApiCredentialSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        self._require("institutions.revoke_apicredential")
        reason = ReasonSerializer(data=request.data)
        reason.is_valid(raise_exception=True)
        credential = actions.credential_revoke(
            actor=self.actor(), credential=self.get_object(), reason=reason.validated_data["reason"]
        )
        return Response(ApiCredentialSerializer(credential).data)


class IsSignedInstitution(BasePermission):
    """Only a call signed with an institution's API key (not a staff session)."""

    message = (
        "A signed institution request is required (X-HC-Key, X-HC-Timestamp, X-HC-Nonce, X-HC-Signature)."
    )

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, InstitutionPrincipal)


class HospitalAPIView(APIView):
    """The base of every hospital-facing endpoint: signed requests only."""

    authentication_classes = [HospitalSignatureAuthentication]
    permission_classes = [IsSignedInstitution]


class WhoAmIView(HospitalAPIView):
    @extend_schema(
        operation_id="hospital_whoami",
        summary="The calling institution",
        description="The first call an integrator makes: proves the key and signature work.",
        responses=WhoAmISerializer,
        examples=[
            OpenApiExample(
                "A county hospital",
                value={
                    "code": "12610113MB2963417B",
                    "name": "西安市雁塔区人民医院",
                    "type": "medical",
                    "region": "610113",
                    "region_name": "陕西省 西安市 雁塔区",
                    "key_id": "hc_3f9a0c1d2e4b5a6c7d8e",
                    "key_expires_at": "2027-11-21T10:00:00+08:00",
                },
            )
        ],
    )
    def get(self, request):
        credential = request.auth
        institution = credential.institution
        return Response(
            WhoAmISerializer(
                {
                    "code": institution.code,
                    "name": institution.name,
                    "type": "medical" if credential.medical_institution_id else "financial",
                    "region": institution.region_id,
                    "region_name": institution.region.full_name,
                    "key_id": credential.key_id,
                    "key_expires_at": credential.expires_at,
                }
            ).data
        )
