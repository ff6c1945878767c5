from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [  # noqa: RUF012 - Django migration attributes
        ("spaces", "0003_space_slug_fill"),
    ]

    operations = [  # noqa: RUF012
        migrations.AlterField(
            model_name="space",
            name="slug",
            field=models.SlugField(max_length=120, unique=True),
        ),
    ]
