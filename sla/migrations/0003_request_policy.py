"""The default service-request SLA policy (and any other default added since)."""

from django.db import migrations

from sla.defaults import install_default_policies


def create(apps, schema_editor):
    install_default_policies(
        apps.get_model("sla", "BusinessCalendar"),
        apps.get_model("sla", "WorkingPeriod"),
        apps.get_model("sla", "SlaPolicy"),
    )


class Migration(migrations.Migration):
    dependencies = [("sla", "0002_default_policies")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
