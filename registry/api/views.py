"""Staff API views of the registry: thin, they parse, check permission and call an action."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from registry import actions
from registry.actors import Actor
from registry.admin import CENTRE_COLUMNS
from registry.api.mixins import ExportMixin, ScopedViewSetMixin
from registry.api.serializers import (
    CentreSerializer,
    CentreUpdateSerializer,
    ReasonSerializer,
    RegionSerializer,
)
from registry.choices import Channel
from registry.filtersets import CentreFilterSet, RegionFilterSet
from registry.models import Region, RegistrationCentre


class RegionViewSet(viewsets.ReadOnlyModelViewSet):
    """The GB/T 2260 tree (read-only): the source of region pickers."""

    queryset = Region.objects.all()
    serializer_class = RegionSerializer
    filterset_class = RegionFilterSet
    permission_classes = [IsAuthenticated]
    lookup_field = "code"


class CentreViewSet(
    ExportMixin,
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Registration centres in the caller's region scope. Deregister instead of delete."""

    queryset = RegistrationCentre.objects.select_related("region")
    serializer_class = CentreSerializer
    filterset_class = CentreFilterSet
    ordering_fields = ["region", "name", "registered_at", "changed_at"]
    export_columns = CENTRE_COLUMNS
    export_title = _("Registration centres")

    def get_serializer_class(self):
        return CentreUpdateSerializer if self.action in ("update", "partial_update") else CentreSerializer

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = actions.centre_register(
            actor=Actor.from_request(self.request, channel=Channel.API), **data
        )

    def perform_update(self, serializer):
        serializer.instance = actions.centre_update(
            actor=Actor.from_request(self.request, channel=Channel.API),
            centre=serializer.instance,
            **serializer.validated_data,
        )

    @extend_schema(request=ReasonSerializer, responses=CentreSerializer)
    @action(detail=True, methods=["post"])
    def deregister(self, request, pk=None):
        if not request.user.has_perm("registry.deregister_registrationcentre"):
            raise PermissionDenied
        reason = ReasonSerializer(data=request.data)
        reason.is_valid(raise_exception=True)
        centre = actions.centre_deregister(
            actor=Actor.from_request(request, channel=Channel.API),
            centre=self.get_object(),
            reason=reason.validated_data["reason"],
        )
        return Response(CentreSerializer(centre).data)
