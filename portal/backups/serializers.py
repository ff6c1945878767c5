from rest_framework import serializers

from portal.api.fields import Int64Field
from portal.api.serializers import StrictSerializer, TextField
from portal.backups.models import RetentionPolicy


class DeviceOut(serializers.Serializer):
    id = Int64Field()
    name = serializers.CharField()
    owner = serializers.CharField(source="user.username")
    hostname = serializers.CharField()
    platform = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField(allow_null=True)
    last_backup_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField()
    last_error_at = serializers.DateTimeField(allow_null=True)
    state = serializers.CharField()
    snapshots = Int64Field(source="snapshot_count", default=0)
    stored_bytes = Int64Field(default=0)
    excludes = serializers.ListField(child=serializers.CharField())


class SnapshotOut(serializers.Serializer):
    id = Int64Field()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField()
    paths = serializers.ListField(child=serializers.CharField())
    hostname = serializers.CharField()
    files = Int64Field()
    dirs = Int64Field()
    bytes = Int64Field()
    added_bytes = Int64Field()
    skipped = Int64Field()
    root = serializers.CharField()
    key_set = serializers.CharField(source="key_set.key_id",
                                    help_text="The key set its chunks are sealed with (a device may hold several)")


class EnrollmentTokenIn(StrictSerializer):
    name = TextField(required=False, allow_blank=True, max_length=100)


class EnrollmentTokenOut(serializers.Serializer):
    token = serializers.CharField(help_text="Shown only in this response.")
    expires_at = serializers.DateTimeField()
    command = serializers.CharField(help_text="The line to paste on the machine.")


class DeviceUpdateIn(StrictSerializer):
    name = TextField(required=False)
    excludes = serializers.ListField(child=TextField(), required=False)


class RetentionIn(StrictSerializer):
    keep_last = Int64Field(min_value=0)
    keep_hourly = Int64Field(min_value=0)
    keep_daily = Int64Field(min_value=0)
    keep_weekly = Int64Field(min_value=0)
    keep_monthly = Int64Field(min_value=0)


class RetentionOut(serializers.Serializer):
    keep_last = Int64Field()
    keep_hourly = Int64Field()
    keep_daily = Int64Field()
    keep_weekly = Int64Field()
    keep_monthly = Int64Field()
    source = serializers.CharField(help_text='"device" (its own policy) or "default" (the deployment default)')


def retention_out(policy: RetentionPolicy, source: str) -> dict:
    return {**policy.as_dict(), "source": source}


class EntryOut(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()
    size = Int64Field(allow_null=True)
    mtime = serializers.DateTimeField(allow_null=True)
    target = serializers.CharField(required=False)


class FolderOut(serializers.Serializer):
    path = serializers.CharField()
    entries = EntryOut(many=True)


class EnrollIn(StrictSerializer):
    token = TextField()
    name = TextField(required=False, allow_blank=True)
    hostname = TextField()
    platform = TextField()


class SnapshotIn(StrictSerializer):
    root = TextField()
    started_at = TextField()
    finished_at = TextField()
    paths = serializers.ListField(child=TextField(), allow_empty=True)
    hostname = TextField(required=False, allow_blank=True)
    stats = serializers.DictField(child=Int64Field(), required=False)


class ReportIn(StrictSerializer):
    status = serializers.ChoiceField(choices=["failed"])
    error = TextField()
