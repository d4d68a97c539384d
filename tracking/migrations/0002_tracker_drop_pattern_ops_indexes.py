"""Drop the varchar_pattern_ops ("_like") indexes Django adds beside the indexes of
Tracker.mac_address, hashed_advertisement_key and lifecycle_state.

They only serve LIKE 'prefix%' queries, which nothing runs on these columns (lookups are by
equality; admin search is icontains, which no btree serves), and every new tracker paid
for them: about 30% of PostgreSQL's work when a 100,000-key batch is written.
"""

from django.db import migrations

COLUMNS = ("mac_address", "hashed_advertisement_key", "lifecycle_state")


def drop_like_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = apps.get_model("tracking", "Tracker")._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexdef LIKE %s",
            [table, "%pattern_ops%"],
        )
        for name, definition in cursor.fetchall():
            if any(f"({column} varchar_pattern_ops)" in definition for column in COLUMNS):
                schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def create_like_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    model = apps.get_model("tracking", "Tracker")
    for column in COLUMNS:
        statement = schema_editor._create_like_index_sql(model, model._meta.get_field(column))
        if statement is not None:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("tracking", "0001_initial")]

    operations = [migrations.RunPython(drop_like_indexes, create_like_indexes)]
