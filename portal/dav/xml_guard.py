"""Request bodies wsgidav parses as XML (PROPFIND, PROPPATCH, LOCK) carry
no document type declaration and no entities: a DTD can declare entities
(internal, external, parameter) that are kept as references in the tree,
stored as a dead property, and break every later PROPFIND of the file. Such
a body is refused with 400 before wsgidav reads it."""

from __future__ import annotations

import io

from lxml import etree
from wsgidav import util
from wsgidav.dav_error import HTTP_BAD_REQUEST, DAVError

XML_METHODS = frozenset({"PROPFIND", "PROPPATCH", "LOCK"})


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False)


def refuse_unsafe_xml(environ: dict) -> None:
    """Read the XML body (its length is bounded by the caller), refuse a DTD
    or an entity reference, and put the bytes back for wsgidav."""
    if environ["REQUEST_METHOD"] not in XML_METHODS:
        return
    length = util.get_content_length(environ)
    if length <= 0:
        return
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        root = etree.XML(body, parser=_parser())
    except etree.XMLSyntaxError as exc:  # an undefined entity among them
        raise DAVError(HTTP_BAD_REQUEST, f"The request body is not well-formed XML: {exc}") from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None or tree.docinfo.externalDTD is not None:
        raise DAVError(HTTP_BAD_REQUEST, "Request bodies may not declare a document type (DTD) or entities.")
    if any(isinstance(node, etree._Entity) for node in root.iter()):
        raise DAVError(HTTP_BAD_REQUEST, "Request bodies may not use entity references other than XML's own.")
