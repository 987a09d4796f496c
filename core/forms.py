"""Render a DRF input serializer as plain form fields, so a page's transition form and the
API validate the same body with the same rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rest_framework import serializers


@dataclass
class FieldSpec:
    name: str
    label: str
    kind: str  # text, textarea, choice, select, multiselect, date, datetime, number, bool
    required: bool
    choices: list[tuple[Any, str]] = field(default_factory=list)
    help_text: str = ""
    value: Any = ""


LONG_TEXT = {
    "comment",
    "reason",
    "resolution_notes",
    "root_cause",
    "workaround",
    "fix_description",
    "description",
    "body",
    "notes",
}


def field_specs(
    serializer: serializers.Serializer,
    querysets: dict[str, Any] | None = None,
    initial: dict[str, Any] | None = None,
) -> list[FieldSpec]:
    """Describe each field of ``serializer`` for a template. Related fields list the rows
    of ``querysets[name]`` (or their own queryset); ``initial`` pre-fills values."""
    specs = []
    for name, f in serializer.fields.items():
        label = str(f.label or name.replace("_", " ").capitalize())
        help_text = str(f.help_text or "")
        if isinstance(f, serializers.ManyRelatedField):  # PrimaryKeyRelatedField(many=True)
            qs = (querysets or {}).get(name, f.child_relation.get_queryset())
            specs.append(
                FieldSpec(
                    name, label, "multiselect", f.required, [(o.pk, str(o)) for o in qs], help_text
                )
            )
        elif isinstance(f, serializers.MultipleChoiceField):
            specs.append(
                FieldSpec(
                    name, label, "multiselect", f.required, list(f.choices.items()), help_text
                )
            )
        elif isinstance(f, serializers.PrimaryKeyRelatedField):
            qs = (querysets or {}).get(name, f.get_queryset())
            specs.append(
                FieldSpec(
                    name, label, "select", f.required, [(o.pk, str(o)) for o in qs], help_text
                )
            )
        elif isinstance(f, serializers.ChoiceField):
            specs.append(
                FieldSpec(name, label, "choice", f.required, list(f.choices.items()), help_text)
            )
        elif isinstance(f, serializers.BooleanField):
            specs.append(FieldSpec(name, label, "bool", False, help_text=help_text))
        elif isinstance(f, serializers.DateTimeField):
            specs.append(FieldSpec(name, label, "datetime", f.required, help_text=help_text))
        elif isinstance(f, serializers.DateField):
            specs.append(FieldSpec(name, label, "date", f.required, help_text=help_text))
        elif isinstance(f, (serializers.IntegerField, serializers.DecimalField)):
            specs.append(FieldSpec(name, label, "number", f.required, help_text=help_text))
        else:
            kind = "textarea" if name in LONG_TEXT else "text"
            specs.append(FieldSpec(name, label, kind, f.required, help_text=help_text))
    for spec in specs:
        value = (initial or {}).get(spec.name, "")
        if spec.kind == "multiselect":
            # Compared as text by the template, like the single choices.
            values = value if isinstance(value, list | tuple | set) else [value]
            spec.value = [str(getattr(v, "pk", v)) for v in values if v not in (None, "")]
            continue
        spec.value = getattr(value, "pk", value)
        if spec.value is None:
            spec.value = ""
    return specs


def is_many(field: serializers.Field) -> bool:
    """Does the field take several values (a list in JSON, repeated keys in a form)?"""
    return isinstance(
        field,
        serializers.ManyRelatedField | serializers.MultipleChoiceField | serializers.ListField,
    )


# what a form posts besides its fields: the CSRF token and the version of the record it was
# rendered from (core.concurrency.page_version_checked)
NOT_FIELDS = frozenset({"csrfmiddlewaretoken", "record_version", "record_seen"})


def form_data(post: Any, serializer: serializers.Serializer | None = None) -> dict[str, Any]:
    """A POST as a serializer body: empty fields left out, so defaults apply. The fields
    of ``serializer`` that take several values get every value posted (a ``<select
    multiple>`` repeats its name), not only the last."""
    data = {k: v for k, v in post.items() if k not in NOT_FIELDS and v != ""}
    for name, f in serializer.fields.items() if serializer is not None else ():
        if is_many(f) and name in post:
            raw = post.getlist(name) if hasattr(post, "getlist") else post[name]
            values = [v for v in (raw if isinstance(raw, list) else [raw]) if v != ""]
            if values:
                data[name] = values
            else:
                data.pop(name, None)
    return data
