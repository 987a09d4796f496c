from django.contrib import admin

from knowledge.models import Article, Tag

admin.site.register(Tag)


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    """Read-only: articles are written and versioned in the knowledge pages."""

    list_display = ["key", "title", "audience", "status", "needs_review", "owner"]
    list_filter = ["audience", "status", "needs_review"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
