from django.urls import path

from projects import (
    board_views,
    comment_views,
    component_views,
    iteration_views,
    my_work,
    project_views,
    views,
    work_views,
)

app_name = "projects"
urlpatterns = [
    path("projects/", views.ProjectListView.as_view(), name="projects"),
    path("projects/new/", project_views.ProjectCreateView.as_view(), name="project_new"),
    path(
        "projects/<slug:code>/settings/",
        project_views.ProjectSettingsView.as_view(),
        name="project_settings",
    ),
    path(
        "projects/<slug:code>/settings/<str:op>/",
        project_views.ProjectArchiveView.as_view(),
        name="project_archive",
    ),
    path(
        "projects/<slug:code>/releases/new/",
        project_views.ReleaseCreateView.as_view(),
        name="release_new",
    ),
    path("releases/<int:pk>/edit/", project_views.ReleaseEditView.as_view(), name="release_edit"),
    path(
        "work/<str:ref>/dev-links/",
        project_views.WorkItemDevLinkAddView.as_view(),
        name="work_dev_link_add",
    ),
    path(
        "work/<str:ref>/dev-links/<int:link_id>/remove/",
        project_views.WorkItemDevLinkRemoveView.as_view(),
        name="work_dev_link_remove",
    ),
    path("projects/<slug:code>/", board_views.BoardView.as_view(), name="board"),
    path("projects/<slug:code>/board/wip/", board_views.BoardWipView.as_view(), name="board_wip"),
    path("work/<str:ref>/move/", board_views.BoardMoveView.as_view(), name="work_move"),
    path("my-work/", my_work.MyWorkView.as_view(), name="my_work"),
    path("projects/<slug:code>/backlog/", views.BacklogView.as_view(), name="backlog"),
    path(
        "projects/<slug:code>/iterations/",
        iteration_views.IterationListView.as_view(),
        name="iterations",
    ),
    path("iterations/<int:pk>/", iteration_views.IterationDetailView.as_view(), name="iteration"),
    path(
        "iterations/<int:pk>/<str:op>/",
        iteration_views.IterationActionView.as_view(),
        name="iteration_action",
    ),
    path("work/new/", work_views.WorkItemCreateView.as_view(), name="work_new"),
    path("work/<str:ref>/", work_views.WorkItemDetailView.as_view(), name="work_detail"),
    path("work/<str:ref>/edit/", work_views.WorkItemEditView.as_view(), name="work_edit"),
    path("work/<str:ref>/subtasks/", work_views.WorkItemSubtaskView.as_view(), name="work_subtask"),
    path(
        "work/<str:ref>/item-links/<str:op>/",
        work_views.WorkItemItemLinkView.as_view(),
        name="work_item_link",
    ),
    path(
        "projects/<slug:code>/components/",
        component_views.ComponentListView.as_view(),
        name="components",
    ),
    path(
        "projects/<slug:code>/components/<int:pk>/<str:op>/",
        component_views.ComponentActionView.as_view(),
        name="component_action",
    ),
    path("work/<str:ref>/plan/", iteration_views.WorkItemPlanView.as_view(), name="work_plan"),
    path("work/<str:ref>/links/", work_views.WorkItemLinkView.as_view(), name="work_link"),
    path(
        "work/<str:ref>/comments/",
        comment_views.WorkItemCommentView.as_view(),
        name="workitem_comment",
    ),
    path(
        "work/<str:ref>/transitions/<str:name>/",
        work_views.WorkItemTransitionView.as_view(),
        name="work_transition",
    ),
    path("releases/<int:pk>/", views.ReleaseDetailView.as_view(), name="release"),
    path("releases/<int:pk>/<str:op>/", views.ReleaseActionView.as_view(), name="release_action"),
    path("time/", views.TimeLogView.as_view(), name="time_log"),
    path(
        "changes/<str:ref>/emergency-decision/",
        views.EmergencyDecisionView.as_view(),
        name="emergency_decision",
    ),
    path(
        "emergency-decisions/<int:pk>/<str:op>/",
        views.EmergencyDecisionAnswerView.as_view(),
        name="emergency_decision_answer",
    ),
    path("teams/<int:team_id>/capacity/", views.CapacityView.as_view(), name="capacity"),
    path("release-notes/", views.ReleaseNotesView.as_view(), name="release_notes"),
    path(
        "incidents/<str:ref>/development/",
        views.IncidentToDevelopmentView.as_view(),
        name="incident_development",
    ),
]
