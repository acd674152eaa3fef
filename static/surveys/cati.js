/* The CATI console's keyboard and heartbeat. The page works without it (plain form posts);
   this only saves keystrokes and keeps the caller's hold on the case while the page is open.

   Keys on the idle screen: N = next call.
   Keys on a case: a digit (with no field focused) starts the score; Enter moves to the next
   question and saves after the last one; Ctrl+Enter saves at once; Esc leaves a field; with no
   field focused, a disposition's letter selects it (and Enter records it). After a refused
   save, the field in error has the focus. */
(function () {
  "use strict";
  var root = document.querySelector(".cati");
  if (!root) { return; }
  var page = root.getAttribute("data-page");

  function isTyping(el) {
    if (!el) { return false; }
    var tag = el.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable) { return true; }
    if (tag !== "INPUT") { return false; }
    return ["radio", "checkbox", "submit", "button", "reset"].indexOf(el.type) < 0;
  }
  function plainKey(e) { return !(e.ctrlKey || e.metaKey || e.altKey); }

  if (page === "console") {
    document.addEventListener("keydown", function (e) {
      if (!plainKey(e) || isTyping(document.activeElement)) { return; }
      if (e.key === "n" || e.key === "N") {
        e.preventDefault();
        var form = document.getElementById("next-form");
        if (form) { form.requestSubmit(); }
      }
    });
    return;
  }
  if (page !== "case") { return; }

  var answers = document.getElementById("answers-form");
  var outcome = document.getElementById("disposition-form");
  var score = answers && answers.querySelector("[data-score]");
  var complete = document.getElementById("save-complete");
  var record = document.getElementById("record-outcome");
  var chain = answers ? Array.prototype.filter.call(
    answers.querySelectorAll("input[type=text], select, textarea"),
    function (el) { return el.name !== "caller_note"; }) : [];
  // A save refused for a field: the caller goes on typing in that field, not on the page,
  // where a letter (s, n) would select an outcome instead of answering.
  var broken = (answers && answers.querySelector(
    ".has-error input, .has-error select, .has-error textarea")) ||
    (outcome && outcome.querySelector("[aria-invalid=true]"));
  if (broken) {
    broken.focus();
    if (broken.select) { broken.select(); }
  }
  var shortcuts = {};
  if (outcome) {
    Array.prototype.forEach.call(outcome.querySelectorAll("input[data-shortcut]"), function (r) {
      shortcuts[r.getAttribute("data-shortcut").toLowerCase()] = r;
    });
  }

  function scoreProblem() {
    if (!score || score.value.trim() === "") { return ""; }
    var v = score.value.trim();
    if (!/^\d{1,2}$/.test(v) || Number(v) > 10) { return v + " is outside the scale: the score is 0 to 10."; }
    return "";
  }
  function showScoreProblem(text) {
    var box = document.getElementById("score-help");
    if (!box) { return; }
    if (!box.getAttribute("data-default")) { box.setAttribute("data-default", box.innerHTML); }
    if (text) { box.textContent = text; box.className = "error"; }
    else { box.innerHTML = box.getAttribute("data-default"); box.className = "muted"; }
  }

  document.addEventListener("keydown", function (e) {
    var el = document.activeElement;
    if (e.key === "Escape" && isTyping(el)) { el.blur(); return; }
    if (e.key === "Enter" && answers && el && el.form === answers && isTyping(el)) {
      e.preventDefault();
      if (el === score) {
        var problem = scoreProblem();
        showScoreProblem(problem);
        if (problem) { return; }
      }
      var at = chain.indexOf(el);
      if (e.ctrlKey || e.metaKey || at < 0 || at === chain.length - 1) {
        answers.requestSubmit(complete);
      } else {
        chain[at + 1].focus();
      }
      return;
    }
    if (!plainKey(e) || isTyping(el)) { return; }
    if (/^[0-9]$/.test(e.key) && score) {
      e.preventDefault();
      score.focus();
      score.value = e.key;
      return;
    }
    var radio = shortcuts[e.key.toLowerCase()];
    if (radio) {
      e.preventDefault();
      radio.checked = true;
      if (radio.value === "callback") {
        var day = document.getElementById("id_callback_date");
        if (day) { day.focus(); return; }
      }
      if (record) { record.focus(); }
    }
  });

  /* Heartbeat: while the caller is active, keep the hold on the case. A page left open with
     nobody at it stops renewing, so the case goes back to the queue when the lease runs out. */
  var url = root.getAttribute("data-heartbeat");
  var leaseMs = Number(root.getAttribute("data-lease") || 600) * 1000;
  var lastActivity = Date.now();
  ["keydown", "pointerdown", "input", "focusin"].forEach(function (name) {
    document.addEventListener(name, function () { lastActivity = Date.now(); }, true);
  });
  var token = document.querySelector("input[name=csrfmiddlewaretoken]");
  function beat() {
    if (!url || Date.now() - lastActivity > leaseMs / 2) { return; }
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": token ? token.value : "", "X-Requested-With": "fetch" }
    }).then(function (r) {
      if (r.status === 409) {
        var lost = document.getElementById("hold-lost");
        if (lost) {
          lost.hidden = false;
          lost.textContent = "Your hold on this case ran out and it went back to the queue. Nothing more will be saved.";
        }
        clearInterval(timer);
      }
    }).catch(function () { /* offline for a moment: the next beat tries again */ });
  }
  var timer = setInterval(beat, Math.max(15000, Math.min(60000, leaseMs / 4)));
})();
