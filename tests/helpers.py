"""Assertions shared by the tests: audit events and the API error shape."""

from portal.audit.models import AuditEvent


def events(action: str, **filters):
    return list(AuditEvent.objects.filter(action=action, **filters).order_by("id"))


def last_event(action: str, **filters) -> AuditEvent:
    found = events(action, **filters)
    assert found, f"no audit event {action!r} with {filters}"
    return found[-1]


def assert_error(response, status: int, code: str) -> dict:
    """The response is an API error in the one error shape, with this status and code."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "detail"}
    assert body["code"] == code
    assert body["message"]
    return body
