from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Tandem core"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model

        # Tandem writes about people in audit comments, notices and pages (f"{actor} …",
        # {{ user }}): they read by the name people go by, not the login name. auth.User
        # is the user model (no custom one to give its own __str__), so it is set here once.
        def name_they_go_by(user: object) -> str:
            return user.get_full_name() or user.get_username()  # type: ignore[attr-defined]

        get_user_model().__str__ = name_they_go_by  # type: ignore[assignment,method-assign]

        from core import refcache
        from core.models import Team

        refcache.watch(Team)  # the intake team of new incidents is kept per process

        from core import signin

        signin.connect()  # sign-ins and lock-outs into the audit trail

        from django.db.models.signals import post_migrate

        import core.sso  # noqa: F401  (registers its system check of SSO_GROUP_ROLES)

        post_migrate.connect(_key_sequences_after_migrate, sender=self)


def _key_sequences_after_migrate(using: str = "default", **kwargs: object) -> None:
    """A flush (which sends post_migrate) empties ``core.Sequence`` but leaves the key
    sequences of PostgreSQL: drop those, so numbering starts again from the rows."""
    from core.services import key_sequences_forget_orphans

    key_sequences_forget_orphans(using)
