"""Creating accounts with portal.accounts.services.user_create."""

import pytest

from portal.accounts.models import User
from portal.accounts.services import user_create
from portal.audit.models import AuditEvent
from portal.core.errors import Conflict, InvalidInput
from portal.spaces.models import Membership, Space
from tests.helpers import events, last_event
from tests.factories import PASSWORD
from tests.support.quick_hashes import PRODUCTION_HASHERS

pytestmark = pytest.mark.django_db


def nothing_changed(before: tuple[int, int, int]) -> bool:
    return (User.objects.count(), Space.objects.count(), AuditEvent.objects.count()) == before


def counts() -> tuple[int, int, int]:
    return User.objects.count(), Space.objects.count(), AuditEvent.objects.count()


class TestCreate:
    def test_a_user_is_created_with_an_argon2_password_hash(self, settings):
        settings.PASSWORD_HASHERS = PRODUCTION_HASHERS  # the suite hashes at test strength
        carol = user_create(actor=None, username="carol", password=PASSWORD, email="carol@example.com")
        carol.refresh_from_db()
        assert carol.password.startswith("argon2")
        assert PASSWORD not in carol.password
        assert carol.check_password(PASSWORD)
        assert carol.email == "carol@example.com"
        assert carol.is_active and not carol.is_staff and not carol.is_superuser

    def test_the_new_user_owns_a_personal_space_named_after_them(self):
        carol = user_create(actor=None, username="carol", password=PASSWORD)
        space = Space.objects.get(created_by=carol)
        assert space.kind == "personal" and space.name == "carol"
        membership = Membership.objects.get(space=space)
        assert membership.user == carol and membership.role == "owner"

    def test_the_creation_is_audited(self, make_user):
        root = make_user(username="root", is_superuser=True, is_staff=True)
        carol = user_create(actor=root, username="carol", password=PASSWORD)
        event = last_event("user.created", target_type="user", target_id=str(carol.pk))
        assert event.actor == root and event.actor_label == "root"
        assert event.target_label == "carol" and event.details == {"superuser": False}

    def test_the_system_may_create_users(self):
        carol = user_create(actor=None, username="carol", password=PASSWORD)
        event = last_event("user.created", target_id=str(carol.pk))
        assert event.actor is None and event.actor_label == ""

    def test_a_superuser_is_also_staff_so_they_can_open_the_admin_site(self):
        root = user_create(actor=None, username="root", password=PASSWORD, is_superuser=True)
        assert root.is_superuser and root.is_staff
        assert last_event("user.created", target_id=str(root.pk)).details == {"superuser": True}

    def test_the_username_is_trimmed(self):
        assert user_create(actor=None, username="  carol ", password=PASSWORD).username == "carol"


class TestRefusals:
    @pytest.mark.parametrize("username", ["alice", "ALICE", "Alice", " alice "])
    def test_a_taken_username_is_refused_whatever_the_case(self, alice, username):
        before = counts()
        with pytest.raises(Conflict) as refused:
            user_create(actor=None, username=username, password=PASSWORD)
        assert refused.value.code == "user_exists" and refused.value.status == 409
        assert nothing_changed(before)

    @pytest.mark.parametrize("password", [
        pytest.param("short1!", id="too short"),
        pytest.param("12345678901234", id="all digits"),
        pytest.param("password1234", id="common"),
        pytest.param("margaret-h1", id="like the username"),
    ])
    def test_a_weak_password_is_refused_and_nothing_is_created(self, db, password):
        before = counts()
        with pytest.raises(InvalidInput) as refused:
            user_create(actor=None, username="margaret-h", password=password)
        assert refused.value.code == "weak_password" and refused.value.status == 400
        assert refused.value.message.startswith("The password is too weak")
        assert not User.objects.filter(username="margaret-h").exists()
        assert nothing_changed(before)
        assert not events("user.created") and not events("space.created")

    @pytest.mark.parametrize("username", ["", "   ", "bad\nname", "nul\x00name", "x" * 151])
    def test_a_bad_username_is_refused_and_nothing_is_created(self, db, username):
        before = counts()
        with pytest.raises(InvalidInput):
            user_create(actor=None, username=username, password=PASSWORD)
        assert nothing_changed(before)


def test_the_database_refuses_two_usernames_that_differ_only_by_case(make_user):
    from django.db import IntegrityError, transaction

    make_user(username="carol")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="Carol")
