"""What every staff API viewset shares: region scope and export of the current filtered list."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from registry.actors import Actor
from registry.choices import Channel
from registry.errors import DomainError
from registry.exports import Column, Sheet, export_response
from registry.scope import scope_queryset


class ScopedViewSetMixin:
    scope_field: str | None = None

    def get_queryset(self):
        return scope_queryset(super().get_queryset(), self.request.user, field=self.scope_field)


class ExportMixin:
    """GET <list>/export/?format=xlsx|pdf&<the list's filters> -> the same rows as a file."""

    export_columns: list[Column] = []
    export_title: str = ""

    def describe_filters(self, request) -> list[tuple[str, str]]:
        described = []
        filterset_class = getattr(self, "filterset_class", None)
        if filterset_class is None:
            return described
        filterset = filterset_class(request.query_params, queryset=self.get_queryset())
        for name, filter_ in filterset.filters.items():
            value = request.query_params.get(name)
            if value not in (None, ""):
                described.append((str(filter_.label or name), value))
        return described

    def export_sheet(self, request) -> Sheet:
        return Sheet(
            title=str(self.export_title),
            columns=self.export_columns,
            rows=self.filter_queryset(self.get_queryset()),
            filters=self.describe_filters(request),
            generated_by=request.user.get_username(),
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("as", OpenApiTypes.STR, enum=["xlsx", "pdf"], description="File format")
        ],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 202: OpenApiTypes.OBJECT},
    )
    @action(detail=False, methods=["get"], url_path="export")
    def export(self, request, *args, **kwargs):
        """Export the filtered list to XLSX or print it to PDF (large lists become a background job)."""
        from registry.actions import export_job_create

        fmt = request.query_params.get("as", "xlsx")
        if fmt not in ("xlsx", "pdf"):
            raise DomainError(
                _("The file format must be xlsx or pdf."), code="bad_format", detail={"field": "as"}
            )
        sheet = self.export_sheet(request)
        rows = sheet.rows.count()
        if fmt == "xlsx" and rows > settings.HC_EXPORT_SYNC_LIMIT:
            view_path = f"{type(self).__module__}.{type(self).__qualname__}"
            job = export_job_create(
                user=request.user,
                source=f"api:{view_path}",
                params=request.query_params.dict(),
                fmt=fmt,
                rows_total=rows,
            )
            return Response(
                {"job": job.pk, "status": job.status, "rows_total": rows}, status=status.HTTP_202_ACCEPTED
            )
        sheet.total = rows
        return export_response(sheet, fmt)


def api_actor(request) -> Actor:
    return Actor.from_request(request, channel=Channel.API)
