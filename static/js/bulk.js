// The desk's bulk action bar (issue 12): row checkboxes, "select all on this page", the
// bar shown while something is checked, the fields of the chosen action. Bound once on
// the document: the queue is swapped by HTMX and brings this script back with it.
(function () {
  if (window.tandemBulk) { window.tandemBulk.refresh(); return; }

  function picks() { return Array.from(document.querySelectorAll("input.bulk-pick")); }

  function showFields(form) {
    const action = form.elements.action.value;
    form.querySelectorAll("[data-for]").forEach(function (el) { el.hidden = el.dataset.for !== action; });
    const name = form.elements.transition.value;
    form.querySelectorAll("[data-for-transition]").forEach(function (el) {
      el.hidden = !el.dataset.forTransition.split(" ").includes(name);
    });
  }

  function refresh() {
    const form = document.getElementById("bulk-form");
    if (!form) return;
    const boxes = picks();
    const n = boxes.filter(function (b) { return b.checked; }).length;
    form.hidden = n === 0;
    // "Select all N matching": offered once the whole page is checked; taken back as
    // soon as a row is unchecked (the job then acts on the rows checked)
    const matching = form.querySelector("[data-bulk-matching]");
    const query = form.querySelector("[data-bulk-matching-query]");
    if (query && n < boxes.length) query.disabled = true;
    if (matching) matching.hidden = n === 0 || n < boxes.length || (query && !query.disabled);
    form.querySelector("[data-bulk-count]").textContent =
      query && !query.disabled ? matching.dataset.bulkMatching : n;
    const all = document.querySelector("input.bulk-all");
    if (all) {
      all.checked = n > 0 && n === boxes.length;
      all.indeterminate = n > 0 && n < boxes.length;
    }
    showFields(form);
  }

  document.addEventListener("change", function (e) {
    if (e.target.matches("input.bulk-all")) {
      picks().forEach(function (b) { b.checked = e.target.checked; });
    }
    if (e.target.closest("input.bulk-pick, input.bulk-all, #bulk-form")) refresh();
  });
  document.addEventListener("click", function (e) {
    if (e.target.matches("[data-bulk-matching]")) {
      document.querySelector("[data-bulk-matching-query]").disabled = false;
      refresh();
    }
    if (e.target.matches("[data-bulk-clear]")) {
      picks().forEach(function (b) { b.checked = false; });
      refresh();
    }
  });
  // A refused bulk request (400/403/404) carries its reason for the status area: show it
  // there (HTMX leaves error answers unswapped by default).
  document.addEventListener("htmx:beforeSwap", function (e) {
    const target = e.detail.target;
    const status = e.detail.xhr.status;
    if (target && target.closest && target.closest("#bulk-status") && status >= 400 && status < 500) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });
  document.addEventListener("htmx:afterSwap", refresh);
  window.tandemBulk = { refresh: refresh };
  refresh();
})();
