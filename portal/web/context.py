"""Template context of every page: the navigation's language switcher."""

from django.conf import settings


def portal(request):
    return {"portal_languages": settings.LANGUAGES}
