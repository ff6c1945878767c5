"""The admin console's storage page: what each tier holds, the policy in
force, spaces with their own policy, the lifecycle tasks' last runs."""

from __future__ import annotations

import os

import pytest
from django.urls import reverse

from portal.audit.actions import Action
from portal.lifecycle import runs
from portal.lifecycle.models import SpaceTierPolicy
from tests.adminpanel.console_support import assert_portal_404, client_for
from tests.helpers import events
from tests.lifecycle.conftest import age, stored

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss(admin):
    return client_for(admin)


def test_the_storage_page_shows_what_each_tier_holds(boss, alice, team, cold):
    versions = [stored(alice, team, f"/s{i}.txt", os.urandom(1000)) for i in range(3)]
    age(*versions[:2], days=40)
    runs.tiering_run()

    page = boss.get(reverse("tiers:page")).content.decode()

    hot = page.split('data-tier="hot"')[1].split("</tr>")[0]
    cold_row = page.split('data-tier="cold"')[1].split("</tr>")[0]
    assert "1 stored object" in hot
    assert "2 stored objects" in cold_row and "1 container" in cold_row and "100% live" in cold_row
    assert "small files packed" in cold_row
    assert "after days without a read: current versions after 30" in page


def test_an_administrator_gives_a_space_its_own_policy_and_takes_it_back(boss, team, cold):
    response = boss.post(reverse("tiers:policy-set"), {"space": team.slug, "tier": "cold", "current_days": "365",
                                                          "old_days": "90", "trash_days": "0"})
    assert response.status_code == 303
    policy = SpaceTierPolicy.objects.get(space=team)
    assert (policy.tier, policy.current_days, policy.old_days, policy.trash_days, policy.promote_on_read) == (
        "cold", 365, 90, 0, False)
    assert f'data-space="{team.slug}"' in boss.get(reverse("tiers:page")).content.decode()

    assert boss.post(reverse("tiers:policy-clear", args=[team.pk])).status_code == 303
    assert not SpaceTierPolicy.objects.exists()
    assert len(events(Action.SPACE_TIER_POLICY_CHANGED)) == 2


@pytest.mark.parametrize("field,value,code", [("current_days", "soon", b"invalid_days"),
                                              ("trash_days", "-3", b"invalid_days"),
                                              ("tier", "glacier", b"unknown_tier"),
                                              ("space", "no-such-space", b"not_found")])
def test_bad_policy_input_is_refused_and_changes_nothing(boss, team, cold, field, value, code):
    data = {"space": team.slug, "tier": "cold", "current_days": "1", "old_days": "1", "trash_days": "1", field: value}
    response = boss.post(reverse("tiers:policy-set"), data, HTTP_HX_REQUEST="true")
    assert response.status_code in (400, 404) and code in response.content
    assert not SpaceTierPolicy.objects.exists()


def test_people_who_are_not_administrators_get_the_portal_404(alice, team, cold):
    member = client_for(alice)
    assert_portal_404(member.get(reverse("tiers:page")))
    assert_portal_404(member.post(reverse("tiers:policy-set"), {"space": team.slug, "tier": "", "current_days": "0",
                                                                  "old_days": "0", "trash_days": "0"}))
    assert not SpaceTierPolicy.objects.exists()
