import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('spaces', '0008_space_trash'),
    ]

    operations = [
        migrations.CreateModel(
            name='Container',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('tier', models.CharField(max_length=32)),
                ('key', models.CharField(max_length=300, unique=True)),
                ('size', models.BigIntegerField(default=0)),
                ('data_bytes', models.BigIntegerField(default=0)),
                ('blob_count', models.PositiveIntegerField(default=0)),
                ('live_bytes', models.BigIntegerField(default=0)),
                ('state', models.CharField(choices=[('writing', 'Being written'), ('live', 'Live'), ('retired', 'Retired')], db_index=True, default='writing', max_length=8)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('retired_at', models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.CreateModel(
            name='Superseded',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('tier', models.CharField(max_length=32)),
                ('key', models.CharField(max_length=300)),
                ('delete_after', models.DateTimeField(db_index=True)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('tier', 'key'), name='superseded_once')],
            },
        ),
        migrations.CreateModel(
            name='SpaceTierPolicy',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('tier', models.CharField(blank=True, max_length=32)),
                ('current_days', models.PositiveIntegerField()),
                ('old_days', models.PositiveIntegerField()),
                ('trash_days', models.PositiveIntegerField()),
                ('promote_on_read', models.BooleanField(default=True)),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('space', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='tier_policy', to='spaces.space')),
            ],
        ),
    ]
