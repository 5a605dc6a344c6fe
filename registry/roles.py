"""Roles are groups with permission sets. They are rebuilt after every migrate, so they grow with the apps."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

ALL = "*"


@dataclass(frozen=True)
class Role:
    key: str
    group_name: str  # what the admin shows; stable, so it is also the lookup key
    label: object
    # (app_label, action) pairs; action is add/change/delete/view or a custom codename, "*" matches any.
    grants: tuple[tuple[str, str], ...]


# What every working role may look up: the region tree, the centres and the institution registers.
REFERENCE = (
    ("registry", "view_region"),
    ("registry", "view_registrationcentre"),
    ("registry", "view_listentry"),
    ("institutions", "view"),
)

ROLES: tuple[Role, ...] = (
    Role("system_admin", "系统管理员", _("System administrator"), ((ALL, ALL),)),
    Role(
        "card_manager",
        "卡管理员",
        _("Card manager"),
        (
            *REFERENCE,
            ("cards", ALL),
            ("registry", "view_personal_data"),
        ),
    ),
    Role(
        "issuing_clerk",
        "发卡操作员",
        _("Issuing clerk"),
        (
            ("cards", "view"),
            ("cards", "add"),
            ("cards", "change"),
            ("terminals", ALL),
            *REFERENCE,
        ),
    ),
    Role(
        "sam_manager",
        "SAM卡管理员",
        _("SAM manager"),
        (*REFERENCE, ("sam", ALL), ("terminals", "view")),
    ),
    Role("statistician", "统计员", _("Statistician"), (("stats", ALL), (ALL, "view"))),
    Role(
        "reviewer",
        "审核员",
        _("Reviewer"),
        (*REFERENCE, ("cards", "view"), ("cards", "review"), ("sam", "view"), ("sam", "review")),
    ),
    Role("read_only", "只读用户", _("Read-only"), ((ALL, "view"),)),
)


def role_by_key(key: str) -> Role:
    return next(role for role in ROLES if role.key == key)


def permission_matches(app_label: str, model_name: str, codename: str, grant: tuple[str, str]) -> bool:
    """A grant names an app and either "*", a standard action (view/add/change/delete/...) or a codename.

    A standard action matches only the model's own permission ("view" -> view_<model>), so a read-only
    role never picks up a custom permission that merely starts with view_ (view_personal_data).
    """
    grant_app, grant_action = grant
    if grant_app not in (ALL, app_label):
        return False
    if grant_action == ALL:
        return True
    return codename in (grant_action, f"{grant_action}_{model_name}")


def roles_sync() -> None:
    """Give every role group exactly the permissions its grants match (called after migrate)."""
    from django.contrib.auth.models import Group, Permission

    permissions = list(Permission.objects.select_related("content_type"))
    for role in ROLES:
        group, _created = Group.objects.get_or_create(name=role.group_name)
        wanted = [
            p
            for p in permissions
            if any(
                permission_matches(p.content_type.app_label, p.content_type.model, p.codename, g)
                for g in role.grants
            )
        ]
        group.permissions.set(wanted)
