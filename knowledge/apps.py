from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "knowledge"
    verbose_name = "Knowledge base"

    def ready(self) -> None:
        from core import events, extensions
        from knowledge import services, views

        events.subscribe(events.WORKAROUND_PUBLISHED, services.on_workaround_published)
        events.subscribe(events.PROBLEM_RESOLVED, services.on_problem_resolved)
        events.subscribe(events.RELEASE_LIVE, services.on_release_live)
        events.subscribe(events.PROBLEM_REOPENED, services.on_problem_reopened)
        events.subscribe(events.RELEASE_ROLLED_BACK, services.on_release_rolled_back)
        extensions.register_panel(
            "incident_detail",
            extensions.Panel("knowledge/_incident_articles.html", views.incident_panel, order=30),
        )

        from core.visibility import register_parts_policy
        from knowledge import visibility
        from knowledge.models import Article

        # A requester reads a published article's text (its public serializer) and its
        # public files (screenshots of a how-to), never its history.
        register_parts_policy(Article, visibility.article_parts)

        from core.attachments import Attachable, register_attachable
        from knowledge import permissions, selectors

        # Who edits an article attaches to it; its files are public unless marked internal.
        register_attachable(
            Article,
            Attachable(
                find=selectors.article_get,
                may_attach=lambda u, r, public: permissions.can_edit(u, r),
                public_side=True,
                default_public=True,
            ),
        )
