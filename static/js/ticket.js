// The incident page works in place: every form in the ticket region posts with htmx and
// the server answers with the region (itsm/_incident_ticket.html), which replaces it.
// The region's own forms say so in their hx-post; the shared panels inside it (watchers,
// attachments, the reply box: [data-in-place]) are given the same here, so their
// templates stay plain forms that also work without JavaScript (post, then redirect).
//
// htmx swaps only 2xx answers by default; a refused action (400, 403, 409) answers with
// the region, its form still open as posted and the reason, so those are swapped too.
// Any other error answer (a shared view's error fragment, a 500) is shown at the top of
// the region instead of replacing it.
(function () {
  "use strict";
  var REGION = "ticket";
  var REFUSALS = { 400: true, 403: true, 404: true, 409: true };

  function upgrade(root) {
    var region = root.id === REGION ? root : root.querySelector && root.querySelector("#" + REGION);
    if (!region) return;
    region.querySelectorAll("[data-in-place] form[method=post]:not([hx-post])").forEach(function (form) {
      form.setAttribute("hx-post", form.getAttribute("action"));
      form.setAttribute("hx-target", "#" + REGION);
      form.setAttribute("hx-swap", "outerHTML");
      if (form.getAttribute("enctype") === "multipart/form-data") {
        form.setAttribute("hx-encoding", "multipart/form-data");
      }
      htmx.process(form);
    });
  }

  function showError(text) {
    var box = document.getElementById("ticket-error");
    if (!box) return;
    box.innerHTML = "";
    var list = document.createElement("ul");
    list.className = "messages";
    var item = document.createElement("li");
    item.className = "error";
    item.setAttribute("data-form-error", "");
    item.textContent = text;
    list.appendChild(item);
    box.appendChild(list);
  }

  document.addEventListener("htmx:beforeSwap", function (e) {
    var target = e.detail.target;
    if (!target || target.id !== REGION) return;
    var xhr = e.detail.xhr;
    if (xhr.status < 400) return;
    var body = xhr.responseText || "";
    if (REFUSALS[xhr.status] && body.indexOf('id="' + REGION + '"') !== -1) {
      e.detail.shouldSwap = true; // the region, with the form open and the reason
      e.detail.isError = false;
      return;
    }
    e.detail.shouldSwap = false;
    var parsed = new DOMParser().parseFromString(body, "text/html");
    var message = parsed.querySelector(".error");
    showError(
      message && xhr.status < 500
        ? message.textContent.trim()
        : "That did not work (error " + xhr.status + "). Reload the page and try again."
    );
  });

  // One action at a time: while one is on its way the region's buttons take no clicks
  // (a double click would post twice); the answer replaces the region, or clears it here.
  function busy(e, on) {
    var target = e.detail.target;
    if (target && target.id === REGION) target.toggleAttribute("aria-busy", on);
  }
  document.addEventListener("htmx:beforeRequest", function (e) { busy(e, true); });
  document.addEventListener("htmx:afterRequest", function (e) { busy(e, false); });

  document.addEventListener("htmx:sendError", function () {
    showError("The server could not be reached. Check the connection and try again.");
  });

  htmx.onLoad(upgrade);
})();
