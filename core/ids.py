"""Ids and numbers typed by people: query strings, posted forms, keys like ``INC-12``.

One rule for all of them, so no filter or form has its own: decimal ASCII digits naming a
number from 1 to 2**63 - 1 (the database's bigint). Anything else is "no such record" to
the caller (an empty list, a 404 or a 400 with a message), never an ``OverflowError``
from the database driver (a 500).
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError

MAX_ID = 2**63 - 1


def parse_id(value: object) -> int | None:
    """``value`` as a record id or number, or None when it cannot name one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value <= MAX_ID else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    # len() first: int() of a 100 000-digit string is itself slow (and refused by Python)
    if not text or len(text) > 19 or not (text.isascii() and text.isdecimal()):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def parse_key_number(value: str, prefix: str) -> int | None:
    """The number of a key like ``INC-12`` (``prefix`` is ``INC``), or of a bare ``12``."""
    text = value.strip().upper()
    return parse_id(text.removeprefix(f"{prefix.upper()}-"))


class IdsField(forms.ModelMultipleChoiceField):
    """``ModelMultipleChoiceField`` that refuses a value ``parse_id`` does not read (a
    400) before it reaches the database (a number past bigint was a driver error)."""

    def _check_values(self, value: Any) -> Any:
        for pk in value:
            if parse_id(pk) is None:
                raise ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": pk},
                )
        return super()._check_values(value)


class IdsFilter(django_filters.ModelMultipleChoiceFilter):
    """A filter on records by id (``?services=3&services=4``) through ``IdsField``."""

    field_class = IdsField
