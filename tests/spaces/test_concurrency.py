"""Races on PostgreSQL with real threads: each thread has its own connection
and transaction, as two web processes would."""

import threading

import pytest
from django.db import connection

from portal.core.errors import PortalError
from portal.spaces import services
from portal.spaces.models import Membership, Space
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(*calls):
    """Run the calls at the same instant in threads; return each one's result or error."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except PortalError as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_owners_demoting_each_other_at_once_leave_exactly_one_owner():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    space = services.space_create(actor=alice, name="Shared")
    Membership.objects.create(space=space, user=bob, role="owner")
    for _ in range(5):
        results = run_together(
            lambda: services.member_change_role(actor=alice, space_id=space.id, user_id=bob.id, role="viewer"),
            lambda: services.member_change_role(actor=bob, space_id=space.id, user_id=alice.id, role="viewer"),
        )
        owners = Membership.objects.filter(space=space, role="owner").count()
        assert owners == 1, results
        assert sum(isinstance(r, PortalError) for r in results) == 1
        Membership.objects.filter(space=space).update(role="owner")


def test_two_owners_leaving_at_once_cannot_orphan_the_space():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    space = services.space_create(actor=alice, name="Shared")
    Membership.objects.create(space=space, user=bob, role="owner")
    run_together(
        lambda: services.member_remove(actor=alice, space_id=space.id, user_id=alice.id),
        lambda: services.member_remove(actor=bob, space_id=space.id, user_id=bob.id),
    )
    assert Membership.objects.filter(space=space, role="owner").count() == 1


def test_creating_the_same_space_name_eight_times_at_once_makes_one_space():
    alice = UserFactory(username="alice")
    results = run_together(*[lambda: services.space_create(actor=alice, name="Race")] * 8)
    assert Space.objects.filter(name="Race").count() == 1
    assert sum(isinstance(r, Space) for r in results) == 1
    assert all(getattr(r, "code", None) == "name_taken" for r in results if not isinstance(r, Space))
