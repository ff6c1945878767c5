"""One enrollment token, two machines enrolling at the same instant: one device."""

import pytest

from portal.backups.models import Device
from portal.backups.services.devices import device_enroll, enrollment_token_create
from portal.core.errors import InvalidInput
from tests.helpers import at_once

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def test_a_token_used_twice_at_once_makes_one_device(alice):
    _, token = enrollment_token_create(actor=None, owner=alice)
    results = at_once(*[lambda: device_enroll(token=token, hostname="h", platform="linux")] * 2)
    assert Device.objects.count() == 1
    assert sorted(type(r).__name__ for r in results) == ["InvalidInput", "tuple"]
    assert next(r for r in results if isinstance(r, InvalidInput)).code == "enrollment_token_used"
