"""Print the role matrix (core.matrix): ``manage.py role_matrix --markdown > docs/roles.md``."""

from django.core.management.base import BaseCommand, CommandParser

from core import matrix


class Command(BaseCommand):
    help = "Print who may do what (core.matrix), as the Markdown of docs/roles.md."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--markdown", action="store_true", help="Markdown tables (the only format)."
        )

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        self.stdout.write(matrix.markdown(), ending="\n")
