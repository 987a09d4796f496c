"""Human keys from PostgreSQL sequences (issue 13): one per ``core.Sequence`` row, starting
after the row's last value; going back writes each sequence's last value into its row."""

from django.db import migrations

PREFIX = "core_key_"


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    conn = schema_editor.connection
    if conn.vendor != "postgresql":
        return
    Sequence = apps.get_model("core", "Sequence")
    with conn.cursor() as cursor:
        for name, last in Sequence.objects.values_list("name", "last_value"):
            cursor.execute(
                f"CREATE SEQUENCE IF NOT EXISTS {conn.ops.quote_name(PREFIX + name)} "
                f"AS bigint MINVALUE 0 START WITH {int(last) + 1}"
            )


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    conn = schema_editor.connection
    if conn.vendor != "postgresql":
        return
    Sequence = apps.get_model("core", "Sequence")
    with conn.cursor() as cursor:
        for row in Sequence.objects.all():
            seq = conn.ops.quote_name(PREFIX + row.name)
            cursor.execute("SELECT to_regclass(%s)", [PREFIX + row.name])
            if cursor.fetchone()[0] is None:
                continue
            cursor.execute(f"SELECT last_value, is_called FROM {seq}")
            last, called = cursor.fetchone()
            row.last_value = last if called else last - 1
            row.save(update_fields=["last_value"])
            cursor.execute(f"DROP SEQUENCE {seq}")


class Migration(migrations.Migration):
    dependencies = [("core", "0007_homes_notifications")]

    operations = [migrations.RunPython(forwards, backwards)]
