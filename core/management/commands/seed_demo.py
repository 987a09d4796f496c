"""Create the demo organisation and data. Idempotent: run it as often as you like.

Each app contributes through an optional ``<app>.demo`` module with a
``seed(stdout) -> None`` function, called in INSTALLED_APPS order, so that this command
(in ``core``) never imports the apps above it.
"""

from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create demo users (password 'demo'), teams, services and tickets."

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        for config in apps.get_app_configs():
            module_name = f"{config.name}.demo"
            if find_spec(module_name) is None:
                continue
            self.stdout.write(f"Seeding {config.label} …")
            import_module(module_name).seed(self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data ready. Sign in with any demo user / demo."))
