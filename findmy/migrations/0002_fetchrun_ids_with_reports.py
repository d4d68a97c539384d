from django.db import migrations


class Migration(migrations.Migration):
    """The count was of ids whose answer held reports, not of ids answered (all of them are)."""

    dependencies = [
        ("findmy", "0001_initial"),
    ]

    operations = [
        migrations.RenameField(
            model_name="fetchrun",
            old_name="ids_answered",
            new_name="ids_with_reports",
        ),
    ]
