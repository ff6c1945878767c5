import pytest

from portal.audit.models import AuditEvent
from portal.audit.services import record


@pytest.fixture
def heads_store(settings, tmp_path):
    """The portal's store, in a fresh folder: exported heads of other tests
    (whose chains were rolled back) must not be compared with this one."""
    from portal.storage import get_store

    settings.STORAGE_BACKEND = "local"
    settings.STORAGE_ROOT = tmp_path / "objects"
    store = get_store()
    store.ensure_bucket()
    return store


@pytest.fixture
def events(alice):
    """``events(n)`` writes n events and returns them, oldest first."""
    def write(count: int, action: str = "test.event") -> list[AuditEvent]:
        return [record(action=action, actor=alice, target=alice, details={"n": i, "note": "é"})
                for i in range(count)]
    return write
