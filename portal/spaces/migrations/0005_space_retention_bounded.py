from django.db import migrations, models

MAX_KEEP_VERSIONS = 10_000
MAX_KEEP_VERSION_DAYS = 36_500


def clamp(apps, schema_editor):
    """Values stored before retention was bounded mean "keep (nearly) forever": keep them so, within bounds."""
    Space = apps.get_model("spaces", "Space")
    Space.objects.filter(keep_versions__gt=MAX_KEEP_VERSIONS).update(keep_versions=MAX_KEEP_VERSIONS)
    Space.objects.filter(keep_version_days__gt=MAX_KEEP_VERSION_DAYS).update(keep_version_days=MAX_KEEP_VERSION_DAYS)


class Migration(migrations.Migration):

    dependencies = [  # noqa: RUF012 - Django migration attributes
        ("spaces", "0004_space_slug_unique"),
    ]

    operations = [  # noqa: RUF012
        migrations.RunPython(clamp, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="space",
            constraint=models.CheckConstraint(condition=models.Q(keep_versions__lte=MAX_KEEP_VERSIONS),
                                              name="space_keep_versions_bounded"),
        ),
        migrations.AddConstraint(
            model_name="space",
            constraint=models.CheckConstraint(condition=models.Q(keep_version_days__lte=MAX_KEEP_VERSION_DAYS),
                                              name="space_keep_version_days_bounded"),
        ),
    ]
