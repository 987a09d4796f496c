from django.urls import path

from itsm import views
from itsm.views import canned as canned_views
from itsm.views import satisfaction
from itsm.views.bulk import BulkCreateView, BulkJobView
from itsm.views.incident_links import IncidentLinksView

app_name = "itsm"
urlpatterns = [
    path("portal/", views.PortalView.as_view(), name="portal"),
    path("desk/", views.DeskView.as_view(), name="desk"),
    path("desk/bulk/", BulkCreateView.as_view(), name="bulk_create"),
    path("desk/bulk/<int:pk>/", BulkJobView.as_view(), name="bulk_job"),
    path("desk/views/<int:pk>/", views.SavedViewChangeView.as_view(), name="saved_view"),
    path("desk/canned/", canned_views.CannedListView.as_view(), name="canned"),
    path("desk/canned/new/", canned_views.CannedCreateView.as_view(), name="canned_new"),
    path("desk/canned/<str:pk>/edit/", canned_views.CannedEditView.as_view(), name="canned_edit"),
    path(
        "desk/canned/<str:pk>/delete/",
        canned_views.CannedDeleteView.as_view(),
        name="canned_delete",
    ),
    path("incidents/new/", views.IncidentCreateView.as_view(), name="incident_new"),
    path("incidents/<str:ref>/", views.IncidentDetailView.as_view(), name="incident_detail"),
    path("incidents/<str:ref>/edit/", views.IncidentEditView.as_view(), name="incident_edit"),
    path("incidents/<str:ref>/take/", views.IncidentTakeView.as_view(), name="incident_take"),
    path(
        "incidents/<str:ref>/comments/",
        views.IncidentCommentView.as_view(),
        name="incident_comment",
    ),
    path(
        "incidents/<str:ref>/transitions/<str:name>/",
        views.IncidentTransitionView.as_view(),
        name="incident_transition",
    ),
    path(
        "incidents/<str:ref>/satisfaction/",
        satisfaction.SatisfactionAnswerView.as_view(),
        {"kind": "incident"},
        name="incident_satisfaction",
    ),
    path(
        "satisfaction/<str:token>/",
        satisfaction.SatisfactionLinkView.as_view(),
        name="satisfaction_link",
    ),
    path(
        "reports/satisfaction/",
        satisfaction.SatisfactionReportPage.as_view(),
        name="satisfaction_report",
    ),
    path(
        "incidents/<str:ref>/links/<str:op>/",
        IncidentLinksView.as_view(),
        name="incident_links",
    ),
    path("catalogue/", views.CatalogueView.as_view(), name="catalogue"),
    path("catalogue/<int:pk>/", views.OrderView.as_view(), name="order"),
    path("requests/", views.RequestListView.as_view(), name="requests"),
    path("requests/<str:ref>/", views.RequestDetailView.as_view(), name="request_detail"),
    path(
        "requests/<str:ref>/comments/", views.RequestCommentView.as_view(), name="request_comment"
    ),
    path(
        "requests/<str:ref>/satisfaction/",
        satisfaction.SatisfactionAnswerView.as_view(),
        {"kind": "request"},
        name="request_satisfaction",
    ),
    path(
        "requests/<str:ref>/transitions/<str:name>/",
        views.RequestTransitionView.as_view(),
        name="request_transition",
    ),
    path(
        "requests/<str:ref>/tasks/<int:task_id>/<str:name>/",
        views.TaskTransitionView.as_view(),
        name="task_transition",
    ),
    path("approvals/", views.ApprovalsView.as_view(), name="approvals"),
    path("changes/", views.ChangeListView.as_view(), name="changes"),
    path("changes/new/", views.ChangeCreateView.as_view(), name="change_new"),
    path("changes/calendar/", views.ChangeCalendarView.as_view(), name="change_calendar"),
    path("changes/cab/", views.CabBoardView.as_view(), name="cab"),
    path("changes/<str:ref>/", views.ChangeDetailView.as_view(), name="change_detail"),
    path("changes/<str:ref>/caused/", views.ChangeCausedView.as_view(), name="change_caused"),
    path("changes/<str:ref>/comments/", views.ChangeCommentView.as_view(), name="change_comment"),
    path(
        "changes/<str:ref>/transitions/<str:name>/",
        views.ChangeTransitionView.as_view(),
        name="change_transition",
    ),
    path("problems/", views.ProblemListView.as_view(), name="problems"),
    path("problems/candidates/", views.ProblemCandidatesView.as_view(), name="problem_candidates"),
    path("problems/new/", views.ProblemCreateView.as_view(), name="problem_new"),
    path("problems/<str:ref>/", views.ProblemDetailView.as_view(), name="problem_detail"),
    path("problems/<str:ref>/edit/", views.ProblemEditView.as_view(), name="problem_edit"),
    path(
        "problems/<str:ref>/comments/", views.ProblemCommentView.as_view(), name="problem_comment"
    ),
    path(
        "problems/<str:ref>/incidents/<str:op>/",
        views.ProblemIncidentsView.as_view(),
        name="problem_incidents",
    ),
    path(
        "problems/<str:ref>/transitions/<str:name>/",
        views.ProblemTransitionView.as_view(),
        name="problem_transition",
    ),
]
