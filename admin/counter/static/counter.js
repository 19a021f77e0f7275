/* The counter's own behaviour, beside common/screen.js (which meets the reader):
 *  - a form marked data-once sends once: a second click or Enter does nothing, so a
 *    double submit makes one request (the hub also holds an idempotency key);
 *  - the PIN unblock keypad: the citizen types the PUK and a new PIN twice; the digits
 *    live in local variables only, go to the reader's bridge (POST /unblock), never to
 *    the hub, and are dropped as soon as they are sent. The hub hears only how the card
 *    answered. No inline script: the page's data-* attributes carry the URLs.
 */
(function () {
  "use strict";

  var body = document.body;
  var data = body.dataset;

  function $(selector) { return document.querySelector(selector); }

  function text(key) {
    var found = document.querySelector('[data-text="' + key + '"]');
    return found ? found.textContent : "";
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function sendOnce() {
    document.querySelectorAll("form[data-once]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (form.dataset.sent) { event.preventDefault(); return; }
        form.dataset.sent = "true";
        form.querySelectorAll("button[type=submit]").forEach(function (button) {
          button.setAttribute("aria-disabled", "true");
        });
      });
    });
  }

  function tellHub(outcome) {
    return fetch(data.unblockResult, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/x-www-form-urlencoded",
                "X-CSRFToken": csrfToken()},
      body: new URLSearchParams({outcome: outcome}).toString()
    }).then(function (answer) { return answer.json(); });
  }

  function unblockPad() {
    var pad = $("#unblock-pad");
    if (!pad) { return; }
    var display = $("#unblock-display");
    var message = $("[data-unblock-message]");
    var steps = ["puk", "new", "again"];
    var step = 0;
    var digits = [];
    var puk = null;
    var newPin = null;
    var busy = false;

    function say(value) { message.textContent = value; }

    function show() {
      display.textContent = digits.map(function () { return "●"; }).join("");
      display.setAttribute("aria-label", display.dataset.label.replace("{n}", String(digits.length)));
      document.querySelectorAll("[data-step]").forEach(function (item, index) {
        item.classList.toggle("current", index === step);
        item.classList.toggle("done", index < step);
      });
    }

    function restart() { step = 0; digits = []; puk = null; newPin = null; show(); }

    function finish(answer, json) {
      busy = false;
      if (answer.ok) {
        tellHub("ok").then(function (next) {
          $("[data-unblock-done]").hidden = false;
          pad.hidden = true;
          setTimeout(function () { window.location.replace(next.next); }, 1500);
        });
        return;
      }
      if (answer.status === 404) { say(text("unsupported")); return; }
      if (json.refused === "puk_invalid") {
        tellHub("puk_invalid");
        say(text("puk-invalid-" + json.attempts_remaining));
        restart();
        return;
      }
      if (json.refused === "puk_blocked") {
        tellHub("puk_blocked");
        say(text("puk-blocked"));
        pad.hidden = true;
        return;
      }
      if (json.refused === "pin_format") { say(text("pin-short")); restart(); return; }
      window.location.replace(data.start + "?problem=" + encodeURIComponent(json.refused || "card_error"));
    }

    function submit() {
      var typed = digits.join("");
      digits = [];
      if (steps[step] === "puk") {
        if (typed.length < 6) { say(text("puk-short")); show(); return; }
        puk = typed; step = 1; say(""); show(); return;
      }
      if (typed.length < 6) { say(text("pin-short")); show(); return; }
      if (steps[step] === "new") { newPin = typed; step = 2; say(""); show(); return; }
      if (typed !== newPin) { say(text("pin-mismatch")); newPin = null; step = 1; show(); return; }
      busy = true;
      say(text("unblocking"));
      var sent = JSON.stringify({puk: puk, new_pin: newPin});
      puk = null; newPin = null; typed = null;
      fetch(data.bridge + "/unblock", {
        method: "POST", headers: {"Content-Type": "application/json"}, body: sent
      }).then(function (answer) {
        return answer.json().catch(function () { return {}; }).then(function (json) {
          finish(answer, json);
        });
      }).catch(function () { busy = false; say(text("offline")); restart(); });
      sent = null;
    }

    pad.addEventListener("click", function (click) {
      var key = click.target.closest("button");
      if (!key || busy) { return; }
      if (key.dataset.digit !== undefined) {
        if (digits.length < 8) { digits.push(key.dataset.digit); }
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

  sendOnce();
  unblockPad();
})();
