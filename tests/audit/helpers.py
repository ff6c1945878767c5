"""Helpers for the chain tests: run audit_verify, and tamper as an attacker would."""

import hashlib
import io

from django.core.management import CommandError, call_command
from django.db import connection

from portal.audit import chain
from portal.audit.models import AuditEvent


def verify(*args: str) -> tuple[int, str]:
    """Run ``audit_verify``: (exit code, everything it printed)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("audit_verify", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    except CommandError as error:
        code = error.returncode
        err.write(str(error))
    return code, out.getvalue() + err.getvalue()


def sql(statement: str, params=()) -> int:
    """Raw SQL, as an attacker with database access would run it."""
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def rows_in_chain_order() -> list[tuple]:
    return list(AuditEvent.objects.filter(seq__isnull=False).order_by("seq")
                .values_list("seq", *chain.CONTENT_FIELDS))


def rehash(start_seq: int, digest) -> str:
    """Recompute prev_hash/chain_hash from ``start_seq`` on with ``digest(bytes)``:
    a forger's rewrite. Returns the new head hash."""
    prev = AuditEvent.objects.filter(seq=start_seq - 1).values_list("chain_hash", flat=True).first() or chain.GENESIS
    for row in rows_in_chain_order():
        if row[0] < start_seq:
            continue
        new = digest(chain.canonical(row[1:], prev))
        sql("UPDATE audit_auditevent SET prev_hash = %s, chain_hash = %s WHERE seq = %s", [prev, new, row[0]])
        prev = new
    return prev


def plain_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
