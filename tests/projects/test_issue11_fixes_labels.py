"""Issue 11 review fix: at most 20 labels on a work item, in the service and in the API
(a PATCH with 3000 labels created them all)."""

from __future__ import annotations

import pytest

from core.exceptions import ValidationFailed
from projects import services as ps
from projects.models import Label
from tests.conftest import api_as


def test_the_service_caps_labels_per_item(org, project) -> None:  # type: ignore[no-untyped-def]
    item = ps.work_item_create(actor=org.developer, kind="defect", project=project, title="x")
    with pytest.raises(ValidationFailed) as err:
        ps.work_item_update(
            item=item, actor=org.developer, labels=[f"l{n}" for n in range(Label.MAX_PER_ITEM + 1)]
        )
    assert err.value.errors.keys() == {"labels"} and "at most 20" in err.value.message
    assert not Label.objects.exists()
    with pytest.raises(ValidationFailed):
        ps.work_item_create(
            actor=org.developer,
            kind="defect",
            project=project,
            title="y",
            labels=[f"l{n}" for n in range(3000)],
        )
    item = ps.work_item_update(
        item=item, actor=org.developer, labels=[f"l{n}" for n in range(Label.MAX_PER_ITEM)]
    )
    assert item.labels.count() == Label.MAX_PER_ITEM


def test_the_api_refuses_more_than_20_labels_naming_the_field(org, project) -> None:  # type: ignore[no-untyped-def]
    item = ps.work_item_create(actor=org.developer, kind="defect", project=project, title="x")
    api = api_as(org.developer)
    res = api.patch(
        f"/api/v1/defects/{item.pk}/",
        {"labels": [f"l{n}" for n in range(3000)]},
        format="json",
    )
    assert res.status_code == 400, res.content
    assert "labels" in str(res.json()) and "20" in str(res.json())
    assert not Label.objects.exists()
