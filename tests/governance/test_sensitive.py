"""Sensitive-content review: labels on clean versions (txt, GB18030 txt, pdf),
the policies' answers when a link is made (API and page), a file labelled
later switching its external links off, the review queue (services and
console) with success, outsider and bad-input cases."""

from __future__ import annotations

import random

import pytest
from django.urls import reverse

from portal.audit.actions import Action
from portal.audit.sentences import describe
from portal.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from portal.governance import services_sensitive as sensitivity
from portal.governance.models import ContentLabel, LabelPolicy, LabelReview, LinkGate
from portal.notify.models import Notification
from portal.notify.texts import sentence
from portal.shares.models import ShareLink
from portal.shares.services import share_link_create
from portal.shares.visits import LinkGone, link_open
from tests.adminpanel.console_support import assert_portal_404, client_for
from tests.helpers import assert_error, last_event
from tests.search.conftest import minimal_pdf
from tests.support.dlp_text import bank_card, id_number, seed_builtin_detectors

pytestmark = pytest.mark.django_db
RNG = random.Random(18)
GOOD_ID, BAD_ID = id_number(RNG), id_number(RNG, valid=False)
GOOD_CARD, BAD_CARD = bank_card(RNG), bank_card(RNG, valid=False)


@pytest.fixture(autouse=True)
def builtin_detectors(db):
    seed_builtin_detectors()


def labelled(version) -> dict[str, int]:
    """Scan the version (clean), then label it as the task would."""
    from portal.scanning.services import scan_version

    assert scan_version(version.pk) in ("clean", "released")
    assert sensitivity.version_label(version.pk).startswith(("labelled", "clean"))
    return {row.label: row.count for row in ContentLabel.objects.filter(version=version)}


def policy(label: str, action: str) -> None:
    LabelPolicy.objects.update_or_create(label=label, defaults={"action": action})


@pytest.fixture
def keywords(admin):
    return sensitivity.detector_save(actor=admin, name="secrets", kind="keywords", label="confidential",
                                     keywords="机密\nTop Secret")


# --- labels -------------------------------------------------------------------------------------

def test_text_files_are_labelled_with_counts_and_masked_samples_only(put, keywords):
    text = f"员工身份证 {GOOD_ID}，卡号 {GOOD_CARD}。本文件机密（TOP SECRET）。"
    version = put("/hr.txt", text.encode())
    assert labelled(version) == {"personal-id": 1, "bank-card": 1, "confidential": 2}
    stored = repr(list(ContentLabel.objects.values("samples")))
    assert GOOD_ID not in stored and GOOD_CARD not in stored and GOOD_ID[:3] in stored
    assert LabelReview.objects.get(version=version).state == "pending"
    event = last_event(Action.CONTENT_LABELLED)
    assert event.details["labels"] == ["bank-card", "confidential", "personal-id"]
    assert GOOD_ID not in repr(event.details)
    assert describe(event) == "hr.txt was labelled as sensitive (bank-card, confidential, personal-id)"


def test_invalid_check_digits_give_no_label(put, keywords):
    version = put("/typo.txt", f"号码 {BAD_ID} 与 {BAD_CARD}，公开资料".encode("gb18030"))
    assert labelled(version) == {}
    assert not LabelReview.objects.exists()


def test_pdf_text_is_labelled(put):
    version = put("/card.pdf", minimal_pdf(f"Card {GOOD_CARD} and ID {GOOD_ID}"))
    assert labelled(version) == {"bank-card": 1, "personal-id": 1}


def test_docx_text_is_labelled_through_its_pdf_rendition(put):
    """A Word document's text comes from its PDF rendition (LibreOffice, headless): labelled once it is made."""
    from portal.previews import tasks as previews
    from portal.previews.models import DerivedState
    from tests.previews.test_tasks import docx_bytes

    version = put("/staff.docx", docx_bytes(f"Staff ID {GOOD_ID}, salary card {GOOD_CARD}; typo {BAD_ID}"))
    from portal.scanning.services import scan_version

    assert scan_version(version.pk) in ("clean", "released")
    assert previews.make_rendition(version.pk) == DerivedState.READY
    assert labelled(version) == {"bank-card": 1, "personal-id": 1}


def test_a_clean_verdict_queues_the_labelling(put, django_capture_on_commit_callbacks):
    from portal.celery import app
    from portal.scanning.services import scan_version

    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            version = put("/later.txt", f"ID {GOOD_ID}".encode())
        with django_capture_on_commit_callbacks(execute=True):
            assert scan_version(version.pk) == "clean"
    finally:
        app.conf.task_always_eager = False
    assert ContentLabel.objects.filter(version=version, label="personal-id").exists()


def test_the_adapter_is_chosen_by_setting(settings, put):
    settings.MODERATION_ADAPTER = "tests.governance.test_sensitive.EverythingIsSecret"
    sensitivity._adapter.cache_clear()
    try:
        assert labelled(put("/plain.txt", b"nothing here")) == {"cloud-said-so": 1}
    finally:
        sensitivity._adapter.cache_clear()


class EverythingIsSecret(sensitivity.ModerationAdapter):
    def submit(self, text=None, image=None):
        from portal.governance.detectors import Label
        return [Label("cloud-said-so", "cloud", 1, [])]


# --- policies when a link is made ---------------------------------------------------------------------

@pytest.fixture
def id_file(put):
    version = put("/ids.txt", f"身份证 {GOOD_ID}".encode())
    labelled(version)
    return version.node


def test_warn_creates_the_link_and_says_so(alice, id_file, signed_in):
    response = signed_in(alice).post("/api/v1/shares", {"node": id_file.pk, "permission": "download"}, format="json")
    assert response.status_code == 201
    assert response.json()["sensitivity"]["action"] == "warn"
    assert "personal-id" in response.json()["sensitivity"]["message"]
    assert last_event(Action.SHARE_CREATED).details["sensitivity"] == "warn"


def test_block_refuses_external_links_but_not_internal_ones(alice, id_file, signed_in):
    policy("personal-id", "block")
    response = signed_in(alice).post("/api/v1/shares", {"node": id_file.pk, "permission": "download"}, format="json")
    assert_error(response, 403, "sensitive_content_blocked")
    assert not ShareLink.objects.exists()
    internal = signed_in(alice).post("/api/v1/shares", {"node": id_file.pk, "permission": "download",
                                                        "audience": "internal"}, format="json")
    assert internal.status_code == 201 and "sensitivity" not in internal.json()


def test_approve_makes_a_link_that_works_once_an_administrator_approves(admin, alice, id_file):
    policy("personal-id", "approve")
    link, token = share_link_create(actor=alice, node_id=id_file.pk, permission="download")
    assert link.sensitivity.action == "approve"
    with pytest.raises(LinkGone) as gone:
        link_open(token)
    assert gone.value.code == "link_disabled" and "review" in str(gone.value)
    review = LabelReview.objects.get(node=id_file)
    sensitivity.label_review_approve(actor=admin, review_id=review.pk)
    assert link_open(token).link.pk == link.pk
    assert last_event(Action.CONTENT_LABEL_APPROVED).actor_id == admin.pk


def test_the_share_page_shows_the_warning(alice, id_file, team):
    client = client_for(alice)
    response = client.post(f"/spaces/{team.pk}/items/{id_file.pk}/share",
                           {"permission": "download", "audience": "anyone"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'data-sensitivity="warn"' in response.content.decode()
    policy("personal-id", "block")
    refused = client.post(f"/spaces/{team.pk}/items/{id_file.pk}/share",
                          {"permission": "download", "audience": "anyone"}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 403 and "cannot be shared by an external link" in refused.content.decode()


def test_a_file_labelled_later_switches_its_external_links_off_and_tells_the_owner(alice, put):
    policy("bank-card", "block")
    version = put("/pay.txt", b"nothing yet")
    node = version.node
    _link, token = share_link_create(actor=alice, node_id=node.pk, permission="download")
    _inner, inner_token = share_link_create(actor=alice, node_id=node.pk, permission="download", audience="internal")
    labelled(put("/pay.txt", f"card {GOOD_CARD}".encode()))
    with pytest.raises(LinkGone):
        link_open(token)
    assert link_open(inner_token)  # internal links are unaffected
    note = Notification.objects.get(user=alice, kind=sensitivity.NOTIFY_KIND)
    assert note.params["name"] == "pay.txt" and note.params["links"] == 1
    assert "Your external links to pay.txt were switched off" in sentence(note)


# --- the review queue ---------------------------------------------------------------------------------------

def test_reject_and_relabel_move_the_gates(admin, alice, id_file):
    link, token = share_link_create(actor=alice, node_id=id_file.pk, permission="download")
    review = LabelReview.objects.get(node=id_file)
    sensitivity.label_review_reject(actor=admin, review_id=review.pk, note="IDs must not leave")
    assert LinkGate.objects.get(link=link).closed
    assert last_event(Action.CONTENT_LABEL_REJECTED).details["links_held"] == 1
    with pytest.raises(Conflict):
        sensitivity.label_review_reject(actor=admin, review_id=review.pk)
    sensitivity.label_review_relabel(actor=admin, review_id=review.pk, labels="public")
    assert link_open(token)
    assert list(ContentLabel.objects.filter(node=id_file).values_list("label", "detector")) == [("public", "manual")]
    assert last_event(Action.CONTENT_RELABELLED).details["new_labels"] == ["public"]
    assert sensitivity.version_label(id_file.current_version_id) == "relabelled"  # the administrator's labels stay


def test_outsiders_and_bad_input_are_refused(admin, alice, id_file):
    review = LabelReview.objects.get(node=id_file)
    for call in (sensitivity.label_review_approve, sensitivity.label_review_reject):
        with pytest.raises(Forbidden):
            call(actor=alice, review_id=review.pk)
    with pytest.raises(Forbidden):
        sensitivity.label_policy_set(actor=alice, label="x", action="block")
    with pytest.raises(NotFound):
        sensitivity.label_review_approve(actor=admin, review_id=99999)
    with pytest.raises(InvalidInput):
        sensitivity.label_review_approve(actor=admin, review_id="one")
    with pytest.raises(InvalidInput):
        sensitivity.label_review_relabel(actor=admin, review_id=review.pk, labels="bad label!")
    with pytest.raises(InvalidInput):
        sensitivity.label_policy_set(actor=admin, label="personal-id", action="shred")
    with pytest.raises(InvalidInput) as unsafe:
        sensitivity.detector_save(actor=admin, name="evil", kind="regex", label="x", pattern="(a+)+$")
    assert unsafe.value.code == "unsafe_pattern"
    assert LabelReview.objects.get(pk=review.pk).state == "pending"


def test_policy_change_applies_to_labelled_files_at_once(admin, alice, id_file):
    link, token = share_link_create(actor=alice, node_id=id_file.pk, permission="download")
    sensitivity.label_policy_set(actor=admin, label="personal-id", action="block")
    with pytest.raises(LinkGone):
        link_open(token)
    event = last_event(Action.CONTENT_POLICY_SET)
    assert event.details == {"to": "block", "from": "warn"}
    assert describe(event).endswith("set the policy of the label personal-id to block")
    sensitivity.label_policy_set(actor=admin, label="personal-id", action="allow")
    assert link_open(token).link.pk == link.pk


def test_the_console_queue(admin, alice, id_file):
    review = LabelReview.objects.get(node=id_file)
    page = client_for(admin).get(reverse("governance:sensitive"))
    assert page.status_code == 200 and f'data-review="{review.pk}"' in page.content.decode()
    assert GOOD_ID not in page.content.decode()
    assert_portal_404(client_for(alice).get(reverse("governance:sensitive")))
    assert_portal_404(client_for(alice).post(reverse("governance:sensitive-approve", args=[review.pk])))
    bad = client_for(admin).post(reverse("governance:sensitive-relabel", args=[review.pk]), {"relabel": "no way!"},
                                 HTTP_HX_REQUEST="true")
    assert bad.status_code == 400
    done = client_for(admin).post(reverse("governance:sensitive-approve", args=[review.pk]))
    assert done.status_code in (200, 302, 303)
    assert LabelReview.objects.get(pk=review.pk).state == "approved"
    saved = client_for(admin).post(reverse("governance:sensitive-detector"),
                                   {"name": "projects", "kind": "regex", "label": "project", "pattern": "PRJ-[0-9]{4}",
                                    "threshold": "2", "enabled": "on"})
    assert saved.status_code in (200, 302, 303)
    assert last_event(Action.CONTENT_DETECTOR_SAVED).details["threshold"] == 2


def test_the_label_shows_in_the_files_details(alice, id_file, team):
    details = client_for(alice).get(f"/spaces/{team.pk}/items/{id_file.pk}/", HTTP_HX_REQUEST="true")
    assert details.status_code == 200
    assert 'data-sensitive-labels="personal-id"' in details.content.decode()
