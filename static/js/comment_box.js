// The comment box's @mention suggestions: after "@" and a letter or two, ask the staff
// endpoint (GET /people/suggest?q=) for up to 10 people and offer them under the text;
// a click, Enter or Tab inserts "@username ". Escape closes the list.
(function () {
  "use strict";
  function setup(area) {
    if (area.dataset.mentionReady) return;
    area.dataset.mentionReady = "1";
    var list = area.parentNode.querySelector(".mention-suggestions");
    var url = area.dataset.suggestUrl;
    if (!list || !url) return;
    var active = -1, timer = null, query = null;

    function token() {
      var upto = area.value.slice(0, area.selectionStart);
      var m = /(^|[^\w@.+-])@([\w.+-]{1,50})$/.exec(upto);
      return m ? { name: m[2], start: upto.length - m[2].length - 1 } : null;
    }
    function close() { list.hidden = true; list.innerHTML = ""; active = -1; }
    function pick(username) {
      var t = token();
      if (!t) return close();
      var end = area.selectionStart;
      area.value = area.value.slice(0, t.start) + "@" + username + " " + area.value.slice(end);
      var caret = t.start + username.length + 2;
      area.setSelectionRange(caret, caret);
      close();
      area.focus();
    }
    function show(people) {
      list.innerHTML = "";
      people.forEach(function (p, i) {
        var li = document.createElement("li");
        li.setAttribute("role", "option");
        li.dataset.username = p.username;
        li.textContent = p.name + " ";
        var small = document.createElement("span");
        small.className = "muted small";
        small.textContent = "@" + p.username;
        li.appendChild(small);
        li.addEventListener("mousedown", function (e) { e.preventDefault(); pick(p.username); });
        list.appendChild(li);
      });
      active = people.length ? 0 : -1;
      mark();
      list.hidden = !people.length;
    }
    function mark() {
      Array.prototype.forEach.call(list.children, function (li, i) {
        li.classList.toggle("active", i === active);
      });
    }
    area.addEventListener("input", function () {
      var t = token();
      if (!t) return close();
      if (t.name === query) return;
      query = t.name;
      clearTimeout(timer);
      timer = setTimeout(function () {
        fetch(url + "?q=" + encodeURIComponent(t.name), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(show)
          .catch(close);
      }, 150);
    });
    area.addEventListener("keydown", function (e) {
      if (list.hidden) return;
      var n = list.children.length;
      if (e.key === "ArrowDown") { active = (active + 1) % n; mark(); e.preventDefault(); }
      else if (e.key === "ArrowUp") { active = (active - 1 + n) % n; mark(); e.preventDefault(); }
      else if ((e.key === "Enter" || e.key === "Tab") && active >= 0) {
        pick(list.children[active].dataset.username); e.preventDefault();
      } else if (e.key === "Escape") { close(); }
    });
    area.addEventListener("blur", function () { setTimeout(close, 150); });
  }
  function init() {
    document.querySelectorAll("textarea[data-suggest-url]").forEach(setup);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
  document.addEventListener("htmx:load", init);
})();
