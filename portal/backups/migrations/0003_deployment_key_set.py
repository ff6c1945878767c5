"""Per-user backup key sets, step 2 of 3 (docs/backup-protocol.md, "Key sets and migration").

The deployment-wide key set (BackupKeys, pk 1) becomes a BackupKeySet with
``deployment_wide`` set, its wrapped keys copied as they are (same wrapping).
Every existing pack, snapshot and device points at it, packs and chunk rows
get their owner (the user of the device that uploaded the pack), so the
snapshots made before stay readable by the portal and by their devices,
while every new pack uses its user's own key set."""

import secrets

from django.db import migrations
from django.db.models import OuterRef, Subquery


def to_key_sets(apps, schema_editor):
    BackupKeys = apps.get_model("backups", "BackupKeys")
    BackupKeySet = apps.get_model("backups", "BackupKeySet")
    Pack = apps.get_model("backups", "Pack")
    Chunk = apps.get_model("backups", "Chunk")
    Snapshot = apps.get_model("backups", "Snapshot")
    Device = apps.get_model("backups", "Device")
    old = BackupKeys.objects.filter(pk=1).first()
    if old is None:
        if Pack.objects.exists() or Snapshot.objects.exists():
            raise RuntimeError("Backups exist but the deployment's backup keys do not; restore the BackupKeys row.")
        return
    legacy = BackupKeySet.objects.create(key_id=secrets.token_hex(16), deployment_wide=True,
                                         id_key_wrapped=old.id_key_wrapped, data_key_wrapped=old.data_key_wrapped,
                                         created_at=old.created_at)
    Pack.objects.update(key_set=legacy, owner=Subquery(Device.objects.filter(pk=OuterRef("device")).values("user")))
    Chunk.objects.update(owner=Subquery(Pack.objects.filter(pk=OuterRef("pack")).values("owner")))
    Snapshot.objects.update(key_set=legacy)
    Device.objects.update(key_set=legacy)


def to_deployment_keys(apps, schema_editor):
    BackupKeys = apps.get_model("backups", "BackupKeys")
    BackupKeySet = apps.get_model("backups", "BackupKeySet")
    Pack = apps.get_model("backups", "Pack")
    if Pack.objects.filter(key_set__deployment_wide=False).exists():
        raise RuntimeError("Packs sealed with per-user keys exist; they cannot go back to one deployment key set.")
    legacy = BackupKeySet.objects.filter(deployment_wide=True).first()
    if legacy is not None:
        BackupKeys.objects.create(pk=1, id_key_wrapped=legacy.id_key_wrapped,
                                  data_key_wrapped=legacy.data_key_wrapped, created_at=legacy.created_at)


class Migration(migrations.Migration):

    dependencies = [("backups", "0002_per_user_key_sets")]

    operations = [migrations.RunPython(to_key_sets, to_deployment_keys)]
