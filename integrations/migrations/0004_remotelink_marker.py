"""``RemoteLink.marker``: the stable mark of a link's remote create (its label).

Added nullable, filled row by row (a callable default in ``AddField`` would give every
existing link the same value), then made required and unique."""

import uuid

from django.db import migrations, models


def fill_markers(apps, schema_editor):  # type: ignore[no-untyped-def]
    RemoteLink = apps.get_model("integrations", "RemoteLink")
    for link in RemoteLink.objects.filter(marker__isnull=True).only("pk").iterator():
        RemoteLink.objects.filter(pk=link.pk).update(marker=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [("integrations", "0003_connectors")]

    operations = [
        migrations.AddField(
            model_name="remotelink",
            name="marker",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(fill_markers, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="remotelink",
            name="marker",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
