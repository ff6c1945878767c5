"""Sensitive-content review (data-loss prevention): labels on versions, the
policies on labels, the gates they put on external share links, and the
administrators' review queue.

- After a version is scanned clean, ``version_label`` (the Celery task
  ``governance.label_version``) runs the moderation adapter over the text
  search extracted (``portal.search.extract.text_of``) and stores its labels
  (``ContentLabel``: label, detector, count, masked samples). A labelled
  version joins the review queue (``LabelReview``).
- A file's labels are its current version's. Its policy is the strictest of
  the labels' ``LabelPolicy`` actions (no row: allow); an approved review
  makes it allow, a rejected one block.
- Internal sharing (links for signed-in users, shares with colleagues) is
  never affected. An external link (audience anyone or people) on a file
  whose policy is block is refused; approve: made, but held by a closed
  ``LinkGate`` until an administrator approves the file; warn: made, with a
  warning in the answer. A file labelled later closes a gate on each of its
  live external links (block or approve) and its owner is notified.
- The visit check is one ``EXISTS`` in the link's own query
  (``portal.shares.selectors``): no extra query per visit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.services import record
from portal.core.access import require_admin
from portal.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from portal.files.models import FileVersion, Node
from portal.governance import detectors
from portal.governance.models import (ACTION_ORDER, ContentLabel, Detector, DetectorKind, LabelAction, LabelPolicy,
                                      LabelReview, LabelReviewState, LinkGate)

logger = logging.getLogger(__name__)

DEFAULT_ADAPTER = "portal.governance.services_sensitive.DetectorAdapter"
EXTERNAL_AUDIENCES = ("anyone", "people")
MANUAL = "manual"
MAX_LABELS = 10
NOTIFY_KIND = "links_held"


# --- the moderation adapter ------------------------------------------------------------

class ModerationAdapter:
    """Submit a text or an image, get labels back. A cloud moderation service
    plugs in as a subclass named by PORTAL_MODERATION_ADAPTER (a dotted path)."""

    name = "adapter"

    def submit(self, text: str | None = None, image: bytes | None = None) -> list[detectors.Label]:
        raise NotImplementedError


class DetectorAdapter(ModerationAdapter):
    """The built-in detectors, as the administrators configured them (text only)."""

    name = "detectors"

    def submit(self, text: str | None = None, image: bytes | None = None) -> list[detectors.Label]:
        if not text:
            return []
        return detectors.run(text, configured_specs())


def moderation_adapter() -> ModerationAdapter:
    return _adapter(getattr(settings, "MODERATION_ADAPTER", "") or DEFAULT_ADAPTER)


@lru_cache(maxsize=4)
def _adapter(path: str) -> ModerationAdapter:
    return import_string(path)()


def configured_specs() -> list[detectors.DetectorSpec]:
    """The enabled detectors, compiled once per change (a cheap query tells)."""
    rows = list(Detector.objects.filter(enabled=True).values_list(
        "pk", "name", "kind", "label", "threshold", "keywords", "pattern", "updated_at"))
    return _compiled(tuple(rows))


@lru_cache(maxsize=8)
def _compiled(rows: tuple) -> list[detectors.DetectorSpec]:
    specs = []
    for _pk, name, kind, label, threshold, keywords, pattern, _updated in rows:
        if kind == DetectorKind.KEYWORDS:
            specs.append(detectors.keywords_spec(name, label, threshold, keywords.splitlines()))
        elif kind == DetectorKind.REGEX:
            try:
                specs.append(detectors.DetectorSpec(name, kind, label, threshold,
                                                    pattern=detectors.compile_admin_regex(pattern)))
            except detectors.UnsafePattern:
                logger.warning("detector %s: its pattern is refused; skipped", name)
        else:
            specs.append(detectors.DetectorSpec(name, kind, label, threshold))
    return specs


# --- labelling a version (the system) -----------------------------------------------------

def version_label(version_id: int) -> str:
    """The system labels one version scanned clean (safe to run twice: the
    detectors' labels are replaced, an administrator's are kept)."""
    from portal.search import extract
    from portal.search.tasks import scanned_clean

    version = FileVersion.objects.select_related("node", "blob").filter(pk=version_id).first()
    if version is None:
        return "gone"
    if not scanned_clean(version):
        return "not_clean"
    if ContentLabel.objects.filter(version=version, detector=MANUAL).exists():
        return "relabelled"  # an administrator decided: no detector overrides them
    text = extract.text_of(version)
    if text is None:
        return "no_text"
    labels = moderation_adapter().submit(text=text)
    with transaction.atomic():
        node = Node.objects.select_for_update().get(pk=version.node_id)
        ContentLabel.objects.filter(version=version).delete()
        ContentLabel.objects.bulk_create([
            ContentLabel(version=version, node=node, label=lab.label[:60], detector=lab.detector[:60],
                         count=lab.count, samples=list(lab.samples)[:detectors.SAMPLES]) for lab in labels])
        if not labels:
            LabelReview.objects.filter(version=version, state=LabelReviewState.PENDING).delete()
            held = gates_apply(node) if node.current_version_id == version.pk else 0
            return "clean"
        LabelReview.objects.get_or_create(version=version, defaults={"node": node})
        record(action=Action.CONTENT_LABELLED, target=node, target_label=node.name, space=node.space,
               details={"version": version.number,
                        "labels": sorted({lab.label for lab in labels}),
                        "names": ", ".join(sorted({lab.label for lab in labels})),
                        "detectors": {lab.detector: lab.count for lab in labels}})
        held = gates_apply(node) if node.current_version_id == version.pk else 0
    return f"labelled:{held}"


# --- the policy of a file ---------------------------------------------------------------

@dataclass
class Answer:
    """What external sharing of a file meets: the action and the labels behind it."""
    action: str = LabelAction.ALLOW
    labels: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        joined = ", ".join(self.labels)
        if self.action == LabelAction.WARN:
            return gettext("This file contains sensitive content (%(labels)s): think twice before sharing it "
                           "outside the company.") % {"labels": joined}
        if self.action == LabelAction.APPROVE:
            return gettext("This file contains sensitive content (%(labels)s): the link works once an "
                           "administrator approves it.") % {"labels": joined}
        if self.action == LabelAction.BLOCK:
            return gettext("This file contains sensitive content (%(labels)s): it cannot be shared by an "
                           "external link. Share it with colleagues instead.") % {"labels": joined}
        return ""

    @property
    def action_text(self) -> str:
        return str(LabelAction(self.action).label)

    def as_dict(self) -> dict:
        return {"action": self.action, "labels": self.labels, "message": self.message}


class SensitiveContentBlocked(Forbidden):
    pass


def file_labels(node: Node) -> list[str]:
    if node.current_version_id is None:
        return []
    return sorted(set(ContentLabel.objects.filter(version_id=node.current_version_id)
                      .values_list("label", flat=True)))


def node_answer(node: Node) -> Answer:
    """The policy for sharing ``node`` externally (a folder: allow; its files are judged when visited... not yet)."""
    if node.is_folder or node.current_version_id is None:
        return Answer()
    labels = file_labels(node)
    if not labels:
        return Answer()
    state = LabelReview.objects.filter(version_id=node.current_version_id).values_list("state", flat=True).first()
    if state == LabelReviewState.APPROVED:
        return Answer(LabelAction.ALLOW, labels)
    if state == LabelReviewState.REJECTED:
        return Answer(LabelAction.BLOCK, labels)
    actions = set(LabelPolicy.objects.filter(label__in=labels).values_list("action", flat=True))
    strictest = max(actions, key=ACTION_ORDER.index) if actions else LabelAction.ALLOW
    return Answer(strictest, labels)


def link_answer(node: Node, audience: str) -> Answer:
    """At a link's creation: the answer, or SensitiveContentBlocked. Internal links are never affected."""
    if audience not in EXTERNAL_AUDIENCES:
        return Answer()
    answer = node_answer(node)
    if answer.action == LabelAction.BLOCK:
        raise SensitiveContentBlocked(answer.message, code="sensitive_content_blocked",
                                      detail={"labels": answer.labels})
    return answer


def refuse_in_shared_folder(node: Node, audience: str) -> None:
    """A file inside a folder shared by an external link: one its labels hold
    or block is not served through the folder's link (one query when unlabelled)."""
    if audience not in EXTERNAL_AUDIENCES or node.is_folder:
        return
    if node_answer(node).action in (LabelAction.APPROVE, LabelAction.BLOCK):
        raise SensitiveContentBlocked(gettext("This file holds sensitive content: it cannot be opened through this "
                                              "link."), code="sensitive_content_blocked")


def link_gate_new(link, answer: Answer) -> None:
    """A new external link on a file whose policy asks for approval waits behind a closed gate."""
    if answer.action == LabelAction.APPROVE:
        LinkGate.objects.create(link=link, node_id=link.node_id, action=answer.action, labels=answer.labels)


def gates_apply(node: Node, *, actor=None) -> int:
    """Bring the gates of ``node``'s external links in line with its policy:
    closed on every live external link when it says approve or block (the
    owners are notified), open when it allows. Returns the links newly held."""
    from portal.shares.models import ShareLink

    answer = node_answer(node)
    now = timezone.now()
    if answer.action not in (LabelAction.APPROVE, LabelAction.BLOCK):
        LinkGate.objects.filter(node=node, closed=True).update(closed=False, decided_at=now, decided_by=actor)
        return 0
    LinkGate.objects.filter(node=node).update(action=answer.action, labels=answer.labels)
    links = list(ShareLink.objects.filter(node=node, revoked_at__isnull=True, audience__in=EXTERNAL_AUDIENCES)
                 .select_related("created_by"))
    reopened = LinkGate.objects.filter(node=node, closed=False, link__in=links).update(
        closed=True, decided_at=None, decided_by=None)
    gated = set(LinkGate.objects.filter(link__in=links).values_list("link_id", flat=True))
    fresh = [link for link in links if link.pk not in gated]
    LinkGate.objects.bulk_create([LinkGate(link=link, node=node, action=answer.action, labels=answer.labels)
                                  for link in fresh])
    held = len(fresh) + reopened
    if held:
        _tell_owners(node, {link.created_by for link in links}, answer, held)
    return held


def _tell_owners(node: Node, owners, answer: Answer, held: int) -> None:
    from portal.notify.dispatch import node_url, notify

    for owner in owners:
        notify(owner, kind=NOTIFY_KIND, key=f"{NOTIFY_KIND}:{node.pk}:{node.current_version_id}:{answer.action}",
               params={"name": node.name, "labels": ", ".join(answer.labels), "links": held},
               url=node_url(node))


# --- the review queue (administrators) ----------------------------------------------------

def _review(actor, review_id) -> LabelReview:
    require_admin(actor, gettext("Only administrators review labelled files."))
    try:
        pk = int(review_id)
    except (TypeError, ValueError):
        raise InvalidInput(gettext("A review is named by its number."), code="invalid_review") from None
    review = (LabelReview.objects.select_for_update(of=("self",)).select_related("node__space", "version")
              .filter(pk=pk).first())
    if review is None:
        raise NotFound(gettext("No such review."))
    return review


def _decide(actor, review: LabelReview, state: str, action: str, note: str = "", **details) -> LabelReview:
    review.state, review.reviewed_by, review.reviewed_at, review.note = state, actor, timezone.now(), note
    review.save(update_fields=["state", "reviewed_by", "reviewed_at", "note"])
    node = Node.objects.select_for_update().get(pk=review.node_id)
    current = node.current_version_id == review.version_id
    opened_or_held = gates_apply(node, actor=actor) if current else 0
    record(action=action, actor=actor, target=node, target_label=node.name, space=node.space,
           details={"version": review.version.number, "labels": file_labels(node) if current else [],
                    "links_held": opened_or_held, **details})
    return review


@transaction.atomic
def label_review_approve(*, actor, review_id) -> LabelReview:
    """An administrator approves a labelled file for external sharing: its held links work."""
    review = _review(actor, review_id)
    if review.state == LabelReviewState.APPROVED:
        raise Conflict(gettext("This file is already approved."), code="already_reviewed")
    return _decide(actor, review, LabelReviewState.APPROVED, Action.CONTENT_LABEL_APPROVED)


@transaction.atomic
def label_review_reject(*, actor, review_id, note: str = "") -> LabelReview:
    """An administrator rejects a labelled file for external sharing: its external links stay off."""
    review = _review(actor, review_id)
    if review.state == LabelReviewState.REJECTED:
        raise Conflict(gettext("This file is already rejected."), code="already_reviewed")
    if not isinstance(note, str) or len(note) > 2000:
        raise InvalidInput(gettext("The note is text of at most 2000 characters."), code="invalid_note")
    return _decide(actor, review, LabelReviewState.REJECTED, Action.CONTENT_LABEL_REJECTED, note.strip())


def clean_labels(value) -> list[str]:
    """Labels as an administrator writes them: comma- or space-separated slugs (none: no label)."""
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if not isinstance(value, (list, tuple)) or len(value) > MAX_LABELS:
        raise InvalidInput(gettext("Give at most %(max)s labels.") % {"max": MAX_LABELS}, code="invalid_labels")
    labels = []
    for item in value:
        item = item.strip().lower() if isinstance(item, str) else ""
        if not item or len(item) > 60 or not all(c.isascii() and (c.isalnum() or c in "-_") for c in item):
            raise InvalidInput(gettext("A label is made of letters, digits, hyphens and underscores (%(label)r).")
                               % {"label": str(item)[:60]}, code="invalid_labels")
        if item not in labels:
            labels.append(item)
    return labels


@transaction.atomic
def label_review_relabel(*, actor, review_id, labels) -> LabelReview:
    """An administrator replaces a version's labels (none: no label); the policy follows the new ones."""
    review = _review(actor, review_id)
    labels = clean_labels(labels)
    ContentLabel.objects.filter(version_id=review.version_id).delete()
    ContentLabel.objects.bulk_create([ContentLabel(version_id=review.version_id, node_id=review.node_id,
                                                   label=label, detector=MANUAL, count=1) for label in labels])
    return _decide(actor, review, LabelReviewState.RELABELLED, Action.CONTENT_RELABELLED, new_labels=labels,
                   names=", ".join(labels) or "-")


# --- the console's settings: policies and detectors ------------------------------------------

@transaction.atomic
def label_policy_set(*, actor, label, action) -> LabelPolicy:
    """An administrator sets what external sharing does with a label; the
    labelled files' links follow at once."""
    require_admin(actor, gettext("Only administrators set label policies."))
    label = clean_labels([label] if isinstance(label, str) else label)
    if len(label) != 1:
        raise InvalidInput(gettext("Name one label."), code="invalid_labels")
    if action not in LabelAction.values:
        raise InvalidInput(gettext("The action is one of: %(join)s.") % {"join": ", ".join(LabelAction.values)},
                           code="invalid_action")
    policy, _created = LabelPolicy.objects.select_for_update().get_or_create(label=label[0])
    before = "" if _created else policy.action
    policy.action, policy.updated_by, policy.updated_at = action, actor, timezone.now()
    policy.save()
    node_ids = set(ContentLabel.objects.filter(label=policy.label).values_list("node_id", flat=True))
    for node in Node.objects.filter(pk__in=node_ids, current_version__content_labels__label=policy.label).distinct():
        gates_apply(node, actor=actor)
    record(action=Action.CONTENT_POLICY_SET, actor=actor, target=policy, target_label=policy.label,
           details={"to": action, "from": before})
    return policy


@transaction.atomic
def detector_save(*, actor, name, kind, label, threshold=1, enabled=True, keywords="", pattern="") -> Detector:
    """An administrator adds or changes a detector (keyword lists and regular
    expressions are theirs; an unsafe pattern is refused with the reason)."""
    require_admin(actor, gettext("Only administrators configure detectors."))
    name = clean_labels([name] if isinstance(name, str) else name)
    label = clean_labels([label] if isinstance(label, str) else label)
    if len(name) != 1 or len(label) != 1:
        raise InvalidInput(gettext("A detector has one name and one label."), code="invalid_detector")
    if kind not in DetectorKind.values:
        raise InvalidInput(gettext("The kind is one of: %(join)s.") % {"join": ", ".join(DetectorKind.values)},
                           code="invalid_kind")
    try:
        threshold = int(threshold)
    except (TypeError, ValueError):
        threshold = 0
    if not 1 <= threshold <= 100000:
        raise InvalidInput(gettext("The threshold is a whole number from 1 to 100000."), code="invalid_threshold")
    keywords = "\n".join(detectors.normalise_keywords(keywords if isinstance(keywords, str) else ""))
    pattern = (pattern or "").strip() if isinstance(pattern, str) else ""
    if kind == DetectorKind.KEYWORDS and not keywords:
        raise InvalidInput(gettext("A keyword list needs at least one keyword (one a line)."), code="invalid_keywords")
    if kind == DetectorKind.REGEX:
        try:
            detectors.compile_admin_regex(pattern)
        except detectors.UnsafePattern as exc:
            raise InvalidInput(gettext("This pattern is refused: %(reason)s.") % {"reason": str(exc)},
                               code="unsafe_pattern") from None
    detector, created = Detector.objects.update_or_create(name=name[0], defaults={
        "kind": kind, "label": label[0], "threshold": threshold, "enabled": bool(enabled),
        "keywords": keywords if kind == DetectorKind.KEYWORDS else "",
        "pattern": pattern if kind == DetectorKind.REGEX else "", "updated_at": timezone.now()})
    record(action=Action.CONTENT_DETECTOR_SAVED, actor=actor, target=detector, target_label=detector.name,
           details={"kind": kind, "label": detector.label, "threshold": threshold, "enabled": detector.enabled,
                    "created": created, "keywords": len(keywords.splitlines()) if keywords else 0})
    return detector
