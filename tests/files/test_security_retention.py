"""Retention settings are bounded, and one space's failure never stops the
retention task for the others. The attacks: a manager set
``keep_version_days=10000000000`` (the task crashed for every space after
theirs) and ``keep_versions=2**63`` (a 500)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse

from portal.files import tasks
from portal.files.models import FileVersion
from portal.spaces.models import MAX_KEEP_VERSION_DAYS, MAX_KEEP_VERSIONS, Space
from portal.spaces.services import space_create, space_update
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(signed_in, alice):
    return signed_in(alice)


def settings_of(space) -> tuple:
    space = Space.objects.get(pk=space.pk)
    return space.keep_versions, space.keep_version_days


@pytest.mark.parametrize(("field", "value"), [("keep_version_days", 10_000_000_000), ("keep_versions", 2**63),
                                              ("keep_versions", MAX_KEEP_VERSIONS + 1),
                                              ("keep_version_days", MAX_KEEP_VERSION_DAYS + 1)])
def test_out_of_range_retention_is_refused_by_the_api_naming_the_field(client, team, field, value):
    body = assert_error(client.patch(f"/api/v1/spaces/{team.id}/", {field: value}, format="json"),
                        400, "invalid_input")
    assert field in body["detail"] and field in body["message"]
    assert settings_of(team) == (None, None)


def test_the_largest_allowed_retention_is_accepted(client, team):
    body = client.patch(f"/api/v1/spaces/{team.id}/", {"keep_versions": MAX_KEEP_VERSIONS,
                                                       "keep_version_days": MAX_KEEP_VERSION_DAYS},
                        format="json").json()
    assert (body["keep_versions"], body["keep_version_days"]) == (MAX_KEEP_VERSIONS, MAX_KEEP_VERSION_DAYS)
    assert tasks.apply_version_retention() == 0   # a hundred years is date arithmetic that works


@pytest.mark.parametrize(("field", "value"), [("keep_version_days", "10000000000"),
                                              ("keep_versions", str(2**63))])
def test_out_of_range_retention_is_refused_by_the_settings_form(alice, team, field, value):
    browser = Client()
    browser.force_login(alice)
    response = browser.post(reverse("web:space-settings-change", args=[team.pk, "general"]), {field: value},
                            HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert field in response.content.decode()
    assert settings_of(team) == (None, None)


def test_the_service_refuses_out_of_range_retention(alice, team):
    from portal.core.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        space_update(actor=alice, space_id=team.id, keep_version_days=10_000_000_000)
    assert refused.value.detail["field"] == "keep_version_days"


def test_the_database_refuses_out_of_range_retention_written_around_the_services(team):
    for field, value in (("keep_versions", MAX_KEEP_VERSIONS + 1), ("keep_version_days", MAX_KEEP_VERSION_DAYS + 1)):
        with pytest.raises(IntegrityError), transaction.atomic():
            Space.objects.filter(pk=team.pk).update(**{field: value})


@pytest.fixture
def broken_space(alice):
    """A space whose versions the database refuses to delete (a trigger
    raising, as a failing disk or a corrupt row would), so pruning it fails."""
    space = space_create(actor=alice, name="Broken")
    with connection.cursor() as cursor:
        cursor.execute(f"""
            CREATE FUNCTION refuse_pruning() RETURNS trigger AS $$
            BEGIN
              IF EXISTS (SELECT 1 FROM {FileVersion._meta.get_field("node").related_model._meta.db_table}
                         WHERE id = OLD.node_id AND space_id = {space.pk}) THEN
                RAISE EXCEPTION 'this space cannot be pruned';
              END IF;
              RETURN OLD;
            END $$ LANGUAGE plpgsql""")
        cursor.execute(f"CREATE TRIGGER refuse_pruning BEFORE DELETE ON {FileVersion._meta.db_table} "
                       "FOR EACH ROW EXECUTE FUNCTION refuse_pruning()")
    return space


def versions_of(node_id) -> list[int]:
    return sorted(FileVersion.objects.filter(node_id=node_id).values_list("number", flat=True))


def test_one_space_failing_does_not_stop_retention_for_the_spaces_after_it(client, alice, upload, broken_space,
                                                                          caplog):
    later = space_create(actor=alice, name="Later")
    assert later.pk > broken_space.pk   # pruned after the broken one
    for space in (broken_space, later):
        upload(client, space, "/f.txt", b"1")
        upload(client, space, "/f.txt", b"22")
        space_update(actor=alice, space_id=space.id, keep_versions=1)
    broken_file = FileVersion.objects.get(node__space=broken_space, number=2).node_id
    later_file = FileVersion.objects.get(node__space=later, number=2).node_id

    with pytest.raises(tasks.RetentionFailed) as failed:
        tasks.apply_version_retention()

    assert versions_of(later_file) == [2]          # the space after it was pruned
    assert versions_of(broken_file) == [1, 2]      # the broken one is untouched, not half-pruned
    assert str(broken_space.pk) in str(failed.value) and "1 version(s) were pruned" in str(failed.value)
    assert f"version retention failed for space {broken_space.pk}" in caplog.text
