"""An e-mail backend for tests/integration/test_issue10_broker_outage.py: writes files like
Django's file-based backend, slowly, so that deliveries are running when Redis goes away."""

import time

from django.core.mail.backends import filebased


class EmailBackend(filebased.EmailBackend):
    def send_messages(self, messages):  # type: ignore[no-untyped-def]
        time.sleep(1.0)
        return super().send_messages(messages)
