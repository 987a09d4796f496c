"""Issue 10 review, #15 with the rest: the activity stream has words for every action the
apps audit. The phrases were written while other engineers added actions in parallel
(emergency decisions answered, items moved out, role holders named, a change implemented
outside its window...), which then read as raw names ("items moved out")."""

from __future__ import annotations

import re
from pathlib import Path

from core.templatetags.tandem import ACTION_WORDS, _transition_labels
from itsm.models import Change, Incident, Problem, ServiceRequest
from knowledge.models import Article
from projects.models import Iteration, Release, WorkItem

ROOT = Path(__file__).resolve().parents[2]
# record(target, actor, "action" …) and audit_record(…, action="action" …)
# (not an HTML attribute such as data-action="take" in markup written by Python)
AUDITED = re.compile(
    r'\brecord\(\s*[^,()]+,\s*[^,()]+,\s*f?"([a-z_]+)"|(?<![-\w])action="([a-z_]+)"'
)


def test_issue10_15_every_audited_action_has_words() -> None:
    """Issue 10 #15: each action named where the apps write an audit row reads in words
    (a phrase, or the label of the transition of that name)."""
    labels: set[str] = set()
    for model in (Incident, Problem, Change, ServiceRequest, WorkItem, Release, Article, Iteration):
        labels |= set(_transition_labels(model))
    actions: set[str] = set()
    for app in ("core", "sla", "itsm", "projects", "knowledge"):
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts or "management" in path.parts:
                continue
            for match in AUDITED.finditer(path.read_text()):
                actions.add(match.group(1) or match.group(2))
    assert len(actions) > 30  # the scan found the apps' audit rows
    assert sorted(a for a in actions if a not in ACTION_WORDS and a not in labels) == []
