/* SatuKartu screens: how a page meets the card reader on its own PC.
 *
 * The reader daemon serves a local bridge (card_reader/bridge.py). This script listens
 * to its events (Server-Sent Events) and:
 *  - hands a card session to the hub once (POST to the page's hand-over URL), after
 *    which an HttpOnly cookie carries it and this script never sees it again;
 *  - blanks the screen the moment the card leaves, then ends the visit at the hub;
 *  - sends the PIN typed on the on-screen keypad to the bridge (never to the hub),
 *    holding the digits only in a local variable, cleared as soon as they are sent;
 *  - warns an idle citizen with a countdown and one-tap "more time", then resets.
 * No inline script: the page's data-* attributes carry what differs per screen.
 */
(function () {
  "use strict";

  var body = document.body;
  var data = body.dataset;
  var bridge = data.bridge;
  var needsCard = data.needsCard === "true";
  var waiting = data.waiting === "true";  /* the welcome screen, waiting for a card */
  var handingOver = false;

  function $(selector) { return document.querySelector(selector); }

  function setStatus(key, extra) {
    var status = $("[data-status]");
    if (!status) { return; }
    var template = document.querySelector('[data-text="' + key + '"]');
    status.textContent = template ? template.textContent : "";
    status.classList.toggle("busy", key === "reading");
    if (extra) { status.textContent += " " + extra; }
  }

  function go(url) { window.location.replace(url); }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function post(url, fields) {
    return fetch(url, {
      method: "POST", credentials: "same-origin", keepalive: true,
      headers: {"Content-Type": "application/x-www-form-urlencoded",
                "X-CSRFToken": csrfToken()},
      body: new URLSearchParams(fields || {}).toString()
    });
  }

  function blank() {
    body.classList.add("blank");
    var main = $("#main");
    if (main) { main.replaceChildren(); }
  }

  function endVisit(why) {
    blank();
    post(data.end, {why: why}).finally(function () { go(data.start); });
  }

  function handOver(session, after) {
    if (handingOver) { return; }
    if (data.accept === "pin" && session.assurance !== "pin") {
      if (!data.pinPage) { go(data.pin); }
      return;
    }
    handingOver = true;
    setStatus("reading");
    post(data.handover, {token: session.session_token}).then(function (answer) {
      return answer.json().then(function (json) {
        if (answer.ok) { go(after || json.next); return; }
        handingOver = false;
        setStatus("take-card");
      });
    }).catch(function () { handingOver = false; setStatus("offline"); });
  }

  function onRefused(event) {
    if (event.refused === "tap_locked") { go(data.pin + "?why=locked"); return; }
    if (event.refused === "pin_invalid" || event.refused === "pin_format") { return; }
    go(data.start + "?problem=" + encodeURIComponent(event.refused));
  }

  function onEvent(event) {
    if (event.event === "state") {
      if (!event.card && needsCard) { endVisit("removed"); return; }
      if (event.card && event.session && waiting) { handOver(event.session); }
      if (!event.card) { setStatus("ready"); }
      return;
    }
    if (event.event === "inserted") { if (waiting) { setStatus("reading"); } return; }
    if (event.event === "removed") {
      if (needsCard || data.pinPage) { endVisit("removed"); }
      else if ($(".problem")) { go(data.start); }
      else { setStatus("ready"); }
      return;
    }
    if (event.event === "session") { onSession(event); return; }
    if (event.event === "refused" && !data.pinPage) { onRefused(event); }
  }

  function onSession(session) {
    if (data.pinPage) { return; }  /* the PIN's own answer carries its session */
    if (waiting) { handOver(session); return; }
    if (needsCard && session.card_serial === data.cardSerial) { return; }
    /* a new card replaces whoever was being served */
    if (needsCard) { blank(); }
    if (data.accept === "pin" && session.assurance !== "pin") { go(data.pin); return; }
    handOver(session);
  }

  function listen() {
    if (!bridge || !window.EventSource) { return; }
    var source = new EventSource(bridge + "/events");
    source.onmessage = function (message) {
      var event;
      try { event = JSON.parse(message.data); } catch (e) { return; }
      onEvent(event);
    };
    source.onerror = function () { if (!needsCard) { setStatus("offline"); } };
    window.addEventListener("pagehide", function () { source.close(); });
  }

  /* --- the PIN keypad: digits live here only, and only until OK --- */
  function pinPad() {
    var pad = $("#pin-pad");
    if (!pad) { return; }
    var digits = [];
    var display = $("#pin-display");
    var message = $("[data-pin-message]");
    var maxLength = 8;

    function show() {
      display.textContent = digits.map(function () { return "●"; }).join("");
      display.setAttribute("aria-label", display.dataset.label.replace("{n}", String(digits.length)));
    }

    function say(key) {
      var text = document.querySelector('[data-text="' + key + '"]');
      message.textContent = text ? text.textContent : "";
    }

    function submit() {
      if (digits.length < 6) { say("pin-short"); return; }
      var pin = digits.join("");
      digits = [];
      show();
      say("checking");
      fetch(bridge + "/pin", {
        method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({pin: pin})
      }).then(function (answer) {
        return answer.json().then(function (json) {
          if (answer.ok) { handOver(json, data.afterPin); return; }
          if (json.refused === "pin_invalid") {
            if (json.attempts_remaining === 0) { go(data.start + "?problem=pin_blocked"); return; }
            say("pin-invalid-" + json.attempts_remaining);
            return;
          }
          if (json.refused === "pin_format") { say("pin-short"); return; }
          go(data.start + "?problem=" + encodeURIComponent(json.refused || "card_error"));
        });
      }).catch(function () { say("offline"); });
      pin = null;
    }

    pad.addEventListener("click", function (click) {
      var key = click.target.closest("button");
      if (!key) { return; }
      if (key.dataset.digit !== undefined) {
        if (digits.length < maxLength) { digits.push(key.dataset.digit); }
        say("");
      } else if (key.dataset.key === "clear") {
        digits = [];
      } else if (key.dataset.key === "ok") {
        submit();
        return;
      }
      show();
    });
    show();
  }

  /* --- an amount keypad (agent): fills a hidden input, shows money as typed --- */
  function amountPad() {
    var pad = $("#amount-pad");
    if (!pad) { return; }
    var input = $("#amount");
    var display = $("#amount-display");
    var pay = $("#pay");
    var value = input.value || "";
    var format = new Intl.NumberFormat(document.documentElement.lang, {maximumFractionDigits: 0});

    function show() {
      input.value = value;
      display.textContent = value ? display.dataset.prefix + format.format(Number(value)) +
        display.dataset.suffix : "";
      if (pay) { pay.disabled = !value || Number(value) <= 0; }
    }

    pad.addEventListener("click", function (click) {
      var key = click.target.closest("button");
      if (!key) { return; }
      if (key.dataset.digit !== undefined && value.length < 9) {
        value = (value === "0" ? "" : value) + key.dataset.digit;
      } else if (key.dataset.key === "clear") {
        value = value.slice(0, -1);
      }
      show();
    });
    show();
  }

  /* --- the idle warning (WCAG 2.2.1: at least 20 s to answer, extendable) --- */
  function idleTimer() {
    var dialog = $("#timeout");
    if (!dialog || !needsCard) { return; }
    var warnAfter = Number(data.idleWarning) * 1000;
    var answerFor = Number(data.idleAnswer);
    var countdown = $("#countdown");
    var warnTimer = null;
    var tick = null;
    var left = answerFor;

    function reset() {
      if (!dialog.hidden) { return; }
      clearTimeout(warnTimer);
      warnTimer = setTimeout(warn, warnAfter);
    }

    function warn() {
      left = answerFor;
      countdown.textContent = String(left);
      dialog.hidden = false;
      $("#more-time").focus();
      tick = setInterval(function () {
        left -= 1;
        countdown.textContent = String(Math.max(left, 0));
        if (left <= 0) { clearInterval(tick); endVisit("timeout"); }
      }, 1000);
    }

    $("#more-time").addEventListener("click", function () {
      clearInterval(tick);
      dialog.hidden = true;
      reset();
    });
    ["pointerdown", "keydown"].forEach(function (name) {
      document.addEventListener(name, reset, {passive: true});
    });
    reset();
  }

  /* --- read the screen aloud (the page's speech script, in its language) --- */
  function speech() {
    var button = $("#speak");
    var main = $("#main");
    if (!button || !main || !window.speechSynthesis) { return; }
    button.addEventListener("click", function () {
      var said = new SpeechSynthesisUtterance(main.dataset.speech || main.innerText);
      said.lang = document.documentElement.lang;
      window.speechSynthesis.cancel();
      window.speechSynthesis.speak(said);
    });
  }

  function doneButtons() {
    document.querySelectorAll("[data-end-visit]").forEach(function (button) {
      button.addEventListener("click", function () { endVisit("done"); });
    });
  }

  function autoPrint() {
    var frame = $("iframe[data-autoprint]");
    if (!frame) { return; }
    frame.addEventListener("load", function () {
      try { frame.contentWindow.print(); } catch (e) { /* printing is the browser's */ }
    });
  }

  function clearProblem() {
    /* a refusal shown on the welcome screen is for the person who was there */
    if ($(".problem") && !needsCard) {
      setTimeout(function () { go(data.start); }, 30000);
    }
  }

  function focusProblem() {
    var summary = $("[data-autofocus]");
    if (summary) { summary.focus(); }
  }

  listen();
  pinPad();
  amountPad();
  /* a part of the page swapped in by htmx brings its own keypad */
  document.body.addEventListener("htmx:afterSettle", function () { amountPad(); });
  idleTimer();
  speech();
  doneButtons();
  autoPrint();
  clearProblem();
  focusProblem();
})();
