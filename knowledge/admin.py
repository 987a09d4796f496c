from django.contrib import admin

from core.admin import ReadOnlyAdmin
from knowledge.models import Article, Tag

admin.site.register(Tag)


@admin.register(Article)
class ArticleAdmin(ReadOnlyAdmin):
    """Read-only: articles are written and versioned in the knowledge pages."""

    list_display = ["key", "title", "audience", "status", "needs_review", "owner"]
    list_filter = ["audience", "status", "needs_review"]

    deletable = True  # as it always was: an administrator may delete an article here
