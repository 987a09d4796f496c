from django.apps import AppConfig


class ItsmConfig(AppConfig):
    name = "itsm"
    verbose_name = "ITIL processes"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        # the trigger that keeps the queue counts (itsm.services.counts explains why here)
        post_migrate.connect(_install_count_trigger, sender=self)
        from core import events
        from core.visibility import register_parts_policy, staff_only
        from itsm import visibility
        from itsm.models import Change, Incident, Problem, ServiceRequest
        from itsm.sla_hooks import on_clock_breached

        events.subscribe(events.SLA_CLOCK_BREACHED, on_clock_breached)
        from core import extensions
        from itsm.canned_picker import picker_panel

        # the canned-reply picker under the shared reply box (core/_comment_box.html)
        extensions.register_panel(
            "comment_box", extensions.Panel("itsm/canned_picker.html", picker_panel)
        )
        from core.templatetags.tandem import ACTION_WORDS

        ACTION_WORDS["satisfaction_answered"] = "answered the satisfaction question"
        # What each user may read of each record's parts (core.visibility).
        register_parts_policy(Incident, visibility.incident_parts)
        register_parts_policy(ServiceRequest, visibility.request_parts)
        register_parts_policy(Problem, staff_only)
        register_parts_policy(Change, staff_only)

        # Who may attach files: who may reply (public) or write a note (internal).
        from core.attachments import Attachable, register_attachable
        from itsm import permissions, selectors

        register_attachable(
            Incident,
            Attachable(
                find=selectors.incident_get,
                may_attach=lambda u, r, public: (
                    permissions.can_reply_incident(u, r)
                    if public
                    else permissions.can_note_incident(u, r)
                ),
                public_side=True,
                participants=True,  # itsm.selectors.incident_list lets watchers in
            ),
        )
        register_attachable(
            ServiceRequest,
            Attachable(
                find=selectors.request_get,
                may_attach=lambda u, r, public: (
                    permissions.can_reply_request(u, r)
                    if public
                    else permissions.can_note_request(u, r)
                ),
                public_side=True,
            ),
        )
        register_attachable(
            Problem,
            Attachable(
                find=selectors.problem_get,
                may_attach=lambda u, r, public: permissions.can_work_problem(u, r),
            ),
        )
        register_attachable(
            Change,
            Attachable(
                find=selectors.change_get,
                may_attach=lambda u, r, public: permissions.can_work_change(u, r),
            ),
        )


def _install_count_trigger(using: str = "default", **kwargs) -> None:  # type: ignore[no-untyped-def]
    from django.db import DEFAULT_DB_ALIAS

    from itsm.services.counts import incident_count_trigger_install

    if using == DEFAULT_DB_ALIAS:
        incident_count_trigger_install()
