// The console's keyboard shortcuts. Everything works without this file; it only moves focus,
// selects queue rows and submits the forms already on the page. No inline script is allowed
// by the page's Content-Security-Policy, so every listener is attached here.
(function () {
  "use strict";
  var selected = -1;

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("table.queue tbody tr"));
  }

  function select(index) {
    var list = rows();
    if (list.length === 0) { selected = -1; return; }
    selected = Math.max(0, Math.min(index, list.length - 1));
    list.forEach(function (row, i) { row.classList.toggle("sel", i === selected); });
    list[selected].scrollIntoView({ block: "nearest" });
  }

  function open() {
    var list = rows();
    var row = list[selected];
    var link = row && row.querySelector("td.subject a");
    if (link) { window.location.href = link.href; }
  }

  function focus(id) {
    var el = document.getElementById(id);
    if (el) { el.focus(); return true; }
    return false;
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  document.addEventListener("keydown", function (e) {
    var help = document.getElementById("help");
    // Ctrl/Cmd+Enter sends the form being written.
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && e.target.tagName === "TEXTAREA" && e.target.form) {
      e.preventDefault();
      e.target.form.requestSubmit();
      return;
    }
    if (e.key === "Escape") {
      if (help && help.open) { help.close(); }
      else if (typing(e.target)) { e.target.blur(); }
      return;
    }
    if (typing(e.target) || e.ctrlKey || e.metaKey || e.altKey) { return; }
    switch (e.key) {
      case "j": select(selected + 1); break;
      case "k": select(selected < 0 ? 0 : selected - 1); break;
      case "o": case "Enter":
        if (selected < 0) { return; }
        open(); break;
      case "r": if (!focus("reply")) { return; } break;
      case "n": if (!focus("note")) { return; } break;
      case "s": if (!focus("status")) { return; } break;
      case "t": if (!focus("tags")) { return; } break;
      case "/": if (!focus("search")) { return; } break;
      case "a":
        var assign = document.getElementById("assign-me");
        if (!assign) { return; }
        assign.requestSubmit();
        break;
      case "?":
        if (help && !help.open) { help.showModal(); }
        break;
      default: return;
    }
    e.preventDefault();
  });

  // Live updates: the page says whether its event stream is connected (and tests wait for it).
  document.addEventListener("htmx:sseOpen", function (e) {
    document.body.classList.add("live");
    // The stream's last word when the session has ended (signed out elsewhere, expired, the
    // person deactivated): go to the sign-in page rather than sit there offline.
    var source = e.detail && e.detail.source;
    if (source && !source.signedOutHandled) {
      source.signedOutHandled = true;
      source.addEventListener("signed-out", function () { location.assign("/console/sign-in"); });
    }
  });
  document.addEventListener("htmx:sseError", function () { document.body.classList.remove("live"); });
  // Leaving a page closes its event stream at once. Left open (a page kept for Back, or not yet
  // torn down), each stream holds one of the browser's six connections to the desk; a few
  // quick navigations used them all, and the next page waited about a minute for one.
  window.addEventListener("pagehide", function () {
    if (window.htmx) { htmx.trigger(document.body, "htmx:beforeCleanupElement"); }
  });
  // A page restored from the back/forward cache has no stream and old data: load it afresh.
  window.addEventListener("pageshow", function (e) { if (e.persisted) { location.reload(); } });

  // A live update replaces the queue's table: keep the selected row selected.
  document.addEventListener("htmx:afterSwap", function () {
    if (selected >= 0) { select(selected); }
  });
})();

// queue and ticket, round 2
(function () {
  "use strict";

  // Bulk select: the header box ticks every row of the page.
  document.addEventListener("change", function (e) {
    if (e.target && e.target.id === "select-all") {
      document.querySelectorAll("table.queue input[name=ticket]").forEach(function (box) {
        box.checked = e.target.checked;
      });
    }
  });

  // A live update replaces the table: the ticks survive it.
  var ticked = [];
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (!e.detail.target || e.detail.target.id !== "queue") { return; }
    ticked = Array.prototype.map.call(
      document.querySelectorAll("table.queue input[name=ticket]:checked"),
      function (box) { return box.value; });
  });
  document.addEventListener("htmx:afterSwap", function () {
    ticked.forEach(function (id) {
      var box = document.querySelector("table.queue input[name=ticket][value='" + id.replace(/[^0-9]/g, "") + "']");
      if (box) { box.checked = true; }
    });
  });
})();

// Presence: while a reply or note is typed the page says "replying" (at most every 5 s; the
// server forgets it 15 s after the last), and "idle" once it is sent or the page is left.
(function () {
  "use strict";
  var form = document.querySelector("form.compose");
  var csrf = form && form.querySelector("input[name=csrf]");
  if (!form || !csrf) { return; }
  var url = form.getAttribute("action").replace(/\/reply$/, "/presence");
  var last = 0;
  var on = false;
  function say(state) {
    var data = new FormData();
    data.append("csrf", csrf.value);
    data.append("state", state);
    if (state === "idle" && navigator.sendBeacon) { navigator.sendBeacon(url, data); return; }
    fetch(url, { method: "POST", body: data, credentials: "same-origin" }).catch(function () {});
  }
  document.addEventListener("input", function (e) {
    if (!e.target || (e.target.id !== "reply" && e.target.id !== "note")) { return; }
    var now = Date.now();
    if (now - last > 5000) { last = now; on = true; say("replying"); }
  });
  document.addEventListener("submit", function (e) {
    if (on && e.target.classList && e.target.classList.contains("compose")) { on = false; last = 0; say("idle"); }
  });
  window.addEventListener("pagehide", function () { if (on) { on = false; say("idle"); } });
})();
