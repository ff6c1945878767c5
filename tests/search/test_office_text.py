"""An Office document's words are found once LibreOffice has made its PDF
rendition: indexing asks for the rendition (once), and the rendition's
readiness indexes the text, without anyone opening the viewer."""

from __future__ import annotations

from portal.previews.models import DerivedFile, DerivedKind, DerivedState
from portal.previews.services import rendition_make
from portal.search.models import SearchDoc
from portal.search.tasks import index_version
from tests.previews.test_tasks import docx_bytes
from tests.search.test_search import names



def test_a_word_document_is_found_by_its_text_after_its_rendition_is_made(alice, team, put):
    version = put(alice, team, "/Reports/plan.docx", docx_bytes("Quarterly kangaroo migration plan"))
    assert names(alice, "kangaroo migration") == []          # no text yet: the rendition is asked for
    rendition = DerivedFile.objects.get(version=version, kind=DerivedKind.PDF)
    assert rendition.state == DerivedState.PENDING

    assert rendition_make(version.pk) == DerivedState.READY   # a real LibreOffice conversion
    assert names(alice, "kangaroo migration") == ["plan.docx"]
    assert SearchDoc.objects.get(node=version.node).content_version_id == version.pk
    assert DerivedFile.objects.filter(version=version).count() == 1   # asked for once


def test_an_office_file_whose_conversion_fails_is_not_asked_for_again(alice, team, put):
    version = put(alice, team, "/broken.docx", b"PK\x03\x04 not a document")
    assert rendition_make(version.pk) in (DerivedState.FAILED, DerivedState.READY)
    before = DerivedFile.objects.get(version=version, kind=DerivedKind.PDF)
    assert index_version(version.pk) == "no_text"
    after = DerivedFile.objects.get(version=version, kind=DerivedKind.PDF)
    assert (after.pk, after.state, after.created_at) == (before.pk, before.state, before.created_at)
