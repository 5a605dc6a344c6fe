"""Load the GB/T 2260 region tree (from python-stdnum's data) as part of migrate."""

from django.db import migrations


def load(apps, schema_editor):
    from registry.actions import regions_load

    regions_load(region_model=apps.get_model("registry", "Region"))


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
