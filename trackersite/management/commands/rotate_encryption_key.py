"""Re-encrypt every secret at rest with the current SECRETS_ENCRYPTION_KEY.

Rotation: put the new key in SECRETS_ENCRYPTION_KEY and the old one in
SECRETS_ENCRYPTION_OLD_KEYS, run this command, then drop the old key. Models take part by
naming their Fernet fields in a class attribute: `encrypted_fields = ("field", ...)`.
"""

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from tracking import encryption

BATCH_SIZE = 2_000


def encrypted_models() -> list:
    return [m for m in apps.get_models() if getattr(m, "encrypted_fields", None)]


def _reencrypt(value):
    if value is None:
        return None
    if isinstance(value, str):
        return encryption.reencrypt(value.encode("ascii")).decode("ascii")
    return encryption.reencrypt(bytes(value))


def rotate_model(model, batch_size: int = BATCH_SIZE) -> int:
    """Re-encrypt one model's fields, in batches, in one transaction. Returns rows done."""
    fields = [model._meta.get_field(name) for name in model.encrypted_fields]
    pk = model._meta.pk
    quote = connection.ops.quote_name
    # One UPDATE per batch, from arrays: UPDATE t SET f = v.f FROM unnest(ids, fs) v ...
    columns = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in fields)
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in [pk, *fields])
    names = ", ".join(quote(f.column) for f in [pk, *fields])
    sql = (
        f"UPDATE {quote(model._meta.db_table)} AS t SET {columns} "
        f"FROM unnest({arrays}) AS v({names}) WHERE t.{quote(pk.column)} = v.{quote(pk.column)}"
    )
    done = 0
    last = None
    with transaction.atomic():
        while True:
            rows = model._base_manager.select_for_update().order_by("pk")
            if last is not None:
                rows = rows.filter(pk__gt=last)
            batch = list(rows.values_list("pk", *(f.attname for f in fields))[:batch_size])
            if not batch:
                return done
            values = [[row[0] for row in batch]]
            for i in range(len(fields)):
                values.append([_reencrypt(row[i + 1]) for row in batch])
            with connection.cursor() as cursor:
                cursor.execute(sql, values)
            done += len(batch)
            last = batch[-1][0]


class Command(BaseCommand):
    help = "Re-encrypt every secret at rest (models with `encrypted_fields`) with the current key."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)

    def handle(self, *args, batch_size, **options):
        models = encrypted_models()
        if not models:
            self.stdout.write("no model declares encrypted_fields; nothing to do")
            return
        for model in models:
            try:
                count = rotate_model(model, batch_size=batch_size)
            except encryption.InvalidToken as exc:
                raise CommandError(
                    f"{model._meta.label}: a value cannot be decrypted with the current or old "
                    "keys (is the previous key in SECRETS_ENCRYPTION_OLD_KEYS?); "
                    "this model was left unchanged"
                ) from exc
            fields = ", ".join(model.encrypted_fields)
            self.stdout.write(f"{model._meta.label} ({fields}): {count} rows re-encrypted")
