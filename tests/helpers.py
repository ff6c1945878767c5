"""Assertions shared by the tests: audit events and the API error shape;
running calls at the same instant."""

import threading

from django.db import connection

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


def at_once(*calls) -> list:
    """Run the calls in threads released together (each on its own database
    connection, closed after); each one's result or exception."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a call hung"
    return results
