from django.core.management.base import BaseCommand

from trackersite.services import staff_groups_install


class Command(BaseCommand):
    help = "Create or reset the staff groups (operations, support, viewer) and their permissions."

    def handle(self, *args, **options):
        for name, count in staff_groups_install().items():
            self.stdout.write(f"{name}: {count} permissions")
