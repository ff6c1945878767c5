"""Global search on PostgreSQL: names, paths and text (Chinese and English),
access applied in the query, the trash left out, filters and ranking."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.files.models import Node
from portal.files.services import tree
from portal.files.selectors import locate_path
from portal.scanning.models import ScanState, ScanVerdict
from portal.search import query
from portal.search.models import SearchDoc
from portal.search.query import Filters, terms_of
from portal.search.tasks import index_node, index_version
from tests.search.conftest import minimal_pdf

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def names(user, q: str, filters: Filters = Filters()) -> list[str]:
    return [hit.name for hit in query.search(user, terms_of(q), filters)]


def test_finds_a_file_by_words_of_its_name_and_as_the_last_word_is_typed(alice, team, put):
    put(alice, team, "/Quarterly-Report_v2.pdf", minimal_pdf("nothing"))
    put(alice, team, "/holiday.jpg", b"jpeg")
    assert names(alice, "report") == ["Quarterly-Report_v2.pdf"]
    assert names(alice, "quarterly rep") == ["Quarterly-Report_v2.pdf"]
    assert names(alice, "QUARTERLY-report_V2.PDF") == ["Quarterly-Report_v2.pdf"]
    assert names(alice, "invoice") == []


def test_finds_a_file_by_the_folders_of_its_path(alice, team, put):
    put(alice, team, "/Projects/Alpha/notes.txt", b"x")
    put(alice, team, "/Projects/Beta/notes.txt", b"x")
    hits = query.search(alice, terms_of("alpha notes"), Filters())
    assert [(hit.name, hit.parent_path) for hit in hits] == [("notes.txt", "/Projects/Alpha")]
    assert sorted(names(alice, "projects")) == ["Alpha", "Beta", "Projects", "notes.txt", "notes.txt"]


def test_finds_text_inside_plain_text_markdown_and_pdf(alice, team, put):
    put(alice, team, "/a.txt", b"the annual budget forecast for marketing")
    put(alice, team, "/b.md", b"# Minutes\n\n* the **offsite** in *Lisbon* was approved\n")
    put(alice, team, "/c.pdf", minimal_pdf("Warehouse inventory reconciliation"))
    assert names(alice, "budget forecast") == ["a.txt"]
    assert names(alice, "offsite lisbon") == ["b.md"]
    assert names(alice, "inventory reconciliation") == ["c.pdf"]


def test_finds_chinese_names_and_text_by_segmented_words(alice, team, put):
    put(alice, team, "/说明.txt", "本文件是公司2024年季度财务报告的摘要。".encode())
    put(alice, team, "/会议/项目计划书.md", "# 会议纪要\n讨论了市场营销预算".encode("gb18030"))
    assert names(alice, "财务 报告") == ["说明.txt"]
    assert names(alice, "季度财务报告") == ["说明.txt"]
    assert names(alice, "计划书") == ["项目计划书.md"]
    assert names(alice, "会议 计划") == ["项目计划书.md"]
    assert names(alice, "营销预算") == ["项目计划书.md"]   # GB18030 text decoded too
    assert names(alice, "财务 营销") == []                  # words are AND-ed


def test_a_user_never_sees_anything_of_a_space_they_are_not_in(alice, bob, team, secret, put):
    board, carol = secret
    put(carol, board, "/merger report.txt", b"secret report")
    put(alice, team, "/report.txt", b"public")
    assert names(carol, "report") == ["merger report.txt"]
    assert names(alice, "report") == ["report.txt"]
    assert names(bob, "report") == ["report.txt"]      # a viewer of the team reads it
    assert names(bob, "merger") == []


def test_the_access_check_is_in_the_sql_not_applied_afterwards(alice, team, put, django_assert_num_queries):
    put(alice, team, "/report.txt", b"x")
    with django_assert_num_queries(1) as captured:
        query.search(alice, terms_of("report"), Filters())
    sql = captured.captured_queries[0]["sql"]
    assert "spaces_membership" in sql and "m.user_id" in sql and "words @@" in sql


def test_items_in_the_trash_and_below_a_trashed_folder_are_not_found_until_restored(alice, team, put):
    put(alice, team, "/Old/plan.txt", b"roadmap")
    put(alice, team, "/memo.txt", b"roadmap")
    folder = locate_path(alice, team.pk, "/Old").node
    memo = locate_path(alice, team.pk, "/memo.txt").node
    tree.node_trash(actor=alice, node_id=folder.pk)
    tree.node_trash(actor=alice, node_id=memo.pk)
    assert names(alice, "roadmap") == [] and names(alice, "plan") == []
    tree.trash_restore(actor=alice, node_id=folder.pk)
    assert names(alice, "roadmap") == ["plan.txt"]


def test_renaming_or_moving_a_folder_updates_the_paths_below_it(alice, team, put):
    put(alice, team, "/Drafts/2024/summary.txt", b"x")
    drafts = locate_path(alice, team.pk, "/Drafts").node
    tree.node_rename(actor=alice, node_id=drafts.pk, name="Published")
    assert names(alice, "drafts summary") == []
    hits = query.search(alice, terms_of("published summary"), Filters())
    assert [hit.path for hit in hits] == ["/Published/2024/summary.txt"]
    tree.folder_create(actor=alice, space_id=team.pk, path="/Archive")
    tree.node_move(actor=alice, node_id=locate_path(alice, team.pk, "/Published/2024").node.pk, path="/Archive/2024")
    assert [hit.path for hit in query.search(alice, terms_of("archive summary"), Filters())] == \
        ["/Archive/2024/summary.txt"]


def test_filters_by_space_type_date_size_and_uploader(alice, bob, team, put):
    put(alice, team, "/plan.pdf", minimal_pdf("plan"))
    put(alice, team, "/plan.txt", b"plan" * 100)
    put(alice, team, "/plan.mp4", b"v")
    mine = alice.memberships.exclude(space=team).get().space   # alice's personal space
    put(alice, mine, "/plan.zip", b"z")
    assert sorted(names(alice, "plan", Filters(space_id=team.pk))) == ["plan.mp4", "plan.pdf", "plan.txt"]
    assert names(alice, "plan", Filters(file_type="pdf")) == ["plan.pdf"]
    assert names(alice, "plan", Filters(file_type="archive")) == ["plan.zip"]
    assert names(alice, "plan", Filters(file_type="video")) == ["plan.mp4"]
    assert sorted(names(alice, "plan", Filters(size_min=300))) == ["plan.pdf", "plan.txt"]
    assert sorted(names(alice, "plan", Filters(size_max=1))) == ["plan.mp4", "plan.zip"]
    old = Node.objects.get(name="plan.txt")
    Node.objects.filter(pk=old.pk).update(modified_at=timezone.now() - timedelta(days=40))
    index_node(old.pk)
    assert names(alice, "plan", Filters(modified_before=timezone.now() - timedelta(days=30))) == ["plan.txt"]
    assert "plan.txt" not in names(alice, "plan", Filters(modified_after=timezone.now() - timedelta(days=30)))
    assert names(alice, "plan", Filters(owner_id=bob.pk)) == []
    assert len(names(alice, "plan", Filters(owner_id=alice.pk))) == 4


def test_ranks_exact_name_then_prefix_then_word_then_content_newest_first(alice, team, put):
    put(alice, team, "/notes about budget.txt", b"x")         # a word of the name
    put(alice, team, "/other.txt", b"the budget is here")      # content only
    put(alice, team, "/budget.xlsx", b"x")                     # exact name
    put(alice, team, "/budget 2025.txt", b"x")                 # name prefix
    put(alice, team, "/Budget/readme.txt", b"x")               # folder word in the path (the folder is exact)
    put(alice, team, "/zz budget.txt", b"x")                   # a word of the name, newer
    assert names(alice, "budget.xlsx")[0] == "budget.xlsx"
    ranked = names(alice, "budget")
    assert ranked[0] == "Budget"            # exact (case-insensitive) name: the folder, newest of rank 0
    assert ranked[1:3] == ["budget 2025.txt", "budget.xlsx"]   # prefixes, newer first
    assert ranked[3:5] == ["zz budget.txt", "notes about budget.txt"]
    assert ranked[5:] == ["readme.txt", "other.txt"]


def test_text_is_indexed_only_once_the_version_is_scanned_clean(alice, team, put):
    version = put(alice, team, "/later.txt", b"confidential memo")
    SearchDoc.objects.filter(node=version.node).update(body_words="", content_version_id=None)
    ScanVerdict.objects.filter(version=version).update(state=ScanState.PENDING)
    assert index_version(version.pk) == "not_clean"
    assert names(alice, "confidential") == []
    ScanVerdict.objects.filter(version=version).update(state=ScanState.FLAGGED)
    assert index_version(version.pk) == "not_clean"
    ScanVerdict.objects.filter(version=version).update(state=ScanState.CLEAN)
    assert index_version(version.pk) == "indexed"
    assert index_version(version.pk) == "indexed"        # safe to run twice
    assert names(alice, "confidential") == ["later.txt"]


def test_a_clean_verdict_queues_the_text_extraction(alice, team, put):
    version = put(alice, team, "/queued.txt", b"kangaroo")
    SearchDoc.objects.filter(node=version.node).update(body_words="", content_version_id=None)
    assert names(alice, "kangaroo") == []
    verdict = ScanVerdict.objects.get(version=version)
    verdict.state = ScanState.RELEASED
    verdict.save(update_fields=["state"])         # what an administrator's release saves
    assert names(alice, "kangaroo") == ["queued.txt"]


def test_a_new_version_replaces_the_old_text(alice, team, put):
    put(alice, team, "/doc.txt", b"first draft")
    put(alice, team, "/doc.txt", b"second edition")
    assert names(alice, "draft") == [] and names(alice, "edition") == ["doc.txt"]
    assert SearchDoc.objects.get(node__name="doc.txt").content_version_id is not None


def test_office_files_wait_for_their_pdf_rendition(alice, team, put, monkeypatch):
    import io

    version = put(alice, team, "/slides.pptx", b"PK not really")
    assert index_version(version.pk) == "no_text"
    monkeypatch.setattr("portal.previews.selectors.rendition_pdf",
                        lambda v: io.BytesIO(minimal_pdf("Strategy offsite agenda")))
    assert index_version(version.pk) == "indexed"
    assert names(alice, "strategy agenda") == ["slides.pptx"]


def test_moving_a_folder_to_another_space_takes_its_rows_along_at_once(alice, bob, team, put, monkeypatch):
    from portal.search import receivers

    put(alice, team, "/Deals/term sheet.txt", b"x")
    mine = alice.memberships.exclude(space=team).get().space
    assert names(bob, "term sheet") == ["term sheet.txt"]
    queued = []
    monkeypatch.setattr(receivers, "enqueue", lambda task, *args: queued.append(args))   # no worker has run yet
    tree.node_move(actor=alice, node_id=locate_path(alice, team.pk, "/Deals").node.pk, path="/Deals",
                   space_id=mine.pk)
    assert names(bob, "term sheet") == []           # bob is not in alice's personal space
    assert names(alice, "term sheet") == ["term sheet.txt"] and queued
