"""Spaces' URL names (slugs): what /dav/<slug>/ mounts."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps

from portal.spaces.models import Space
from portal.spaces.services import space_create, space_update

pytestmark = pytest.mark.django_db


def test_slugs_are_made_from_names_and_unique(alice, bob):
    first = space_create(actor=alice, name="Sales Team")
    second = space_create(actor=bob, name="Sales team")
    odd = space_create(actor=alice, name="日本 ✨")
    assert (first.slug, second.slug, odd.slug) == ("sales-team", "sales-team-2", "space")
    assert Space.objects.get(kind="personal", created_by=alice).slug == "alice"


def test_a_renamed_space_keeps_its_slug_so_mounts_keep_working(alice):
    space = space_create(actor=alice, name="Old name")
    space_update(actor=alice, space_id=space.pk, name="New name")
    space.refresh_from_db()
    assert (space.name, space.slug) == ("New name", "old-name")


def test_the_api_shows_the_slug(api, alice):
    space = space_create(actor=alice, name="Research")
    assert api.as_user(alice).get(f"/api/v1/spaces/{space.pk}/").json()["slug"] == "research"


def test_the_data_migration_fills_missing_slugs_from_names(alice):
    space = space_create(actor=alice, name="Legacy Space")
    Space.objects.filter(pk=space.pk).update(slug="")
    importlib.import_module("portal.spaces.migrations.0003_space_slug_fill").fill_slugs(django_apps, None)
    assert Space.objects.get(pk=space.pk).slug == "legacy-space"
