"""Queryset pieces every app's lists share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

from django.db import models
from django.db.models import Prefetch, prefetch_related_objects
from django.db.models.query import ModelIterable


def sparse_fetch(objs: Sequence[models.Model], names: Sequence[str]) -> None:
    """Fetch the forward relations ``names`` of the ``objs`` that have one, in one query
    each; the others hold None and ask nothing. ``prefetch_related`` builds and compiles
    a query even when no row has the relation (a thousand Python calls, issue 13)."""
    if not objs:
        return
    meta = objs[0]._meta
    for name in names:
        field = meta.get_field(name)
        have = [o for o in objs if getattr(o, field.attname) is not None]
        if have:
            related = field.related_model._default_manager.order_by()  # by key: no order
            prefetch_related_objects(have, Prefetch(name, queryset=related))


class SparsePrefetchQuerySet(models.QuerySet):  # type: ignore[type-arg]
    """A queryset whose forward relations named with ``prefetch_sparse`` are fetched after
    its rows, for the rows that have one (``sparse_fetch``): for links that most rows
    lack (an incident's problem, its causing change, its master)."""

    _sparse: tuple[str, ...] = ()

    def prefetch_sparse(self, *names: str) -> Self:
        clone = self._chain()
        clone._sparse = (*self._sparse, *names)
        return clone

    def _clone(self) -> Self:
        clone = super()._clone()
        clone._sparse = self._sparse
        return clone

    def _fetch_all(self) -> None:
        fresh = self._result_cache is None
        super()._fetch_all()
        if fresh and self._sparse and issubclass(self._iterable_class, ModelIterable):
            sparse_fetch(self._result_cache, self._sparse)  # type: ignore[arg-type]
