"""A listing's scan summaries (scan_summaries, one query for the page) follow
the same quarantine rules as the check that guards downloads
(quarantine_reason): a finding about the content follows the bytes, one about
the name stays with its version, a hold reaches copies without a verdict of
their own, and a verdict of its own settles a version."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.files import names
from portal.files.models import Blob, FileVersion, Node, NodeKind
from portal.files.selectors import space_root
from portal.scanning.models import ScanState, ScanVerdict
from portal.scanning.selectors import quarantine_reason, scan_summaries, scan_summary

pytestmark = pytest.mark.django_db

FLAGGED_BY_CONTENT = dict(state=ScanState.FLAGGED, scanner="clamav", signature="Eicar-Test-Signature")
FLAGGED_BY_NAME = dict(state=ScanState.FLAGGED, scanner="extension", signature="blocked extension .scr")
HELD = dict(state=ScanState.PENDING, fail_closed=True)
CLEAN = dict(state=ScanState.CLEAN, scanner="clamav")


class Files:
    """Files straight in the database, sharing blobs as copies do."""

    def __init__(self, folder: Node):
        self.folder = folder

    def blob(self) -> Blob:
        return Blob.objects.create(key=f"blobs/db-only/{uuid.uuid4().hex}", size=1)

    def file(self, name: str, blob: Blob, verdict: dict | None = None) -> Node:
        node = Node.objects.create(space_id=self.folder.space_id, parent=self.folder, kind=NodeKind.FILE, name=name,
                                   name_key=names.name_key(name), size=1)
        node.current_version = FileVersion.objects.create(node=node, number=1, blob=blob, size=1)
        node.save(update_fields=["current_version"])
        if verdict is not None:
            ScanVerdict.objects.create(version=node.current_version, **verdict)
        return node


@pytest.fixture
def files(team):
    return Files(space_root(team))


@pytest.fixture
def cases(files, team) -> dict[str, Node]:
    infected, by_name, held, clean = files.blob(), files.blob(), files.blob(), files.blob()
    return {
        "flagged by content": files.file("virus.txt", infected, FLAGGED_BY_CONTENT),
        "copy of content flag": files.file("virus copy.txt", infected),
        "copy of content flag, scanned clean": files.file("virus again.txt", infected, CLEAN),
        "flagged by name": files.file("report.scr", by_name, FLAGGED_BY_NAME),
        "copy of name flag, harmless name": files.file("report.txt", by_name),
        "copy of name flag, blocked name": files.file("report copy.scr", by_name),
        "held": files.file("upload.txt", held, HELD),
        "copy of held": files.file("upload copy.txt", held),
        "copy of held, scanned clean": files.file("upload again.txt", held, CLEAN),
        "clean": files.file("notes.txt", clean, CLEAN),
        "never scanned": files.file("old.txt", files.blob()),
        "folder": Node.objects.create(space=team, parent=files.folder, kind=NodeKind.FOLDER, name="Sub",
                                      name_key="sub"),
    }


def _expected(node: Node) -> dict | None:
    """The summary built from the guard's own answer, one node at a time."""
    version = node.current_version
    if version is None:
        return None
    own = ScanVerdict.objects.filter(version=version).first()
    reason = quarantine_reason(version)
    if own is None and reason is None:
        return None
    shown = reason if reason is not None and reason.state == ScanState.FLAGGED else (own or reason)
    return {"state": shown.state, "signature": shown.signature or None, "quarantined": reason is not None}


def _listed(nodes: list[Node]) -> list[Node]:
    """The nodes as a listing loads them (current version and blob joined)."""
    by_id = Node.objects.select_related("current_version__blob").in_bulk([node.pk for node in nodes])
    return [by_id[node.pk] for node in nodes]


def test_a_listings_summaries_agree_with_the_download_guard_case_by_case(cases):
    nodes = _listed(list(cases.values()))
    summaries = scan_summaries(nodes)
    for label, node in zip(cases, nodes):
        assert summaries[node.pk] == _expected(node), label
    quarantined = {label for label, node in zip(cases, nodes) if (summaries[node.pk] or {}).get("quarantined")}
    assert quarantined == {"flagged by content", "copy of content flag", "copy of content flag, scanned clean",
                           "flagged by name", "copy of name flag, blocked name", "held", "copy of held"}


def test_one_node_is_summarised_in_one_query(cases):
    node = _listed([cases["copy of held"]])[0]
    with CaptureQueriesContext(connection) as queries:
        summary = scan_summary(node)
    assert len(queries) == 1 and summary == {"state": "pending", "signature": None, "quarantined": True}


def test_a_page_of_any_size_is_summarised_in_one_query_and_folders_in_none(files, team):
    blob = files.blob()
    few = _listed([files.file(f"a{i}.txt", blob, CLEAN if i % 2 else FLAGGED_BY_CONTENT) for i in range(3)])
    many = _listed([files.file(f"b{i}.txt", files.blob(), HELD if i % 3 else None) for i in range(60)])
    folders = [Node.objects.create(space=team, parent=files.folder, kind=NodeKind.FOLDER, name=f"d{i}",
                                   name_key=f"d{i}") for i in range(3)]
    for nodes, budget in ((few, 1), (many, 1), (folders, 0)):
        with CaptureQueriesContext(connection) as queries:
            summaries = scan_summaries(nodes)
        assert len(queries) == budget and set(summaries) == {node.pk for node in nodes}
    assert all(summary["quarantined"] for summary in scan_summaries(few).values())  # the bytes are flagged
