"""Per-user backup key sets, step 3 of 3: every pack and snapshot names its key set; the old table goes."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [("backups", "0003_deployment_key_set")]

    operations = [
        migrations.AlterField(
            model_name="pack",
            name="key_set",
            field=models.ForeignKey(on_delete=django.db.models.deletion.RESTRICT, related_name="packs",
                                    to="backups.backupkeyset"),
        ),
        migrations.AlterField(
            model_name="snapshot",
            name="key_set",
            field=models.ForeignKey(on_delete=django.db.models.deletion.RESTRICT, related_name="snapshots",
                                    to="backups.backupkeyset"),
        ),
        migrations.DeleteModel(name="BackupKeys"),
    ]
