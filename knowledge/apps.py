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

        from core.visibility import register_parts_policy, staff_only
        from knowledge.models import Article

        # A requester reads a published article's text (its public serializer), never
        # its history: the article's parts are staff's.
        register_parts_policy(Article, staff_only)
