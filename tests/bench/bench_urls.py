"""The node's URLs plus a bare Django JSON view: the yardstick of the hospital API benchmark (same server)."""

from django.http import JsonResponse
from django.urls import path

from config.urls import urlpatterns as node_urlpatterns


def bare(request):
    return JsonResponse({"code": "active", "usable": True})


urlpatterns = [path("bench/bare", bare), *node_urlpatterns]
