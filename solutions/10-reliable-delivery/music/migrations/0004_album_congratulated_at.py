from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("music", "0003_artist_playlist_not_found"),
    ]

    operations = [
        migrations.AddField(
            model_name="album",
            name="congratulated_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
