// Keyboard shortcuts for agents (issue 12). "?" lists them. In a queue, j/k move a visible
// selection between rows (tr[data-key]), x ticks its checkbox for a bulk action and Enter
// opens the selected ticket; "a" assigns
// to me (the selected row's button in a queue, the ticket's own on its page); "r" and "i"
// put the cursor in the reply box set to public or internal; "e" opens the edit form; "/"
// goes to the search. Keys typed into a field are the field's, never a shortcut.
(function () {
  "use strict";
  if (window.tandemKeys) return; // an HTMX swap may load this again
  window.tandemKeys = true;

  var SELECTED = "kbd-selected";
  // Kept by key, so a queue refreshed in place (or reloaded after "a") keeps its selection.
  var STORE = "tandem.keys.selected:" + location.pathname;
  var selectedKey = null;
  try { selectedKey = sessionStorage.getItem(STORE) || null; } catch (e) { /* private mode */ }

  function typing(el) {
    if (!el || el === document.body) return false;
    var tag = el.tagName;
    if (tag === "INPUT") return !/^(checkbox|radio|button|submit|reset)$/.test(el.type);
    return tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }
  function visible(el) {
    return !!(el && el.getClientRects().length);
  }
  function overlay() { return document.getElementById("shortcuts"); }
  function overlayOpen() { var o = overlay(); return !!(o && !o.hidden); }
  function toggleOverlay(show) {
    var o = overlay();
    if (!o) return;
    o.hidden = !show;
    if (show) o.querySelector("[data-shortcuts-close]").focus();
  }

  function rows() {
    return Array.prototype.filter.call(document.querySelectorAll("tr[data-key]"), visible);
  }
  function selectedRow() {
    if (selectedKey === null) return null;
    return rows().filter(function (r) { return r.dataset.key === selectedKey; })[0] || null;
  }
  function mark(row) {
    document.querySelectorAll("tr." + SELECTED).forEach(function (r) {
      r.classList.remove(SELECTED);
      r.removeAttribute("aria-selected");
    });
    selectedKey = row ? row.dataset.key : null;
    try { sessionStorage.setItem(STORE, selectedKey || ""); } catch (e) { /* private mode */ }
    if (!row) return;
    row.classList.add(SELECTED);
    row.setAttribute("aria-selected", "true");
    row.scrollIntoView({ block: "nearest" });
  }
  function move(step) {
    var all = rows();
    if (!all.length) return false;
    var at = all.indexOf(selectedRow());
    var next = at < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, at + step));
    mark(all[next]);
    return true;
  }
  function pick() {
    var box = selectedRow() && selectedRow().querySelector('input[type="checkbox"]');
    if (!box) return false;
    box.click(); // a click, so the bulk bar hears it as it hears the mouse
    return true;
  }
  function open() {
    var row = selectedRow();
    var link = row && row.querySelector("a[href]");
    if (!link) return false;
    link.click();
    return true;
  }
  function click(selector, scope) {
    var el = (scope || document).querySelector(selector);
    if (!el || el.disabled) return false;
    el.click();
    return true;
  }
  function assignToMe() {
    var row = selectedRow();
    if (row) return click('[data-action="take"]', row);
    if (rows().length) return false; // a queue without a selection: nothing to take
    return click('[data-action="take"]');
  }
  function reply(kind) {
    var box = document.getElementById("comment-body");
    if (!box) return false;
    var radio = document.querySelector('input[name="visibility"][value="' + kind + '"]');
    if (kind === "internal" && !radio) return false; // no notes for this user here
    if (radio) { radio.checked = true; radio.dispatchEvent(new Event("change", { bubbles: true })); }
    var details = box.closest("details");
    if (details) details.open = true;
    box.focus();
    return true;
  }
  function edit() {
    var target = document.querySelector('[data-action="edit"]') ||
      document.querySelector('form[action$="/edit/"]');
    if (!target) return false;
    var details = target.tagName === "DETAILS" ? target : target.closest("details");
    if (details) details.open = true;
    else if (target.tagName !== "FORM") { target.click(); return true; }
    var field = (details || target).querySelector("input:not([type=hidden]), select, textarea");
    if (field) field.focus();
    return true;
  }
  function search() {
    var q = document.querySelector('input[name="q"]');
    if (!q || !visible(q)) return false;
    q.focus();
    q.select();
    return true;
  }

  var KEYS = {
    "?": function () { toggleOverlay(!overlayOpen()); return true; },
    j: function () { return move(1); },
    k: function () { return move(-1); },
    Enter: open,
    x: pick,
    a: assignToMe,
    r: function () { return reply("public"); },
    i: function () { return reply("internal"); },
    e: edit,
    "/": search,
  };

  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && overlayOpen()) { toggleOverlay(false); e.preventDefault(); return; }
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    if (typing(e.target)) return;
    if (overlayOpen() && e.key !== "?") return; // the overlay is read, not worked through
    if (e.key === "Enter" && e.target.closest && e.target.closest("a, button, summary")) return;
    var action = KEYS[e.key];
    if (action && action()) e.preventDefault();
  });

  document.addEventListener("click", function (e) {
    if (e.target.closest("[data-shortcuts-close]") || e.target === overlay()) toggleOverlay(false);
  });

  // A queue swapped in place (filters, paging, live updates) or reloaded keeps the
  // selected row when it is still there.
  function restore() {
    var row = selectedRow();
    if (row) mark(row);
  }
  document.addEventListener("htmx:afterSettle", restore);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", restore);
  else restore();
})();
