// The board's drag and drop (SortableJS), move dialogs and keyboard, shared by the project
// board and the iteration board: a dropped card posts to its data-move URL, which fires the
// work item's own transition (projects.board_views.BoardMoveView).
(function () {
  const board = document.getElementById("board");
  if (!board) return;
  const message = document.getElementById("board-message");
  const dialog = document.getElementById("board-dialog");
  const dialogBody = document.getElementById("board-dialog-body");
  const csrf = JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];

  function say(html, ok) {
    message.innerHTML = html;
    message.dataset.outcome = ok ? "moved" : "refused";
  }
  function snapBack(evt) {
    const ref = evt.from.children[evt.oldIndex] || null;
    evt.from.insertBefore(evt.item, ref);
  }
  function recount() {
    board.querySelectorAll(".column").forEach(function (col) {
      const wip = col.querySelector(".wip");
      if (!wip || board.dataset.lanes) return;
      const n = col.querySelectorAll(".card").length + (parseInt(col.dataset.hidden || "0", 10));
      const limit = col.dataset.limit;
      wip.textContent = limit ? n + "/" + limit : String(n);
      col.classList.toggle("over-limit", !!limit && n > parseInt(limit, 10));
    });
  }

  async function drop(evt) {
    if (evt.from === evt.to) return;
    const card = evt.item;
    const to = evt.to.dataset.state;
    const body = new URLSearchParams({to: to});
    // the version the card was rendered from: a card someone else moved meanwhile is refused
    if (card.dataset.version) body.set("record_version", card.dataset.version);
    let response;
    try {
      response = await fetch(card.dataset.move, {
        method: "POST", body: body, credentials: "same-origin",
        headers: {"X-CSRFToken": csrf, "HX-Request": "true"},
      });
    } catch (e) {
      snapBack(evt); say('<div class="messages"><li class="error">The board could not reach Tandem; nothing moved.</li></div>', false);
      return;
    }
    const html = await response.text();
    const action = response.headers.get("X-Board-Action");
    if (response.ok && action === "moved") {
      card.outerHTML = html;
      say('<div class="messages"><li class="success">' + card.dataset.item + " moved.</li></div>", true);
      recount();
    } else if (response.ok && action === "form") {
      snapBack(evt);
      dialogBody.innerHTML = html;
      htmx.process(dialogBody);
      dialog.showModal();
    } else {
      snapBack(evt);
      say(html, false);
    }
  }

  board.querySelectorAll(".cards").forEach(function (list) {
    new Sortable(list, {
      group: list.closest(".board").dataset.group || "board",
      sort: false,
      animation: 120,
      draggable: ".card[data-move]",
      filter: "a",
      preventOnFilter: false,
      onEnd: drop,
    });
  });
  dialog.addEventListener("click", function (e) {
    if (e.target.matches("[data-close-dialog]")) dialog.close();
  });

  // Keyboard: j / k move between cards, Enter opens the focused one.
  document.addEventListener("keydown", function (e) {
    if (e.target.closest("input, select, textarea, dialog") || e.metaKey || e.ctrlKey || e.altKey) return;
    const cards = Array.from(board.querySelectorAll(".card[tabindex]"));
    if (!cards.length) return;
    const at = cards.indexOf(document.activeElement);
    if (e.key === "j" || e.key === "k") {
      const next = e.key === "j" ? Math.min(at + 1, cards.length - 1) : Math.max(at - 1, 0);
      cards[at < 0 ? 0 : next].focus();
      e.preventDefault();
    } else if (e.key === "Enter" && at >= 0 && !e.target.closest("a")) {
      window.location = cards[at].querySelector("a.key").href;
    }
  });
})();
