"""The development side's write path: work items, their links to incidents and changes,
and releases. Going to development from an incident is one action here, calling the
incident's own escalation service (projects → itsm, never the other way).

A package by topic (work items, links, releases, emergency decisions); everything is
imported from here as before: ``from projects import services``."""

from projects.models import WorkItemStatus  # noqa: F401  (re-exported, as before)
from projects.services.common import (  # noqa: F401
    EDITABLE_FIELDS,
    project_for_service,
)
from projects.services.dev_links import (  # noqa: F401
    dev_link_add,
    dev_link_remove,
    dev_links_from_title,
)
from projects.services.emergency import (  # noqa: F401
    emergency_decision_confirm,
    emergency_decision_contest,
    emergency_decision_record,
)
from projects.services.links import (  # noqa: F401
    defect_link_incident,
    defect_link_problem,
    enhancement_link_change,
    incident_to_development,
)
from projects.services.projects import (  # noqa: F401
    ensure_project_active,
    project_archive,
    project_create,
    project_restore,
    project_update,
)
from projects.services.releases import (  # noqa: F401
    release_create,
    release_go_live,
    release_move_out_items,
    release_notes,
    release_notes_text,
    release_roll_back,
    release_set_change,
    release_sign_off_uat,
    release_transition,
    release_update,
)
from projects.services.structure import (  # noqa: F401
    component_create,
    component_delete,
    component_update,
    work_item_link_add,
    work_item_link_remove,
)
from projects.services.work_items import (  # noqa: F401
    WORK_TRANSITION_SERVICES,
    work_close,
    work_comment,
    work_fix,
    work_item_create,
    work_item_update,
    work_mark_duplicate,
    work_reopen,
    work_rework,
    work_start,
    work_submit_review,
    work_triage,
    work_wont_fix,
)
