from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"
    verbose_name = "Projects, releases and work items"

    def ready(self) -> None:
        from core import events, extensions
        from projects import bridge, suspects

        events.subscribe(events.INCIDENT_CREATED, suspects.on_incident_created)
        from core.templatetags.tandem import ACTION_WORDS
        from projects.services.structure import ACTION_WORDS as STRUCTURE_WORDS

        ACTION_WORDS.update(STRUCTURE_WORDS)  # links between work items, components
        extensions.register_panel(
            "incident_detail",
            extensions.Panel("projects/_time_log.html", bridge.time_panel, order=90),
        )
        extensions.register_panel(
            "incident_detail",
            extensions.Panel("projects/_incident_suspects.html", bridge.suspects_panel, order=20),
        )

        extensions.register_panel(
            "incident_detail",
            extensions.Panel("projects/_incident_defect.html", bridge.incident_panel, order=10),
        )
        extensions.register_field(
            "incident",
            "defect",
            bridge.incident_defect_field,
            public=bridge.incident_defect_public_field,
        )
        extensions.register_prefetch("incident", bridge.defects_prefetch())
        from projects.api.serializers import HypercareRouteSerializer

        # Hypercare: the release's team's queue holds the incident too, and they work it.
        extensions.register_team_queue("incident", bridge.hypercare_queue_q)
        extensions.register_work_grant("incident", bridge.hypercare_grant)
        extensions.register_field(
            "incident",
            "hypercare",
            bridge.incident_hypercare_field,
            public=lambda incident: [],
            schema=lambda: HypercareRouteSerializer(many=True),
        )
        extensions.register_prefetch("incident", bridge.hypercare_prefetch())
        extensions.register_panel(
            "incident_detail",
            extensions.Panel("projects/_incident_hypercare.html", bridge.hypercare_panel, order=15),
        )
        extensions.register_panel(
            "problem_detail",
            extensions.Panel("projects/_problem_defects.html", bridge.problem_panel),
        )
        extensions.register_field("problem", "defects", bridge.problem_defects_field)
        extensions.register_prefetch("problem", bridge.problem_defects_prefetch())
        extensions.register_panel(
            "problem_detail",
            extensions.Panel("projects/_time_log.html", bridge.time_panel, order=90),
        )
        extensions.register_panel(
            "change_detail",
            extensions.Panel("projects/_change_development.html", bridge.change_panel),
        )

        # The change resource: what its enhancements deliver and the releases it deploys.
        from projects.api import serializers as api

        extensions.register_field(
            "change",
            "enhancements",
            bridge.change_enhancements_field,
            schema=lambda: api.ChangeEnhancementSerializer(many=True),
        )
        extensions.register_field(
            "change",
            "delivery",
            bridge.change_delivery_field,
            schema=lambda: api.ChangeDeliverySerializer(allow_null=True),
        )
        extensions.register_field(
            "change",
            "releases",
            bridge.change_releases_field,
            schema=lambda: api.ChangeReleaseSerializer(many=True),
        )
        for lookup in bridge.change_prefetches():
            extensions.register_prefetch("change", lookup)

        from core.visibility import register_parts_policy, staff_only
        from projects.models import Project, Release, WorkItem

        register_parts_policy(WorkItem, staff_only)
        register_parts_policy(Release, staff_only)
        register_parts_policy(Project, staff_only)

        # Words for the actions projects writes in the activity stream (the timeline's
        # phrase book lives in core; H1 could not edit core: the lead may move these
        # into core.templatetags.tandem.ACTION_WORDS).
        from core.templatetags.tandem import ACTION_WORDS

        for action, words in {
            "archived": "archived it",
            "restored": "restored it from the archive",
            "dev_link_added": "linked a commit, branch or pull request",
            "dev_link_updated": "updated a linked commit, branch or pull request",
            "dev_link_removed": "unlinked a commit, branch or pull request",
        }.items():
            ACTION_WORDS.setdefault(action, words)

        from core.attachments import Attachable, register_attachable
        from core.selectors import get_by_ref
        from projects import permissions, selectors

        # Who may attach files to a work item: who may write on it.
        register_attachable(
            WorkItem,
            Attachable(
                find=lambda u, pk: get_by_ref(selectors.work_items(u), "-", pk, "work item"),
                may_attach=lambda u, r, public: permissions.can_work_item(u, r),
                # selectors.work_items: every staff member sees every work item
                sees=lambda u, r: permissions.can_view(u),
            ),
        )
