from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InstitutionsConfig(AppConfig):
    name = "institutions"
    verbose_name = _("Institutions")

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from institutions.api.authentication import credentials_changed
        from institutions.models import ApiCredential, FinancialInstitution, MedicalInstitution

        # Every web process caches API keys briefly: a change of a key or an institution reloads them.
        for model in (ApiCredential, MedicalInstitution, FinancialInstitution):
            post_save.connect(credentials_changed, sender=model, dispatch_uid=f"credentials-{model.__name__}")
            post_delete.connect(
                credentials_changed, sender=model, dispatch_uid=f"credentials-{model.__name__}-"
            )
