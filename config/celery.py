"""The Celery application. Workers and beat load Django settings through it."""

import os
import warnings

from celery import Celery
from celery.exceptions import CPendingDeprecationWarning
from celery.signals import celeryd_after_setup

from core.broker import register as register_brokers

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
register_brokers()  # "tandemfs://" (the embedded default) and redis://, see core/broker.py

app = Celery("tandem")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@celeryd_after_setup.connect
def _quiet_cancel_on_connection_loss_warning(**_: object) -> None:
    """Settings choose worker_cancel_long_running_tasks_on_connection_loss explicitly (False:
    Tandem's tasks are idempotent and finish); Celery would still warn at every reconnect.
    Added after the worker's logging setup, which turns Celery's warnings to "always"."""
    warnings.filterwarnings(
        "ignore", message=r"\s*In Celery 5.1 we introduced", category=CPendingDeprecationWarning
    )


@app.on_after_configure.connect
def _ensure_broker_folders(sender: Celery, **_: object) -> None:
    """The filesystem transport expects its folders to exist."""
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            os.makedirs(options[key], exist_ok=True)
