"""Spaces get a unique URL name (``/dav/<slug>/``): added empty, filled from
the names (0003), then made required and unique (0004)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [  # noqa: RUF012 - Django migration attributes
        ("spaces", "0001_initial"),
    ]

    operations = [  # noqa: RUF012
        migrations.AddField(
            model_name="space",
            name="slug",
            field=models.SlugField(max_length=120, null=True),
        ),
    ]
