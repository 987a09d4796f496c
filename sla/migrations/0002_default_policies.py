"""Default calendars and incident SLA policies, shipped as data (editable in the admin)."""

from django.db import migrations

from sla.defaults import install_default_policies


def create(apps, schema_editor):
    install_default_policies(
        apps.get_model("sla", "BusinessCalendar"),
        apps.get_model("sla", "WorkingPeriod"),
        apps.get_model("sla", "SlaPolicy"),
    )


class Migration(migrations.Migration):
    dependencies = [("sla", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
