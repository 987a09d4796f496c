"""Audit rows for administrators' changes to configuration (issue 14): SLA policies,
business calendars and their holidays, roles (a user's groups, per-service role holders),
the request catalogue, teams and services.

Configuration has no lifecycle service of its own: it is edited in the Django admin and,
for some of it, through the API's plain create / update / delete. Both write paths go
through here, so each change is one ``core.services.audit_record`` row on the record —
who, the fields' old and new values, inline rows added, changed or removed — written in
the same transaction as the change (the admin's change and delete views and the API's
``ConfigurationAuditViewSet`` run in one ``transaction.atomic``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models.manager import BaseManager
from django.http import HttpRequest

from core.services import audit_record

# Never written to an audit row, whatever form carries them.
SECRET_FIELDS = ("password", "password1", "password2", "usable_password", "last_login")


def _plain(field: forms.Field | None, value: Any) -> Any:
    """A form value as the audit row shows it: a related row by its name, several sorted."""
    if isinstance(field, forms.ModelMultipleChoiceField):
        rows = list(value or [])
        if rows and not isinstance(rows[0], models.Model):
            rows = list(field.queryset.filter(pk__in=rows))
        return sorted(str(r) for r in rows)
    if isinstance(field, forms.ModelChoiceField) and value not in (None, ""):
        if not isinstance(value, models.Model):
            try:
                value = field.to_python(value)
            except ValidationError:
                return str(value)
        return str(value)
    return value


def form_changes(form: forms.BaseForm) -> dict[str, tuple[Any, Any]]:
    """The changed fields of a bound, valid form as ``{field: (old, new)}``."""
    changes: dict[str, tuple[Any, Any]] = {}
    for name in form.changed_data:
        if name in SECRET_FIELDS or "password" in name or name == "DELETE":
            continue
        field = form.fields.get(name)
        old = _plain(field, form.initial.get(name, field.initial if field else None))
        new = _plain(field, form.cleaned_data.get(name))
        if old != new:
            changes[name] = (old, new)
    return changes


def formset_changes(formset: Any) -> dict[str, tuple[Any, Any]]:
    """An admin inline's rows added, changed and removed, after it was saved: keyed by
    the row ("holiday Christmas Day"), the old and new values of its changed fields."""
    changes: dict[str, tuple[Any, Any]] = {}
    kind = formset.model._meta.verbose_name
    fk_name = getattr(getattr(formset, "fk", None), "name", None)
    initial_count = formset.initial_form_count()
    for index, form in enumerate(formset.forms):
        if not form.has_changed():
            continue
        key = f"{kind} {form.instance}"
        if formset.can_delete and formset._should_delete_form(form):
            if index < initial_count:
                changes[key] = (str(form.instance), None)
            continue
        fields = {k: v for k, v in form_changes(form).items() if k not in ("id", fk_name)}
        if index >= initial_count:
            changes[key] = (None, {k: new for k, (_, new) in fields.items()})
        elif fields:
            changes[key] = (
                {k: old for k, (old, _) in fields.items()},
                {k: new for k, (_, new) in fields.items()},
            )
    return changes


def _label(obj: models.Model) -> str:
    return f"{obj._meta.verbose_name} “{obj}”"


def _retirable(model: type[models.Model]) -> bool:
    """Configuration retired rather than deleted (a team, a service, a calendar…): it has
    ``is_active``. People are not among them (an inactive user is another matter)."""
    from django.contrib.auth import get_user_model

    if model is get_user_model():
        return False
    return any(f.name == "is_active" for f in model._meta.concrete_fields)


class ConfigurationAuditAdmin(admin.ModelAdmin):
    """A ModelAdmin whose add, change and delete each write one audit row on the record:
    ``config_created`` / ``config_changed`` (the form's and its inlines' changes) /
    ``config_deleted``, by the administrator who did it. A save that changed nothing
    writes nothing.

    Its choices of retirable configuration (a team, a service, a business calendar) are
    the active ones, plus the one the record names now (``core.retire``: a retired one
    takes no new assignment)."""

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        request._config_admin_obj = obj  # type: ignore[attr-defined]
        return super().get_form(request, obj, **kwargs)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if _retirable(db_field.related_model) and "queryset" not in kwargs:
            from core.retire import active_or_current

            obj = getattr(request, "_config_admin_obj", None)
            current = getattr(obj, db_field.attname, None) if obj is not None else None
            kwargs["queryset"] = active_or_current(
                db_field.related_model._default_manager.all(), current
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # Read the old values before the form's instance is saved over them; the row is
        # written in save_related, once the inlines and many-to-many fields are saved too.
        request._config_audit_changes = form_changes(form)  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        changes: dict[str, tuple[Any, Any]] = getattr(request, "_config_audit_changes", {})
        for formset in formsets:
            changes.update(formset_changes(formset))
        obj = form.instance
        if change and not changes:
            return
        if change:
            audit_record(
                target=obj,
                actor=request.user,
                action="config_changed",
                changes=changes,
                comment=f"{request.user} changed {_label(obj)} ({', '.join(changes)}).",
            )
        else:
            audit_record(
                target=obj,
                actor=request.user,
                action="config_created",
                changes=changes,
                comment=f"{request.user} added {_label(obj)}.",
            )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic():
            _audit_deleted(obj, request.user)
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        with transaction.atomic():
            for obj in queryset:
                _audit_deleted(obj, request.user)
            super().delete_queryset(request, queryset)


def _audit_deleted(obj: models.Model, actor: Any) -> None:
    """Written before the delete, in its transaction: a delete refused (a protected
    reference) rolls the row back with it."""
    audit_record(
        target=obj,
        actor=actor,
        action="config_deleted",
        changes={"record": (str(obj), None)},
        comment=f"{actor} deleted {_label(obj)}.",
    )


def _snapshot(instance: models.Model, names: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in names:
        value = getattr(instance, name, None)
        if isinstance(value, BaseManager):  # nested rows (a calendar's holidays)
            value = sorted(str(row) for row in value.all())
        elif isinstance(value, models.Model):
            value = str(value)
        values[name] = value
    return values


class ConfigurationAuditViewSet:
    """For a DRF ModelViewSet of configuration: create, update and delete each run in one
    transaction with one audit row, as the admin's (``ConfigurationAuditAdmin``)."""

    request: Any

    def perform_create(self, serializer: Any) -> None:
        with transaction.atomic():
            super().perform_create(serializer)  # type: ignore[misc]
            obj = serializer.instance
            values = _snapshot(obj, serializer.validated_data)
            audit_record(
                target=obj,
                actor=self.request.user,
                action="config_created",
                changes={k: (None, v) for k, v in values.items()},
                comment=f"{self.request.user} added {_label(obj)}.",
            )

    def perform_update(self, serializer: Any) -> None:
        with transaction.atomic():
            names = list(serializer.validated_data)
            before = _snapshot(serializer.instance, names)
            super().perform_update(serializer)  # type: ignore[misc]
            obj = serializer.instance
            after = _snapshot(obj, names)
            changes = {k: (before[k], after[k]) for k in names if before[k] != after[k]}
            if changes:
                audit_record(
                    target=obj,
                    actor=self.request.user,
                    action="config_changed",
                    changes=changes,
                    comment=f"{self.request.user} changed {_label(obj)} ({', '.join(changes)}).",
                )

    def perform_destroy(self, instance: Any) -> None:
        with transaction.atomic():
            _audit_deleted(instance, self.request.user)
            super().perform_destroy(instance)  # type: ignore[misc]


class RetireActionsAdmin(ConfigurationAuditAdmin):
    """*Retire* and *Reactivate* for configuration that records keep naming (a team, a
    service, an SLA policy, a calendar): the way out a refused delete offers
    (``core.retire.config_set_active``, audited)."""

    actions = ["retire", "reactivate"]

    def _set_active(self, request: HttpRequest, queryset: Any, active: bool) -> None:
        from django.contrib import messages

        from core.retire import config_set_active

        done = sum(
            config_set_active(obj=obj, actor=request.user, active=active) for obj in queryset
        )
        word = "reactivated" if active else "retired"
        self.message_user(request, f"{done} {word}.", messages.SUCCESS)

    @admin.action(description="Retire the selected (kept for what names them, offered no more)")
    def retire(self, request: HttpRequest, queryset: Any) -> None:
        self._set_active(request, queryset, False)

    @admin.action(description="Reactivate the selected")
    def reactivate(self, request: HttpRequest, queryset: Any) -> None:
        self._set_active(request, queryset, True)
