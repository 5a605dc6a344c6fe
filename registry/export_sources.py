"""Rebuilding an export's rows outside the request that asked for it (background jobs).

A job remembers where its rows came from (an admin changelist or an API list) and the query string; the
worker replays that list for the job's user, so the file holds exactly what the person saw, in their scope.
"""

from __future__ import annotations

from django.contrib import admin
from django.test import RequestFactory
from django.utils.module_loading import import_string

from registry.exports import Sheet


def sheet_for_job(job) -> Sheet:
    kind, _sep, name = job.source.partition(":")
    request = RequestFactory().get("/", job.params)
    request.user = job.user
    if kind == "admin":
        app_label, model_name = name.split(".")
        model_admin = next(
            ma
            for model, ma in admin.site._registry.items()
            if model._meta.app_label == app_label and model._meta.model_name == model_name
        )
        sheet = model_admin.export_sheet(request)
    elif kind == "api":
        from rest_framework.request import Request

        view = import_string(name)()
        view.request = Request(request)
        view.request.user = job.user
        view.action, view.format_kwarg, view.args, view.kwargs = "list", None, (), {}
        sheet = view.export_sheet(view.request)
    else:
        raise ValueError(f"unknown export source {job.source!r}")
    sheet.generated_by = job.user.get_username()
    return sheet
