"""What the previews app tells others, without importing them."""

from django.dispatch import Signal

# Sent (with ``version_id``) once a version's PDF rendition is ready; the
# search index reads an Office file's text through it.
rendition_ready = Signal()
