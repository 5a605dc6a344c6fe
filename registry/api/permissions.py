"""API permissions: Django model permissions, including view, on top of region scope."""

from rest_framework.permissions import DjangoModelPermissions


class ScopedModelPermissions(DjangoModelPermissions):
    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }


class CanChange(ScopedModelPermissions):
    """State changes through action endpoints (POST) need the change permission, reads need view."""

    perms_map = {**ScopedModelPermissions.perms_map, "POST": ["%(app_label)s.change_%(model_name)s"]}
