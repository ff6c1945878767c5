"""Taking a lock at the same instant, on PostgreSQL with real threads (each
its own connection): exactly one attempt wins."""

from __future__ import annotations

import pytest

from portal.core.errors import Conflict
from portal.files.models import Node
from portal.locks.models import Lock, LockDepth, LockKind
from portal.locks.services import lock_acquire
from portal.spaces.models import Membership
from tests.helpers import at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def attempt(user, node_id, **kwargs):
    def call():
        node = Node.objects.select_related("space").get(pk=node_id)
        return lock_acquire(actor=user, node=node, **kwargs)

    return call


def editors(team, make_user, count):
    users = [make_user(username=f"racer{i}") for i in range(count)]
    Membership.objects.bulk_create(Membership(space=team, user=user, role="editor") for user in users)
    return users


def test_fifty_attempts_on_one_file_have_exactly_one_winner(team, make_user, doc):
    users = editors(team, make_user, 10)
    results = at_once(*[attempt(users[i % 10], doc.pk) for i in range(50)])
    winners = [r for r in results if isinstance(r, Lock)]
    assert len(winners) == 1, results
    assert all(isinstance(r, Conflict) and r.code == "locked" for r in results if r not in winners), results
    assert Lock.objects.filter(node=doc).count() == 1


def test_a_folder_lock_and_a_lock_inside_it_never_both_win(team, make_user, root, make_file):
    folder = Node.objects.create(space=team, parent=root, kind="folder", name="Plans", name_key="plans")
    inside = make_file(folder, "a.txt")
    users = editors(team, make_user, 2)
    for _ in range(5):
        Lock.objects.all().delete()
        results = at_once(attempt(users[0], folder.pk, kind=LockKind.EDITOR, depth=LockDepth.INFINITY),
                          attempt(users[1], inside.pk, kind=LockKind.EDITOR))
        assert sum(isinstance(r, Lock) for r in results) == 1, results
