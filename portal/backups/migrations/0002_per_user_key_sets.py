"""Per-user backup key sets, step 1 of 3: the new table and columns (nullable for now); 0003 fills them."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("backups", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="BackupKeySet",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key_id", models.CharField(max_length=32, unique=True)),
                ("deployment_wide", models.BooleanField(default=False)),
                ("id_key_wrapped", models.TextField()),
                ("data_key_wrapped", models.TextField()),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("user", models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                              related_name="backup_key_set", to=settings.AUTH_USER_MODEL)),
            ],
        ),
        migrations.AddField(
            model_name="device",
            name="key_set",
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                    related_name="+", to="backups.backupkeyset"),
        ),
        migrations.AddField(
            model_name="pack",
            name="owner",
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                    related_name="+", to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name="pack",
            name="key_set",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.RESTRICT, related_name="packs",
                                    to="backups.backupkeyset"),
        ),
        migrations.AddField(
            model_name="chunk",
            name="owner",
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                    related_name="+", to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name="snapshot",
            name="key_set",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.RESTRICT,
                                    related_name="snapshots", to="backups.backupkeyset"),
        ),
    ]
