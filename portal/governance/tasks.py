"""Celery tasks for governance: take nothing, safe to run twice."""

from celery import shared_task

from portal.governance import ending


@shared_task(name="governance.apply_retention_end")
def apply_retention_end() -> dict:
    return ending.retention_end_apply()


@shared_task(name="governance.flag_hold_objects")
def flag_hold_objects(hold_id: int) -> str:
    from portal.governance import storeflags

    return storeflags.store_flags_apply(hold_id)


@shared_task(name="governance.ransomware_respond")
def ransomware_respond(actor: str) -> dict:
    """An actor the detector flagged ("user:<id>" or "link:<id>"): the policy's response, once."""
    from portal.governance import services_ransomware

    return services_ransomware.ransomware_respond(suspect=actor)
