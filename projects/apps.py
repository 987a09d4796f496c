from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"
    verbose_name = "Projects, releases and work items"

    def ready(self) -> None:
        from core import extensions
        from projects import bridge

        extensions.register_panel(
            "incident_detail",
            extensions.Panel("projects/_incident_defect.html", bridge.incident_panel, order=10),
        )
        extensions.register_field("incident", "defect", bridge.incident_defect_field)
        extensions.register_prefetch("incident", bridge.defects_prefetch())
