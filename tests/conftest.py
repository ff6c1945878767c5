import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytest_plugins = ["tests.support.seaweed", "tests.support.browser", "tests.support.oidc_provider.fixture",
                  "tests.support.slapd", "tests.support.coedit", "tests.support.quick_hashes",
                  "tests.support.quick_flush", "tests.support.private_redis"]


@pytest.fixture(scope="session", autouse=True)
def _empty_cache():
    """Start from an empty cache (Redis keeps keys between runs)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(scope="session", autouse=True)
def _storage_folder():
    """The configured (local) store exists, as `make run` leaves it."""
    from portal.storage import get_store

    get_store().ensure_bucket()


@pytest.fixture
def make_user(db):
    return UserFactory


@pytest.fixture
def alice(make_user):
    return make_user(username="alice")


@pytest.fixture
def bob(make_user):
    return make_user(username="bob")


@pytest.fixture
def admin(make_user):
    """A site administrator (superuser and staff)."""
    return make_user(username="root-admin", is_superuser=True, is_staff=True)


@pytest.fixture
def api():
    """An API client signed in as nobody; ``api.as_user(u)`` signs in."""
    client = APIClient()

    def as_user(user):
        client.force_authenticate(user=user)
        return client

    client.as_user = as_user
    return client
