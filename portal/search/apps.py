from django.apps import AppConfig


class SearchConfig(AppConfig):
    """Finding files: names and extracted text indexed per version, queried
    with the caller's access applied in SQL; recent, starred, shared with me."""

    name = "portal.search"
    label = "search"

    def ready(self):
        from portal.search import receivers  # noqa: F401  (connects the index to the tree)
