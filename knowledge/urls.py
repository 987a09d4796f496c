from django.urls import path

from knowledge import views

app_name = "knowledge"
urlpatterns = [
    path("", views.ArticleListView.as_view(), name="list"),
    path("new/", views.ArticleEditView.as_view(), name="new"),
    path("suggest/", views.SuggestView.as_view(), name="suggest"),
    path("preview/", views.PreviewView.as_view(), name="preview"),
    path("review/", views.ReviewView.as_view(), name="review"),
    path("releases/", views.ReleaseNotesView.as_view(), name="releases"),
    path("<str:ref>/", views.ArticleDetailView.as_view(), name="detail"),
    path("<str:ref>/edit/", views.ArticleEditView.as_view(), name="edit"),
    path("<str:ref>/history/", views.HistoryView.as_view(), name="history"),
    path("<str:ref>/restore/<int:number>/", views.RestoreView.as_view(), name="restore"),
    path("<str:ref>/solved/", views.SolvedView.as_view(), name="solved"),
    path("<str:ref>/reviewed/", views.MarkReviewedView.as_view(), name="reviewed"),
    path(
        "<str:ref>/transitions/<str:name>/",
        views.ArticleTransitionView.as_view(),
        name="transition",
    ),
]
