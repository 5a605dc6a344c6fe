"""Region scope: the one mechanism that bounds what a user sees, in the admin, the API, exports and stats.

GB/T 2260 codes are hierarchical, so "this region and below" is a code-prefix filter. Each scoped model
names the lookup that leads to its region code in REGION_SCOPE_FIELD (e.g. "region__code", which Django
resolves on the local region_id column without a join).
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet

from registry.models.regions import region_prefix


def node_prefix() -> str:
    return region_prefix(settings.HC_REGION)


def user_scope_prefix(user) -> str | None:
    """The code prefix a user may see; None means nothing at all."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    base = node_prefix()
    if user.scope_region_id:
        prefix = region_prefix(user.scope_region_id)
    elif user.is_superuser:
        prefix = base
    else:
        return None  # a staff user without a scope sees nothing until an administrator assigns one
    if prefix.startswith(base):
        return prefix
    if base.startswith(prefix):
        return base  # a scope wider than this node is clamped to the node's own region
    return None


def scope_queryset(queryset: QuerySet, user, *, field: str | None = None) -> QuerySet:
    field = field or queryset.model.REGION_SCOPE_FIELD
    prefix = user_scope_prefix(user)
    if prefix is None:
        return queryset.none()
    if prefix == "":
        return queryset
    return queryset.filter(**{f"{field}__startswith": prefix})


def user_can_see_region(user, code: str) -> bool:
    prefix = user_scope_prefix(user)
    return prefix is not None and code.startswith(prefix)
