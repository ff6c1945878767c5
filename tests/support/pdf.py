"""Hand-written PDFs for tests: objects numbered from 1, with a correct xref table."""

from __future__ import annotations


def pdf_of(objects: list[bytes], *, version: bytes = b"1.4") -> bytes:
    """A PDF file of ``objects`` (object 1 is the catalogue)."""
    out, offsets = bytearray(b"%PDF-" + version + b"\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
