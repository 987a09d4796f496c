from celery import shared_task

from knowledge.services import articles_flag_overdue


@shared_task(name="knowledge.tasks.articles_flag_overdue")
def flag_overdue() -> int:
    return articles_flag_overdue()
