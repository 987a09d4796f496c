// Behaviour the templates used to carry inline (on*= attributes, hx-on, a <script> and a
// javascript: URL), here so the Content-Security-Policy can forbid inline script and eval
// (issue 14). Everything is delegated from the document, so content HTMX swaps in later
// works without being set up again.
(function () {
  "use strict";

  // <form data-action-template="/problems/{problem}/incidents/link/">: the form posts to
  // the URL built from its field (trimmed, URL-encoded) when submitted. Capture phase:
  // before any other submit listener reads the form's action.
  // <form data-confirm="Delete this?">: asks first; a "no" submits nothing.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      e.preventDefault();
      e.stopImmediatePropagation();
      return;
    }
    var template = form.dataset.actionTemplate;
    if (template) {
      form.action = template.replace(/\{(\w+)\}/g, function (_, name) {
        var field = form.elements.namedItem(name);
        return encodeURIComponent(field && "value" in field ? field.value.trim() : "");
      });
    }
  }, true);

  // <input data-autosubmit>: a change submits its form (the list filters' status ticks).
  document.addEventListener("change", function (e) {
    var el = e.target;
    if (el instanceof Element && el.hasAttribute("data-autosubmit") && el.form) el.form.submit();
  });

  // <a data-history-back href="/">: back where the user came from; the link's own
  // address when there is no page to go back to.
  document.addEventListener("click", function (e) {
    var link = e.target instanceof Element ? e.target.closest("a[data-history-back]") : null;
    if (link && window.history.length > 1) {
      e.preventDefault();
      window.history.back();
    }
  });

  // data-swap-errors="400 403 404 409" (or "4xx") on a region or a form: HTMX leaves error
  // answers unswapped; a refused form's answer carries the form with its message, so it
  // is swapped in like a success. data-swap-errors-from="#edit-form": only for answers to
  // requests that element made.
  function swapsError(holder, status, elt) {
    if (!holder) return false;
    var from = holder.getAttribute("data-swap-errors-from");
    if (from && !(elt && elt.matches && elt.matches(from))) return false;
    var codes = holder.getAttribute("data-swap-errors").split(/\s+/);
    return codes.indexOf(String(status)) !== -1 ||
      (codes.indexOf("4xx") !== -1 && status >= 400 && status < 500);
  }
  document.addEventListener("htmx:beforeSwap", function (e) {
    var status = e.detail.xhr.status;
    if (status < 400) return;
    var config = e.detail.requestConfig;
    var elt = config && config.elt;
    var target = e.target instanceof Element ? e.target : null;
    var holders = [
      target && target.closest("[data-swap-errors]"),
      elt && elt.closest && elt.closest("[data-swap-errors]"),
    ];
    for (var i = 0; i < holders.length; i++) {
      if (swapsError(holders[i], status, elt)) {
        e.detail.shouldSwap = true;
        e.detail.isError = false;
        return;
      }
    }
  });

  // The work item's labels: autocomplete the name typed after the last comma from the
  // project's labels (<datalist id="known-labels">).
  function labelsInput(el) {
    return el instanceof HTMLInputElement && el.id === "edit-labels" &&
      document.getElementById("known-labels");
  }
  document.addEventListener("focusin", function (e) {
    var list = labelsInput(e.target);
    if (!list) return;
    if (!list.dataset.known) {
      list.dataset.known = JSON.stringify(
        Array.prototype.map.call(list.options, function (o) { return o.value; })
      );
    }
    e.target.setAttribute("list", "known-labels");
    e.target.setAttribute("autocomplete", "off");
  });
  document.addEventListener("input", function (e) {
    var list = labelsInput(e.target);
    if (!list || !list.dataset.known) return;
    var knownLabels = JSON.parse(list.dataset.known);
    var parts = e.target.value.split(",");
    var head = parts.slice(0, -1).map(function (p) { return p.trim(); }).filter(Boolean);
    var typed = parts[parts.length - 1].trim().toLowerCase();
    var prefix = head.length ? head.join(", ") + ", " : "";
    list.innerHTML = "";
    knownLabels.filter(function (n) { return n.indexOf(typed) === 0 && head.indexOf(n) < 0; })
      .slice(0, 20).forEach(function (n) {
        var o = document.createElement("option");
        o.value = prefix + n;
        list.appendChild(o);
      });
  });

  // <a data-back href="/">: back to the page before (the error pages), or its href when
  // there is none (a page opened from outside).
  document.addEventListener("click", function (e) {
    var link = e.target instanceof Element ? e.target.closest("a[data-back]") : null;
    if (link && window.history.length > 1) {
      e.preventDefault();
      window.history.back();
    }
  });
})();
