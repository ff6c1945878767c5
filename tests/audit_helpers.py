from portal.audit.models import AuditEvent


def events(action: str, **filters):
    return list(AuditEvent.objects.filter(action=action, **filters).order_by("id"))


def last_event(action: str, **filters) -> AuditEvent:
    found = events(action, **filters)
    assert found, f"no audit event {action!r} with {filters}"
    return found[-1]
