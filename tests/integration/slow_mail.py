"""An e-mail backend for tests/integration/test_issue10_broker_outage.py: writes files like
Django's file-based backend, slowly (a second a message, fifteen when the subject says
"(long)"), so that deliveries are running when Redis goes away and after it comes back."""

import time

from django.core.mail.backends import filebased


class EmailBackend(filebased.EmailBackend):
    def send_messages(self, messages):  # type: ignore[no-untyped-def]
        time.sleep(15.0 if any("(long)" in m.subject for m in messages) else 1.0)
        return super().send_messages(messages)
