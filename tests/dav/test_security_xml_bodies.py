"""XML bodies with a document type declaration or entities are refused with
400 before anything is stored: an entity kept as a reference in a dead
property made every later PROPFIND of the file answer 500."""

from __future__ import annotations

import pytest

from portal.dav.models import DeadProperty
from tests.dav.support import LOCK_EXCLUSIVE, PROPFIND_ALL, lock, node_in, propfind, proppatch

PROPPATCH_BODY = proppatch("note", "&x;").decode()
BODIES = {
    "internal entity": '<?xml version="1.0"?><!DOCTYPE D:propertyupdate [<!ENTITY x "boom">]>'
                       + PROPPATCH_BODY.split("?>", 1)[1],
    "external entity": '<?xml version="1.0"?><!DOCTYPE D:propertyupdate [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                       + PROPPATCH_BODY.split("?>", 1)[1],
    "undefined entity": PROPPATCH_BODY,
    "laughs": '<?xml version="1.0"?><!DOCTYPE D:propertyupdate [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;">'
              '<!ENTITY x "&b;&b;&b;&b;">]>' + PROPPATCH_BODY.split("?>", 1)[1],
    "doctype only": '<?xml version="1.0"?><!DOCTYPE D:propertyupdate SYSTEM "http://127.0.0.1:1/x.dtd">'
                    + proppatch("note", "plain").decode().split("?>", 1)[1],
}


@pytest.mark.parametrize("kind", list(BODIES))
def test_a_proppatch_with_a_dtd_or_an_entity_is_refused_and_stores_nothing(dav, kind):
    dav.put(dav.base + "/doc.txt", data=b"v1")
    answer = dav.request("PROPPATCH", dav.base + "/doc.txt", data=BODIES[kind].encode(),
                         headers={"Content-Type": "application/xml"})
    assert answer.status_code == 400, answer.text
    assert not DeadProperty.objects.exists()
    assert propfind(dav, dav.base + "/doc.txt", depth="0").status_code == 207


def test_propfind_and_lock_bodies_with_a_dtd_are_refused(dav):
    dav.put(dav.base + "/doc.txt", data=b"v1")
    dtd = b'<?xml version="1.0"?><!DOCTYPE D:propfind [<!ENTITY x "y">]>'
    assert propfind(dav, dav.base + "/doc.txt", depth="0", body=dtd + PROPFIND_ALL.split(b"?>", 1)[1]) \
        .status_code == 400
    assert lock(dav, dav.base + "/doc.txt", body=dtd + LOCK_EXCLUSIVE.split(b"?>", 1)[1]).status_code == 400
    assert lock(dav, dav.base + "/doc.txt").status_code == 200


def test_a_plain_proppatch_with_xmls_own_entities_still_works(dav):
    dav.put(dav.base + "/doc.txt", data=b"v1")
    answer = dav.request("PROPPATCH", dav.base + "/doc.txt", data=proppatch("note", "a &amp; b &#65;"),
                         headers={"Content-Type": "application/xml"})
    assert answer.status_code == 207 and "200 OK" in answer.text
    found = propfind(dav, dav.base + "/doc.txt", depth="0")
    assert found.status_code == 207 and "a &amp; b A" in found.text


def test_a_property_stored_with_an_entity_before_the_check_does_not_break_propfind(dav):
    dav.put(dav.base + "/doc.txt", data=b"v1")
    dav.request("PROPPATCH", dav.base + "/doc.txt", data=proppatch("good", "fine"),
                headers={"Content-Type": "application/xml"})
    node = DeadProperty.objects.get().node
    DeadProperty.objects.create(node=node, name="{http://example.com/coffer/}note",
                                value='<Z:note xmlns:Z="http://example.com/coffer/">&x;</Z:note>')
    found = propfind(dav, dav.base + "/doc.txt", depth="0")
    assert found.status_code == 207 and "500" not in found.text and "fine" in found.text
    assert node_in(node.space, ["doc.txt"]).pk == node.pk
