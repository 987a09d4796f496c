// Canned replies in a reply box ({% canned_picker ticket "textarea-id" %}): the button or
// ";;" typed in the textarea (at its start or after a space, so "for(;;)" in a snippet is
// left alone) opens a filterable list of the user's replies, already filled in for this
// ticket by the server; Enter or a click inserts the chosen one at the cursor (replacing
// the ";;"), Escape closes. Listeners are on the document, so a reply box that HTMX swaps
// in keeps working.
(function () {
  "use strict";
  if (window.tandemCanned) return;
  window.tandemCanned = true;

  function items(picker) {
    var script = document.getElementById(picker.dataset.cannedData);
    try { return script ? JSON.parse(script.textContent) : []; } catch (e) { return []; }
  }
  function pickerFor(area) {
    if (!area || !area.id) return null;
    var all = document.querySelectorAll(".canned-picker[data-canned-for]");
    for (var i = 0; i < all.length; i++) {
      if (all[i].dataset.cannedFor === area.id) return all[i];
    }
    return null;
  }
  function parts(picker) {
    return {
      area: document.getElementById(picker.dataset.cannedFor),
      button: picker.querySelector("[data-canned-open]"),
      panel: picker.querySelector("[data-canned-panel]"),
      filter: picker.querySelector("[data-canned-filter]"),
      list: picker.querySelector("[data-canned-list]"),
      empty: picker.querySelector("[data-canned-empty]")
    };
  }

  function render(picker) {
    var p = parts(picker);
    var q = p.filter.value.trim().toLowerCase();
    var shown = items(picker).filter(function (it) {
      return !q || (it.title + "\n" + it.body).toLowerCase().indexOf(q) !== -1;
    });
    p.list.innerHTML = "";
    shown.forEach(function (it, i) {
      var li = document.createElement("li");
      li.setAttribute("role", "option");
      li.dataset.cannedId = it.id;
      var title = document.createElement("strong");
      title.textContent = it.title;
      var scope = document.createElement("span");
      scope.className = "muted small";
      scope.textContent = " · " + it.scope;
      var snippet = document.createElement("div");
      snippet.className = "muted small";
      snippet.textContent = it.body.length > 110 ? it.body.slice(0, 110) + "…" : it.body;
      li.appendChild(title);
      li.appendChild(scope);
      li.appendChild(snippet);
      li.addEventListener("mousedown", function (e) { e.preventDefault(); insert(picker, it); });
      p.list.appendChild(li);
    });
    picker.cannedShown = shown;
    picker.cannedActive = shown.length ? 0 : -1;
    p.list.hidden = !shown.length;
    p.empty.hidden = !!shown.length;
    mark(picker);
  }
  function mark(picker) {
    var p = parts(picker);
    Array.prototype.forEach.call(p.list.children, function (li, i) {
      var on = i === picker.cannedActive;
      li.classList.toggle("active", on);
      li.setAttribute("aria-selected", on ? "true" : "false");
      if (on && li.scrollIntoView) li.scrollIntoView({ block: "nearest" });
    });
  }

  function open(picker, trigger) {
    var p = parts(picker);
    if (!p.area) return;
    // Where to insert: the caret now (the textarea keeps it while the filter has focus),
    // and the ";;" that opened the picker, if one did.
    picker.cannedAt = { start: p.area.selectionStart, end: p.area.selectionEnd, trigger: trigger };
    p.filter.value = "";
    render(picker);
    p.panel.hidden = false;
    p.button.setAttribute("aria-expanded", "true");
    p.filter.focus({ preventScroll: true });
    if (p.panel.scrollIntoView) p.panel.scrollIntoView({ block: "nearest" });
  }
  function close(picker, refocus) {
    var p = parts(picker);
    p.panel.hidden = true;
    p.button.setAttribute("aria-expanded", "false");
    if (refocus && p.area) p.area.focus();
  }
  function insert(picker, item) {
    var p = parts(picker);
    var area = p.area;
    if (!area) return close(picker, false);
    var at = picker.cannedAt || { start: area.value.length, end: area.value.length };
    var start = at.start, end = at.end;
    if (at.trigger != null && area.value.slice(at.trigger, at.trigger + 2) === ";;") {
      // take the ";;" out, and insert where it was
      area.value = area.value.slice(0, at.trigger) + area.value.slice(at.trigger + 2);
      start = end = at.trigger;
    }
    area.value = area.value.slice(0, start) + item.body + area.value.slice(end);
    var caret = start + item.body.length;
    close(picker, true);
    area.setSelectionRange(caret, caret);
    area.dispatchEvent(new Event("input", { bubbles: true }));
  }

  document.addEventListener("input", function (e) {
    var area = e.target;
    if (!area || area.tagName !== "TEXTAREA") return;
    var picker = pickerFor(area);
    if (!picker || e.inputType !== "insertText" || e.data !== ";") return;
    var caret = area.selectionStart;
    var before = area.value.slice(0, caret);
    if (before.slice(-2) !== ";;") return;
    if (caret > 2 && !/\s/.test(before.charAt(caret - 3))) return;
    open(picker, caret - 2);
  });

  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-canned-open]");
    var pickers = document.querySelectorAll(".canned-picker");
    if (button) {
      var picker = button.closest(".canned-picker");
      if (parts(picker).panel.hidden) open(picker, null); else close(picker, true);
      return;
    }
    pickers.forEach(function (picker) {  // a click elsewhere closes an open picker
      if (!picker.contains(e.target) && !parts(picker).panel.hidden) close(picker, false);
    });
  });

  document.addEventListener("input", function (e) {
    if (e.target.matches && e.target.matches("[data-canned-filter]")) {
      render(e.target.closest(".canned-picker"));
    }
  });

  document.addEventListener("keydown", function (e) {
    if (!(e.target.matches && e.target.matches("[data-canned-filter]"))) return;
    var picker = e.target.closest(".canned-picker");
    var n = (picker.cannedShown || []).length;
    if (e.key === "ArrowDown" && n) {
      picker.cannedActive = (picker.cannedActive + 1) % n; mark(picker); e.preventDefault();
    } else if (e.key === "ArrowUp" && n) {
      picker.cannedActive = (picker.cannedActive - 1 + n) % n; mark(picker); e.preventDefault();
    } else if (e.key === "Enter") {
      e.preventDefault();  // never submit the reply form from the filter
      if (picker.cannedActive >= 0) insert(picker, picker.cannedShown[picker.cannedActive]);
    } else if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();  // keep page-wide Escape handlers (shortcut help) out of it
      close(picker, true);
    }
  });
})();
