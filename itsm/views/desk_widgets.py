"""The desk filter form's widgets written by Python rather than by Django's widget templates.

Every option of a ``<select>`` (a team, a service) and every checkbox (a state, a priority)
is two template includes in Django's renderer: a hundred-odd per desk page, more than the
queue's rows cost. Django still computes each widget's context (attributes, options, which
are selected); only the templates below are replaced, writing the same HTML byte for byte
(``tests/itsm/test_issue13_queue_rows.py`` compares them with Django's). Any other widget
template goes to Django's renderer as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.forms.renderers import DjangoTemplates
from django.utils.html import conditional_escape as esc
from django.utils.safestring import SafeData, SafeString

W = "django/forms/widgets/"


def _s(value: Any) -> str:
    """``{{ value|stringformat:'s' }}``: kept as it is when it was safe already."""
    text = "%s" % (str(value) if isinstance(value, tuple) else value)  # noqa: UP031
    return text if isinstance(value, SafeData) else str(esc(text))


def _attrs(attrs: dict[str, Any]) -> str:
    """``attrs.html``"""
    return "".join(
        f" {esc(name)}" if value is True else f' {esc(name)}="{_s(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


def _option(w: dict[str, Any]) -> str:
    """``select_option.html``"""
    return f'<option value="{_s(w["value"])}"{_attrs(w["attrs"])}>{esc(w["label"])}</option>\n'


def _select(w: dict[str, Any]) -> str:
    """``select.html``"""
    out = [f'<select name="{esc(w["name"])}"{_attrs(w["attrs"])}>']
    for group_name, options, _ in w["optgroups"]:
        if group_name:
            out.append(f'\n  <optgroup label="{esc(group_name)}">')
        out += [f"\n  {_render(o['template_name'], o)}" for o in options]
        if group_name:
            out.append("\n  </optgroup>")
    out.append("\n</select>\n")
    return "".join(out)


def _input(w: dict[str, Any]) -> str:
    """``input.html``"""
    value = "" if w["value"] is None else f' value="{_s(w["value"])}"'
    return f'<input type="{esc(w["type"])}" name="{esc(w["name"])}"{value}{_attrs(w["attrs"])}>\n'


def _input_option(w: dict[str, Any]) -> str:
    """``input_option.html`` (``checkbox_option.html`` and ``radio_option.html`` add a line
    end)."""
    if not w["wrap_label"]:
        return _input(w) + "\n"
    ident = w["attrs"].get("id")
    label_for = f' for="{esc(ident)}"' if ident else ""
    return f"<label{label_for}>{_input(w)} {esc(w['label'])}</label>\n"


def _multiple(w: dict[str, Any]) -> str:
    """``multiple_input.html`` (``checkbox_select.html`` adds a line end)."""
    ident, cls = w["attrs"].get("id"), w["attrs"].get("class")
    out = ["<div", f' id="{esc(ident)}"' if ident else "", f' class="{esc(cls)}"' if cls else ""]
    out.append(">")
    for group, options, _ in w["optgroups"]:
        if group:
            out.append(f"\n  <div><label>{esc(group)}</label>")
        out += [f"<div>\n    {_render(o['template_name'], o)}</div>" for o in options]
        if group:
            out.append("\n  </div>")
    out.append("\n</div>\n")
    return "".join(out)


_WRITERS: dict[str, Callable[[dict[str, Any]], str]] = {
    f"{W}select.html": _select,
    f"{W}select_option.html": _option,
    f"{W}checkbox_select.html": lambda w: _multiple(w) + "\n",
    f"{W}radio.html": lambda w: _multiple(w) + "\n",
    f"{W}multiple_input.html": _multiple,
    f"{W}checkbox_option.html": lambda w: _input_option(w) + "\n",
    f"{W}radio_option.html": lambda w: _input_option(w) + "\n",
    f"{W}input_option.html": _input_option,
}


def _render(template_name: str, widget: dict[str, Any]) -> str:
    writer = _WRITERS.get(template_name)
    if writer is None:  # a template this module does not write: Django's, as before
        template = DESK_WIDGETS.get_template(template_name)
        return str(template.render({"widget": widget}))
    return writer(widget)


class DeskWidgets(DjangoTemplates):
    """A form renderer: the widgets above in Python, any other template as Django's."""

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        writer = _WRITERS.get(template_name)
        if writer is None:
            return super().render(template_name, context, request)
        return SafeString(writer(context["widget"]).strip())  # as Django's renderer does


DESK_WIDGETS = DeskWidgets()
