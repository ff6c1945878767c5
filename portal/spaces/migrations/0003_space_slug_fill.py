from django.db import migrations
from django.utils.text import slugify

SLUG_MAX = 120


def fill_slugs(apps, schema_editor):
    """Oldest space first gets the plain slug; later ones "-2", "-3", ..."""
    Space = apps.get_model("spaces", "Space")
    used = set(Space.objects.exclude(slug=None).exclude(slug="").values_list("slug", flat=True))
    for space in Space.objects.filter(models_q_empty()).order_by("id"):
        base = (slugify(space.name) or "space")[:SLUG_MAX - 8].strip("-") or "space"
        candidate, number = base, 1
        while candidate in used:
            number += 1
            candidate = f"{base}-{number}"
        used.add(candidate)
        Space.objects.filter(pk=space.pk).update(slug=candidate)


def models_q_empty():
    from django.db.models import Q

    return Q(slug=None) | Q(slug="")


class Migration(migrations.Migration):

    dependencies = [  # noqa: RUF012 - Django migration attributes
        ("spaces", "0002_space_slug"),
    ]

    operations = [  # noqa: RUF012
        migrations.RunPython(fill_slugs, migrations.RunPython.noop),
    ]
