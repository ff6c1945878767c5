"""Passwords hashed with argon2 at test strength for the whole suite.

The production argon2 (100 MB, two passes, eight lanes) costs ~0.16 s per hash
on an idle core and several times that on a busy one, and every user a factory
makes, every sign-in and every password change pays it: thousands of times per
run. QuickArgon2 writes the same argon2id format with the smallest memory and
time cost, so the code paths are the same. The tests that prove passwords are
stored with the production hasher set ``PRODUCTION_HASHERS`` back themselves.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.test import override_settings

PRODUCTION_HASHERS = list(settings.PASSWORD_HASHERS)


class QuickArgon2(Argon2PasswordHasher):
    """Argon2 in the same format at test strength."""

    time_cost = 1
    memory_cost = 64
    parallelism = 1


QUICK_HASHERS = ["tests.support.quick_hashes.QuickArgon2", *PRODUCTION_HASHERS[1:]]


@pytest.fixture(scope="session", autouse=True)
def _quick_password_hashes():
    with override_settings(PASSWORD_HASHERS=QUICK_HASHERS):
        yield
