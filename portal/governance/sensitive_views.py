"""/manage/governance/sensitive/: administrators see labelled files waiting
for review (approve, reject, relabel), set what each label does to external
links, and add keyword lists and regular expressions. Everyone else gets 404."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from portal.adminpanel.console.access import console_page
from portal.governance import services_sensitive as sensitivity
from portal.governance.models import (ContentLabel, Detector, DetectorKind, LabelAction, LabelPolicy, LabelReview,
                                      LabelReviewState, LinkGate)
from portal.web.common import go_to

PAGE = "governance:sensitive"


def review_rows(*, state: str = LabelReviewState.PENDING, limit: int = 200) -> list[LabelReview]:
    """The queue, oldest first, each row with its labels (masked samples) and held links, in three queries."""
    reviews = list(LabelReview.objects.filter(state=state).select_related("node__space", "version")
                   .order_by("created_at", "id")[:limit])
    labels: dict[int, list] = {}
    for row in ContentLabel.objects.filter(version_id__in=[r.version_id for r in reviews]):
        labels.setdefault(row.version_id, []).append(row)
    held: dict[int, int] = {}
    for node_id in LinkGate.objects.filter(node_id__in=[r.node_id for r in reviews], closed=True).values_list(
            "node_id", flat=True):
        held[node_id] = held.get(node_id, 0) + 1
    for review in reviews:
        review.labels = labels.get(review.version_id, [])
        review.held_links = held.get(review.node_id, 0)
        review.label_text = " ".join(sorted({row.label for row in review.labels}))
    return reviews


@console_page
def sensitive_page(request):
    state = request.GET.get("state") or LabelReviewState.PENDING
    if state not in LabelReviewState.values:
        state = LabelReviewState.PENDING
    return render(request, "manage/sensitive.html", {
        "console_section": "sensitive",
        "state": state, "states": LabelReviewState.choices,
        "reviews": review_rows(state=state),
        "policies": LabelPolicy.objects.all(), "actions": LabelAction.choices,
        "detectors": Detector.objects.all(), "detector_kinds": DetectorKind.choices,
    })


@console_page
@require_POST
def review_approve(request, review_id: int):
    review = sensitivity.label_review_approve(actor=request.user, review_id=review_id)
    messages.success(request, gettext("%(name)s is approved for external sharing.") % {"name": review.node.name})
    return go_to(request, reverse(PAGE))


@console_page
@require_POST
def review_reject(request, review_id: int):
    review = sensitivity.label_review_reject(actor=request.user, review_id=review_id,
                                             note=request.POST.get("note") or "")
    messages.success(request, gettext("%(name)s is rejected for external sharing.") % {"name": review.node.name})
    return go_to(request, reverse(PAGE))


@console_page
@require_POST
def review_relabel(request, review_id: int):
    review = sensitivity.label_review_relabel(actor=request.user, review_id=review_id,
                                              labels=request.POST.get("relabel") or "")
    messages.success(request, gettext("%(name)s is relabelled.") % {"name": review.node.name})
    return go_to(request, reverse(PAGE))


@console_page
@require_POST
def policy_set(request):
    policy = sensitivity.label_policy_set(actor=request.user, label=(request.POST.get("label") or "").strip(),
                                          action=(request.POST.get("action") or "").strip())
    messages.success(request, gettext("The policy of the label %(label)s is saved.") % {"label": policy.label})
    return go_to(request, reverse(PAGE))


@console_page
@require_POST
def detector_save(request):
    data = request.POST
    detector = sensitivity.detector_save(
        actor=request.user, name=(data.get("name") or "").strip(), kind=(data.get("kind") or "").strip(),
        label=(data.get("label") or "").strip(), threshold=data.get("threshold") or "1",
        enabled=data.get("enabled") == "on", keywords=data.get("keywords") or "", pattern=data.get("pattern") or "")
    messages.success(request, gettext("The detector %(name)s is saved.") % {"name": detector.name})
    return go_to(request, reverse(PAGE))
