"""What WebDAV keeps beside the file tree: dead properties (PROPPATCH) and
the owner element a client gave its lock (echoed back in lockdiscovery).

Locks themselves live in portal.locks, shared with the portal and the API.
"""

from django.db import models

from portal.files.models import Node


class DeadProperty(models.Model):
    """A client's own property on a node, e.g. ``{http://example.com/ns}color``.
    It follows the node through renames and moves, and goes with it to the trash."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="dav_properties")
    name = models.CharField(max_length=1024)   # Clark notation: {namespace}local
    value = models.TextField()                 # the property element, serialized XML

    class Meta:
        constraints = [  # noqa: RUF012 - Django Meta
            models.UniqueConstraint(fields=["node", "name"], name="dav_property_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} on {self.node_id}"


class LockOwner(models.Model):
    """The ``<D:owner>`` XML a WebDAV client sent with LOCK, by lock token
    (RFC 4918 asks for it back verbatim in lockdiscovery)."""

    token = models.CharField(max_length=100, unique=True)
    owner_xml = models.TextField()

    def __str__(self) -> str:
        return self.token
