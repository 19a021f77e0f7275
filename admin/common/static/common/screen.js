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
 *
 * A page that can work with the hub out of reach (the agent's, `data-offline="true"`)
 * follows the daemon's link to the hub (`link` in `state`, and `link` events): while
 * the link is down, nothing here navigates to the hub (the page would be lost to a
 * browser error with no way back); a navigation asked for then happens once the link
 * is back. The kiosk has no offline mode and behaves as before.
 * `window.SatuKartuScreen` lends the keypads, the money display and the bridge's
 * events to the agent's offline script, so there is one keypad and one event stream.
 */
(function () {
  "use strict";

  var body = document.body;
  var data = body.dataset;
  var bridge = data.bridge;
  var needsCard = data.needsCard === "true";
  var waiting = data.waiting === "true";  /* the welcome screen, waiting for a card */
  var offlineMode = data.offline === "true";  /* the agent's: the hub may be out of reach */
  var handingOver = false;
  var link = null;  /* the daemon's last word on its link to the hub */
  var deferred = null;  /* where to go once the link is back */
  var listeners = [];
  var lastState = null;

  function $(selector) { return document.querySelector(selector); }

  function text(key) {
    var template = document.querySelector('[data-text="' + key + '"]');
    return template ? template.textContent : "";
  }

  function setStatus(key, extra) {
    var status = $("[data-status]");
    if (!status) { return; }
    status.textContent = text(key);
    status.classList.toggle("busy", key === "reading");
    if (extra) { status.textContent += " " + extra; }
  }

  function linkDown() { return offlineMode && link !== null && link.online === false; }

  function go(url) {
    if (linkDown()) { deferred = url; return; }
    window.location.replace(url);
  }

  function onLink(next) {
    link = {online: next.online, queued: next.queued, syncing: next.syncing,
            offline_ready: next.offline_ready};
    if (!linkDown() && deferred) {
      var url = deferred;
      deferred = null;
      go(url);
    }
  }

  /* the offline script hears every event, and the last state and link at once */
  function onBridge(listener) {
    listeners.push(listener);
    if (lastState) { listener(lastState); }
    if (link) { listener(Object.assign({event: "link"}, link)); }
  }

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

  function hubUnreachable(event) {
    /* offline, no session follows a card and a refusal for want of the hub leads nowhere */
    if (!offlineMode) { return false; }
    if (event.event === "inserted") { return event.offline === true; }
    return event.event === "refused" && (linkDown() || event.refused === "hub_unavailable");
  }

  function onEvent(event) {
    if (event.event === "state" && event.link) { onLink(event.link); }
    if (event.event === "link") { onLink(event); }
    if (event.event === "state") { lastState = event; }
    listeners.forEach(function (listener) { listener(event); });
    if (hubUnreachable(event)) {
      if (event.event === "refused" && waiting) { setStatus("hub-unavailable"); }
      return;
    }
    if (event.event === "link") { return; }
    if (event.event === "state") {
      if (!event.card && needsCard) { endVisit("removed"); return; }
      if (event.card && event.session && waiting) { handOver(event.session); }
      if (!event.card) { setStatus("ready"); }
      return;
    }
    if (event.event === "inserted") { if (waiting) { setStatus("reading"); } return; }
    if (event.event === "removed") {
      if (needsCard || data.pinPage) { endVisit("removed"); }
      else if ($(".problem:not([hidden])")) { go(data.start); }
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

  /* --- the PIN keypad: digits live here only, and only until OK ---
   * `parts`: the keypad, its masked display and its message line; `send(pin, say)`
   * takes the PIN away (to the bridge) and may say what came of it. */
  function pinPad(parts, send) {
    var pad = parts.pad;
    if (!pad) { return null; }
    var digits = [];
    var display = parts.display;
    var message = parts.message;
    var maxLength = 8;

    function show() {
      display.textContent = digits.map(function () { return "●"; }).join("");
      display.setAttribute("aria-label", display.dataset.label.replace("{n}", String(digits.length)));
    }

    function say(key) { message.textContent = key ? text(key) : ""; }

    function submit() {
      if (digits.length < 6) { say("pin-short"); return; }
      var pin = digits.join("");
      digits = [];
      show();
      say("checking");
      send(pin, say);
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
    return {reset: function () { digits = []; show(); say(""); }, say: say};
  }

  /* the PIN page's PIN: a card session from the bridge, handed to the hub */
  function pinLogin(pin, say) {
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
        if (offlineMode && json.refused === "hub_unavailable") { say("hub-unavailable"); return; }
        go(data.start + "?problem=" + encodeURIComponent(json.refused || "card_error"));
      });
    }).catch(function () { say("offline"); });
  }

  /* --- money as the screens write it: the page's currency signs around the digits --- */
  function money(value, signs) {
    var format = new Intl.NumberFormat(document.documentElement.lang, {maximumFractionDigits: 0});
    return signs.dataset.prefix + format.format(Number(value)) + signs.dataset.suffix;
  }

  /* --- an amount keypad (agent): fills a hidden input, shows money as typed ---
   * `parts`: the keypad, the hidden input, the display (which carries the currency's
   * signs) and the button it enables; `changed(value)` hears every key. */
  function amountPad(parts, changed) {
    var pad = parts.pad;
    if (!pad) { return null; }
    var input = parts.input;
    var display = parts.display;
    var pay = parts.pay;
    var value = input.value || "";

    function show() {
      input.value = value;
      display.textContent = value ? money(value, display) : "";
      if (pay) { pay.disabled = !value || Number(value) <= 0; }
      if (changed) { changed(value); }
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
    return {reset: function () { value = ""; show(); },
            value: function () { return value; }};
  }

  function salePad() {
    return amountPad({pad: $("#amount-pad"), input: $("#amount"),
                      display: $("#amount-display"), pay: $("#pay")});
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
    if ($(".problem:not([hidden])") && !needsCard) {
      setTimeout(function () { go(data.start); }, 30000);
    }
  }

  function focusProblem() {
    var summary = $("[data-autofocus]");
    if (summary) { summary.focus(); }
  }

  window.SatuKartuScreen = {amountPad: amountPad, pinPad: pinPad, money: money, text: text,
                            onBridge: onBridge, linkDown: linkDown, bridge: bridge};
  listen();
  pinPad({pad: $("#pin-pad"), display: $("#pin-display"), message: $("[data-pin-message]")},
         pinLogin);
  salePad();
  /* a part of the page swapped in by htmx brings its own keypad */
  document.body.addEventListener("htmx:afterSettle", function () { salePad(); });
  idleTimer();
  speech();
  doneButtons();
  autoPrint();
  clearProblem();
  focusProblem();
})();
