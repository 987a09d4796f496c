// The live desk. Every few seconds ask the desk for the queue as shown (same URL, plus
// poll=<token of the rows on screen>); the server answers 204 while nothing visible
// changed. On a change, swap only the rows (#queue-rows) and the sidebar, so the filter
// form keeps its focus and text; mark new and changed rows for a few seconds; count new
// P1/P2 in the tab title until the agent looks. While rows are selected (bulk actions) or
// focus is inside the rows, do not swap: say "N new or changed — Refresh" instead.
(function () {
  "use strict";
  var POLL_MS = 4000;
  var FRESH_MS = 6000;
  var baseTitle = document.title;
  var unseenUrgent = 0;
  var stashed = null; // a response held back while the agent has rows selected
  var seen = {}; // keys already counted towards the title
  var timer = null;
  var inFlight = false;

  function rows() { return document.getElementById("queue-rows"); }

  function versions(root) {
    var out = {};
    if (!root) return out;
    root.querySelectorAll("tr[data-key]").forEach(function (tr) {
      out[tr.dataset.key] = { version: tr.dataset.version, priority: +tr.dataset.priority };
    });
    return out;
  }

  function busy(el) {
    if (el.querySelector("input[type=checkbox]:checked")) return true;
    var active = document.activeElement;
    if (!active || !el.contains(active)) return false;
    if (active.tagName === "INPUT" && active.type === "checkbox") return active.checked;
    return /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(active.tagName);
  }

  function setTitle() {
    document.title = unseenUrgent > 0 ? "(" + unseenUrgent + ") " + baseTitle : baseTitle;
  }

  function looked() {
    if (unseenUrgent && !document.hidden) { unseenUrgent = 0; setTitle(); }
  }

  function diff(before, after) {
    var changed = [];
    Object.keys(after).forEach(function (key) {
      if (!before[key] || before[key].version !== after[key].version) changed.push(key);
    });
    return changed;
  }

  function countUrgent(before, after) {
    Object.keys(after).forEach(function (key) {
      if (!before[key] && !seen[key] && after[key].priority <= 2) {
        seen[key] = true;
        unseenUrgent += 1;
      }
    });
    setTitle();
  }

  function swapSidebar(doc) {
    var fresh = doc.getElementById("desk-sidebar");
    var current = document.getElementById("desk-sidebar");
    if (fresh && current) current.replaceWith(fresh);
  }

  function apply(html, force, asked) {
    var el = rows();
    // A filter change swapped the queue while this poll was out: its answer is stale.
    if (!el || (asked && asked !== el)) return;
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.getElementById("queue-rows");
    if (!fresh) return;
    var before = versions(el);
    var after = versions(fresh);
    var changed = diff(before, after);
    countUrgent(before, after);
    swapSidebar(doc);
    if (!force && busy(el)) {
      stashed = html;
      var notice = document.getElementById("queue-notice");
      if (notice) {
        notice.querySelector("span").textContent = changed.length
          ? changed.length + " new or changed"
          : "The queue changed";
        notice.hidden = false;
      }
      el.dataset.token = fresh.dataset.token; // ask again only when it changes further
      return;
    }
    stashed = null;
    var notice2 = document.getElementById("queue-notice");
    if (notice2) notice2.hidden = true;
    el.replaceWith(fresh);
    if (window.htmx) window.htmx.process(fresh);
    changed.forEach(function (key) {
      var tr = fresh.querySelector('tr[data-key="' + key + '"]');
      if (!tr) return;
      tr.classList.add("row-fresh");
      setTimeout(function () { tr.classList.remove("row-fresh"); }, FRESH_MS);
    });
  }

  function poll() {
    var el = rows();
    if (!el || inFlight) return schedule();
    // The queue as rendered (its filter, sort and page), whatever the address bar says.
    var url = new URL(el.dataset.poll || window.location.href, window.location.href);
    url.searchParams.set("poll", el.dataset.token || "");
    inFlight = true;
    fetch(url.toString(), {
      headers: { "HX-Request": "true" },
      credentials: "same-origin",
    })
      .then(function (res) { return res.status === 200 ? res.text() : null; })
      .then(function (html) { if (html) apply(html, false, el); })
      .catch(function () { /* offline for a moment: the next poll tries again */ })
      .then(function () { inFlight = false; schedule(); });
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(poll, POLL_MS);
  }

  Object.keys(versions(rows())).forEach(function (key) { seen[key] = true; });
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest && ev.target.closest("[data-action=queue-refresh]");
    if (!btn) return;
    if (stashed) {
      apply(stashed, true);
    } else {
      var el = rows();
      if (el) el.dataset.token = "";
      poll();
    }
  });
  document.addEventListener("visibilitychange", looked);
  window.addEventListener("focus", looked);
  document.addEventListener("pointerdown", looked);
  document.addEventListener("keydown", looked);
  // A filter change swaps the whole queue: what it shows is the new baseline. The column
  // picker stays open across it (the agent is choosing several).
  var pickerOpen = false;
  document.body.addEventListener("htmx:beforeSwap", function () {
    var picker = document.querySelector(".columns-picker");
    pickerOpen = !!(picker && picker.open);
  });
  document.body.addEventListener("htmx:afterSwap", function () {
    stashed = null;
    var picker = document.querySelector(".columns-picker");
    if (picker && pickerOpen) picker.open = true;
  });
  schedule();
})();
