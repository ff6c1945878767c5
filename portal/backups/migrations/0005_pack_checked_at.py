from django.db import migrations, models
from django.db.models import F


def checked_when_indexed(apps, schema_editor):
    # Packs indexed so far had every blob checked in the index call itself.
    Pack = apps.get_model("backups", "Pack")
    Pack.objects.filter(indexed_at__isnull=False).update(checked_at=F("indexed_at"))


class Migration(migrations.Migration):
    dependencies = [("backups", "0004_key_set_required")]

    operations = [
        migrations.AddField(model_name="pack", name="checked_at", field=models.DateTimeField(blank=True, null=True)),
        migrations.RunPython(checked_when_indexed, migrations.RunPython.noop),
    ]
