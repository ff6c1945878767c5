"""Managing legal holds and retention: the services, the REST API and the
console page; each with a success, an outsider and a bad-input case."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.audit.actions import Action
from portal.core.errors import Forbidden, InvalidInput, NotFound
from portal.files.models import Node
from portal.files.services import tree
from portal.governance import services
from portal.governance.models import LegalHold, RetentionPolicy, ReviewItem
from tests.adminpanel.console_support import assert_portal_404, client_for
from tests.helpers import assert_error, events, last_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def folder(alice, team):
    tree.folder_create(actor=alice, space_id=team.pk, path="/Contracts")
    return Node.objects.get(space=team, name="Contracts")


# --- Services -------------------------------------------------------------------------------------------------

def test_a_hold_is_created_and_released_with_its_reasons_audited(admin, alice, folder):
    hold = services.hold_create(actor=admin, kind="folder", target_id=folder.pk, reason="Case 17: keep all")
    assert hold.is_active and hold.target_label == "Team:/Contracts"
    created = last_event(Action.GOVERNANCE_HOLD_CREATED)
    assert created.details["reason"] == "Case 17: keep all" and created.space_id == folder.space_id
    services.hold_release(actor=admin, hold_id=hold.pk, reason="Settled")
    hold.refresh_from_db()
    assert not hold.is_active and hold.release_reason == "Settled" and hold.released_by == admin
    assert last_event(Action.GOVERNANCE_HOLD_RELEASED).details["reason"] == "Settled"


@pytest.mark.parametrize("kwargs,error", [
    ({"kind": "user", "target_id": 99999, "reason": "x"}, NotFound),
    ({"kind": "space", "target_id": 99999, "reason": "x"}, NotFound),
    ({"kind": "folder", "target_id": 99999, "reason": "x"}, NotFound),
    ({"kind": "planet", "target_id": 1, "reason": "x"}, InvalidInput),
    ({"kind": "user", "target_id": "me", "reason": "x"}, InvalidInput),
])
def test_bad_hold_input_is_refused(admin, kwargs, error):
    with pytest.raises(error):
        services.hold_create(actor=admin, **kwargs)
    assert not LegalHold.objects.exists()


def test_a_reason_is_mandatory_to_create_or_release(admin, alice):
    for reason in ("", "   ", None):
        with pytest.raises(InvalidInput):
            services.hold_create(actor=admin, kind="user", target_id=alice.pk, reason=reason)
    hold = services.hold_create(actor=admin, kind="user", target_id=alice.pk, reason="HR case")
    with pytest.raises(InvalidInput):
        services.hold_release(actor=admin, hold_id=hold.pk, reason=" ")
    services.hold_release(actor=admin, hold_id=hold.pk, reason="closed")
    with pytest.raises(NotFound):   # released once is released
        services.hold_release(actor=admin, hold_id=hold.pk, reason="again")


def test_only_administrators_manage_holds_and_retention(alice, team, admin):
    hold = services.hold_create(actor=admin, kind="space", target_id=team.pk, reason="audit")
    for call in (lambda: services.hold_create(actor=alice, kind="space", target_id=team.pk, reason="mine"),
                 lambda: services.hold_release(actor=alice, hold_id=hold.pk, reason="mine"),
                 lambda: services.retention_set(actor=alice, space_id=team.pk, days=1),
                 lambda: services.retention_clear(actor=alice, policy_id=1),
                 lambda: services.review_resolve(actor=alice, item_id=1)):
        with pytest.raises(Forbidden):
            call()
    assert LegalHold.objects.get().is_active and not RetentionPolicy.objects.exists()


def test_retention_is_set_changed_and_cleared(admin, team, folder):
    services.retention_set(actor=admin, space_id=team.pk, days=365)
    policy = services.retention_set(actor=admin, space_id=team.pk, node_id=folder.pk, days=30, end_action="review")
    again = services.retention_set(actor=admin, space_id=team.pk, node_id=folder.pk, days=60, end_action="delete")
    assert again.pk == policy.pk and (again.days, again.end_action) == (60, "delete")
    assert [e.details["days"] for e in events(Action.GOVERNANCE_RETENTION_SET)] == [365, 30, 60]
    services.retention_clear(actor=admin, policy_id=policy.pk)
    assert list(RetentionPolicy.objects.values_list("node_id", flat=True)) == [None]
    assert last_event(Action.GOVERNANCE_RETENTION_CLEARED).details["days"] == 60


@pytest.mark.parametrize("kwargs,error", [
    ({"days": -1}, InvalidInput), ({"days": 0}, InvalidInput), ({"days": 10**6}, InvalidInput),
    ({"days": "30"}, InvalidInput), ({"days": 5, "end_action": "shred"}, InvalidInput),
    ({"days": 5, "space_id": 99999}, NotFound), ({"days": 5, "node_id": 99999}, NotFound),
])
def test_bad_retention_input_is_refused(admin, team, kwargs, error):
    with pytest.raises(error):
        services.retention_set(actor=admin, **{"space_id": team.pk, **kwargs})
    assert not RetentionPolicy.objects.exists()


def test_a_file_or_the_root_is_not_a_retention_folder(admin, team, folder, put):
    version = put("/Contracts/a.txt")
    with pytest.raises(NotFound):
        services.retention_set(actor=admin, space_id=team.pk, node_id=version.node_id, days=5)
    with pytest.raises(InvalidInput):
        services.retention_set(actor=admin, space_id=team.pk, node_id=folder.parent_id, days=5)


def test_a_review_is_resolved_once(admin, put):
    item = ReviewItem.objects.create(node=put("/old.txt").node)
    services.review_resolve(actor=admin, item_id=item.pk)
    assert ReviewItem.objects.get(pk=item.pk).resolved_by == admin
    with pytest.raises(NotFound):
        services.review_resolve(actor=admin, item_id=item.pk)


# --- REST API ----------------------------------------------------------------------------------------------------

def test_the_api_creates_lists_and_releases_holds(signed_in, admin, alice):
    client = signed_in(admin)
    made = client.post("/api/v1/governance/holds", {"kind": "user", "target": alice.pk, "reason": "eDiscovery"},
                       format="json")
    assert made.status_code == 201, made.content
    assert made.json()["target"] == "alice" and made.json()["active"] is True
    assert [h["id"] for h in client.get("/api/v1/governance/holds?active=true").json()["results"]] == [made.json()["id"]]
    released = client.post(f"/api/v1/governance/holds/{made.json()['id']}/release", {"reason": "done"}, format="json")
    assert released.status_code == 200 and released.json()["active"] is False
    assert client.get("/api/v1/governance/holds?active=true").json()["results"] == []
    assert len(client.get("/api/v1/governance/holds?active=false").json()["results"]) == 1


def test_the_api_sets_lists_and_clears_retention(signed_in, admin, team, folder):
    client = signed_in(admin)
    made = client.put("/api/v1/governance/retention", {"space": team.pk, "folder": folder.pk, "days": 90,
                                                       "end_action": "review"}, format="json")
    assert made.status_code == 200, made.content
    assert made.json()["node_id"] == folder.pk and made.json()["days"] == 90
    assert len(client.get("/api/v1/governance/retention").json()["results"]) == 1
    assert client.delete(f"/api/v1/governance/retention/{made.json()['id']}").status_code == 204
    assert not RetentionPolicy.objects.exists()


def test_the_api_refuses_people_who_are_not_administrators(signed_in, alice, team, admin):
    hold = services.hold_create(actor=admin, kind="space", target_id=team.pk, reason="audit")
    policy = services.retention_set(actor=admin, space_id=team.pk, days=10)
    client = signed_in(alice)   # she owns the space, and still may not
    for response in (client.get("/api/v1/governance/holds"),
                     client.post("/api/v1/governance/holds", {"kind": "space", "target": team.pk, "reason": "x"},
                                 format="json"),
                     client.post(f"/api/v1/governance/holds/{hold.pk}/release", {"reason": "x"}, format="json"),
                     client.get("/api/v1/governance/retention"),
                     client.put("/api/v1/governance/retention", {"space": team.pk, "days": 1}, format="json"),
                     client.delete(f"/api/v1/governance/retention/{policy.pk}")):
        assert_error(response, 403, "admin_only")
    assert LegalHold.objects.get().is_active and RetentionPolicy.objects.get().days == 10
    assert signed_in(None).get("/api/v1/governance/holds").status_code in (401, 403)


@pytest.mark.parametrize("body,status,code", [
    ({"kind": "user", "target": 99999, "reason": "x"}, 404, "not_found"),
    ({"kind": "user", "reason": "x"}, 400, "invalid_input"),
    ({"kind": "user", "target": 1, "reason": ""}, 400, "reason_required"),
    ({"kind": "user", "target": 1, "reason": "x", "extra": 1}, 400, "invalid_input"),
])
def test_the_api_refuses_bad_hold_input(signed_in, admin, body, status, code):
    response = signed_in(admin).post("/api/v1/governance/holds", body, format="json")
    assert_error(response, status, code)
    assert not LegalHold.objects.exists()


@pytest.mark.parametrize("body,status", [({"days": -5}, 400), ({"days": 0}, 400), ({"days": 5, "space": 99999}, 404),
                                         ({"days": 5, "end_action": "burn"}, 400), ({}, 400)])
def test_the_api_refuses_bad_retention_input(signed_in, admin, team, body, status):
    response = signed_in(admin).put("/api/v1/governance/retention", {"space": team.pk, **body}, format="json")
    assert response.status_code == status, response.content
    assert not RetentionPolicy.objects.exists()
    assert signed_in(admin).delete("/api/v1/governance/retention/99999").status_code == 404
    assert signed_in(admin).post("/api/v1/governance/holds/99999/release", {"reason": "x"},
                                 format="json").status_code == 404


def test_the_schema_documents_the_governance_api(signed_in, admin):
    schema = signed_in(admin).get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    assert "/api/v1/governance/holds" in schema and "/api/v1/governance/retention" in schema


# --- Console ----------------------------------------------------------------------------------------------------

def test_the_console_creates_and_releases_holds_and_sets_retention(admin, alice, team, folder):
    boss = client_for(admin)
    assert boss.post(reverse("governance:hold-create"), {"kind": "user", "target": "alice",
                                                         "reason": "Case 9"}).status_code == 303
    assert boss.post(reverse("governance:hold-create"), {"kind": "folder", "space": team.slug, "path": "/Contracts",
                                                         "reason": "Case 10"}).status_code == 303
    page = boss.get(reverse("governance:page")).content.decode()
    assert "Case 9" in page and "Team:/Contracts" in page
    hold = LegalHold.objects.get(kind="user")
    assert boss.post(reverse("governance:hold-release", args=[hold.pk]), {"reason": "closed"}).status_code == 303
    assert boss.post(reverse("governance:retention-set"), {"space": team.slug, "path": "/Contracts", "days": "30",
                                                           "end_action": "review"}).status_code == 303
    policy = RetentionPolicy.objects.get()
    assert policy.node_id == folder.pk and policy.days == 30
    page = boss.get(reverse("governance:page")).content.decode()
    assert f'data-policy="{policy.pk}"' in page and "closed" in page
    assert boss.post(reverse("governance:retention-clear", args=[policy.pk])).status_code == 303
    assert not RetentionPolicy.objects.exists()


@pytest.mark.parametrize("url,data,code", [
    ("governance:hold-create", {"kind": "user", "target": "nobody", "reason": "x"}, b"not_found"),
    ("governance:hold-create", {"kind": "user", "target": "alice", "reason": ""}, b"reason_required"),
    ("governance:hold-create", {"kind": "folder", "space": "team", "path": "/Missing", "reason": "x"}, b"not_found"),
    ("governance:retention-set", {"space": "team", "days": "-3"}, b"invalid_days"),
    ("governance:retention-set", {"space": "no-such-space", "days": "3"}, b"not_found"),
])
def test_the_console_refuses_bad_input_and_changes_nothing(admin, alice, team, url, data, code):
    data = {key: (team.slug if value == "team" else value) for key, value in data.items()}
    response = client_for(admin).post(reverse(url), data, HTTP_HX_REQUEST="true")
    assert response.status_code in (400, 404) and code in response.content, response.content
    assert not LegalHold.objects.exists() and not RetentionPolicy.objects.exists()


def test_the_console_is_a_404_for_everyone_else(alice, team, admin):
    hold = services.hold_create(actor=admin, kind="space", target_id=team.pk, reason="audit")
    member = client_for(alice)
    assert_portal_404(member.get(reverse("governance:page")))
    assert_portal_404(member.post(reverse("governance:hold-create"), {"kind": "space", "target": team.slug,
                                                                      "reason": "x"}))
    assert_portal_404(member.post(reverse("governance:hold-release", args=[hold.pk]), {"reason": "x"}))
    assert_portal_404(member.post(reverse("governance:retention-set"), {"space": team.slug, "days": "3"}))
    assert LegalHold.objects.get().is_active and not RetentionPolicy.objects.exists()


def test_space_managers_see_their_spaces_retention_in_its_settings(admin, alice, team, make_user):
    from portal.spaces.models import Membership

    viewer = make_user(username="vic")
    Membership.objects.create(space=team, user=viewer, role="viewer")
    url = f"/spaces/{team.pk}/settings/"
    assert 'id="space-retention"' not in client_for(alice).get(url).content.decode()
    services.retention_set(actor=admin, space_id=team.pk, days=400)
    page = client_for(alice).get(url).content.decode()
    assert 'id="space-retention"' in page and "at least 400 days" in page
    assert 'id="space-retention"' not in client_for(viewer).get(url).content.decode()


def test_the_console_lists_files_waiting_for_review_and_marks_them_reviewed(admin, alice, put):
    item = ReviewItem.objects.create(node=put("/old-contract.pdf").node)
    boss = client_for(admin)
    assert f'data-review="{item.pk}"' in boss.get(reverse("governance:page")).content.decode()
    assert_portal_404(client_for(alice).post(reverse("governance:review-resolve", args=[item.pk])))
    assert boss.post(reverse("governance:review-resolve", args=[item.pk])).status_code == 303
    assert ReviewItem.objects.get(pk=item.pk).resolved_by == admin
    assert f'data-review="{item.pk}"' not in boss.get(reverse("governance:page")).content.decode()
    response = boss.post(reverse("governance:review-resolve", args=[item.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 404   # already reviewed
