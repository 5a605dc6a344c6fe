"""Roles are groups with permission sets, rebuilt after migrate."""

import pytest
from django.contrib.auth.models import Group

from registry.roles import ROLES


@pytest.mark.django_db
def test_every_role_exists_as_a_group():
    assert set(Group.objects.values_list("name", flat=True)) >= {role.group_name for role in ROLES}


@pytest.mark.django_db
def test_role_permission_sets(make_user):
    admin = make_user("a", roles=["系统管理员"], scope="610100")
    reader = make_user("r", roles=["只读用户"], scope="610100")
    statistician = make_user("s", roles=["统计员"], scope="610100")
    assert admin.has_perm("registry.view_personal_data") and admin.has_perm(
        "registry.deregister_registrationcentre"
    )
    assert reader.has_perm("registry.view_registrationcentre")
    assert not reader.has_perm("registry.view_personal_data")
    assert not reader.has_perm("registry.change_registrationcentre")
    assert not statistician.has_perm("registry.view_personal_data")
