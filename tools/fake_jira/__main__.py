"""Run the fake Jira Cloud for a demo:

    python -m tools.fake_jira --port 8089 \\
        --webhook-url http://127.0.0.1:8000/api/v1/connectors/1/webhook/ \\
        --webhook-secret s3cret --account bot@example.com:token:"Tandem bot"

Then point a connector at ``http://127.0.0.1:8089`` (allow private receivers) with that
account's e-mail and token. Edit issues with any HTTP client, e.g.
``curl -u bot@example.com:token -X PUT -H 'Content-Type: application/json'
-d '{"fields": {"summary": "New"}}' http://127.0.0.1:8089/rest/api/3/issue/PAY-1``.
"""

from __future__ import annotations

import argparse
import time

from tools.fake_jira.server import FakeJira


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.fake_jira", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--webhook-url", default="")
    parser.add_argument("--webhook-secret", default="")
    parser.add_argument("--project", action="append", default=[], help="a project key (PAY)")
    parser.add_argument(
        "--account",
        action="append",
        default=[],
        help="email:token[:display name] of an account allowed in (repeatable)",
    )
    args = parser.parse_args()
    jira = FakeJira(
        projects=tuple(args.project or ["PAY"]),
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        host=args.host,
        port=args.port,
    )
    for spec in args.account or ["bot@example.com:token:Tandem bot"]:
        email, token, *name = spec.split(":", 2)
        jira.account(email, token, name[0] if name else email)
    with jira.running():
        print(f"Fake Jira Cloud on {jira.url} (projects: {', '.join(jira.projects)})", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
