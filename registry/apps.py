from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = _("Registry")

    def ready(self) -> None:
        from . import checks, signals  # noqa: F401  (deploy checks; roles kept in sync after every migrate)
