"""A space's bytes and state as writes see them: the space-row lock, quota
charges and the archived refusal (files, locks and shares all use them)."""

from __future__ import annotations

from django.db import connection
from django.db.models import F
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext

from portal.core.errors import Conflict, QuotaExceeded
from portal.spaces.models import Space


def refuse_archived(space: Space) -> None:
    if space.archived_at is not None:
        raise Conflict(gettext("Space %(name)r is archived and read-only; an owner can unarchive it.") % {"name": space.name},
                       code="archived")


def lock_spaces(*space_ids: int) -> dict[int, Space]:
    """Lock the spaces' rows, always in id order so two writers never deadlock.
    Everything that changes ``used_bytes`` holds this lock: quota checks are race-free."""
    spaces = Space.objects.select_for_update().filter(pk__in=set(space_ids)).order_by("pk")
    return {space.pk: space for space in spaces}


def _human(size: int) -> str:
    return filesizeformat(size)  # in the reader's language: "1.5 MB", "1.5\xa0MB" in Chinese too


def check_quota(space: Space, extra: int) -> None:
    if space.used_bytes + extra > space.quota_bytes:
        free = max(space.quota_bytes - space.used_bytes, 0)
        raise QuotaExceeded(
            gettext("Space %(name)r has %(value)s free and this needs %(value2)s; delete or purge something, or ask an administrator for more quota.") % {"name": space.name, "value": _human(free), "value2": _human(extra)},
            detail={"quota": space.quota_bytes, "used": space.used_bytes, "needed": extra})


def charge_quota(space: Space, extra: int) -> None:
    """Count ``extra`` bytes against a space locked with lock_spaces."""
    if extra <= 0:
        return
    check_quota(space, extra)
    Space.objects.filter(pk=space.pk).update(used_bytes=F("used_bytes") + extra)
    space.used_bytes += extra


def release_quota(space: Space, freed: int) -> None:
    if freed <= 0:
        return
    Space.objects.filter(pk=space.pk).update(used_bytes=F("used_bytes") - freed)
    space.used_bytes -= freed


def lock_space_charging(space_id: int, extra: int) -> tuple[Space, bool]:
    """Lock the space's row (as lock_spaces does) by charging ``extra`` bytes
    to it in the same statement: (the space as now charged, whether the bytes
    fit its quota). The row stays locked until the transaction ends. A caller
    that refuses afterwards, over quota or for any other reason, gives the
    bytes back with release_quota (over quota: check_quota's error, on the
    space as it was)."""
    table = Space._meta.db_table
    fields = Space._meta.concrete_fields
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET used_bytes = used_bytes + %s WHERE id = %s "
                       f"RETURNING {', '.join(field.column for field in fields)}", [extra, space_id])
        row = cursor.fetchone()
    space = Space.from_db(connection.alias, [field.attname for field in fields], row)
    return space, space.used_bytes <= space.quota_bytes
