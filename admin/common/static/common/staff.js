/* SatuKartu staff screens: the idle warning and sign-out (SCREENS.md C4).
 *
 * The hub ends a staff sign-in after data-staff-idle-signout seconds without a request
 * from its pages (admin/common/staff.py), whatever this script does. The script keeps
 * the page on the same clock, so nobody is surprised by it:
 *  - the clock starts when the page loads, and again after each request the page makes
 *    (htmx; not a background poll, marked X-Satukartu-Poll, which the hub does not
 *    count either) and each answer to the warning;
 *  - typing or clicking tells the hub (GET data-still-here) at most once a minute, so
 *    someone at work is never warned;
 *  - at data-staff-idle-warning seconds a dialog (role=alertdialog, focus moved into it,
 *    the page behind it inert) counts down the rest and offers "Stay signed in" (one
 *    action: the hub's clock starts again) and "Sign out";
 *  - at data-staff-idle-signout seconds it posts the sign-out form (why=timed_out), and
 *    the sign-in page says why.
 * The pages of one browser share the hub's clock (one session cookie), so they share
 * theirs too (BroadcastChannel, nothing stored): work in one tab keeps the others from
 * signing out, and signing out in one takes the others to the sign-in page.
 * Time is read from Date.now() on every tick, so a computer that slept, or a tab the
 * browser throttled, is judged by the time that really passed.
 */
(function () {
  "use strict";

  var body = document.body;
  var data = body.dataset;
  if (!data.staffSignout) { return; }  /* not signed in: nothing to time */

  var warnAfter = Number(data.staffIdleWarning) * 1000;
  var signOutAfter = Number(data.staffIdleSignout) * 1000;
  var PING_EVERY = 60 * 1000;
  var template = document.getElementById("staff-timeout-template");
  if (template) { body.appendChild(template.content.cloneNode(true)); }
  var dialog = document.getElementById("staff-timeout");
  var countdown = document.getElementById("staff-countdown");
  var stay = document.getElementById("stay-signed-in");
  var leave = document.getElementById("sign-out-now");
  var stillHereUrl = dialog ? dialog.dataset.stillHere : null;
  var channel = window.BroadcastChannel ? new BroadcastChannel("satukartu-staff") : null;
  var seen = Date.now();
  var pinging = false;
  var leaving = false;
  var focusBefore = null;

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function signOut(why, told) {
    if (leaving) { return; }
    leaving = true;
    if (told) {  /* another page of this browser signed out: the sign-in is over already */
      window.location.replace(dialog.dataset.signIn + "?problem=" + encodeURIComponent(why));
      return;
    }
    if (channel) { channel.postMessage({signedOut: why}); }
    var form = document.createElement("form");
    form.method = "post";
    form.action = data.staffSignout;
    form.hidden = true;
    [["csrf_token", csrfToken()], ["why", why],
     ["next", window.location.pathname + window.location.search]].forEach(function (pair) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = pair[0];
      input.value = pair[1];
      form.appendChild(input);
    });
    body.appendChild(form);
    form.submit();
  }

  function minutesAndSeconds(ms) {
    var left = Math.max(0, Math.ceil(ms / 1000));
    var seconds = left % 60;
    return Math.floor(left / 60) + ":" + (seconds < 10 ? "0" : "") + seconds;
  }

  function behind(inert) {
    Array.prototype.forEach.call(body.children, function (element) {
      if (element !== dialog && element.tagName !== "SCRIPT") { element.inert = inert; }
    });
  }

  function show(left) {
    if (!dialog) { return; }
    countdown.textContent = minutesAndSeconds(left);
    if (!dialog.hidden) { return; }
    focusBefore = document.activeElement;
    behind(true);
    dialog.hidden = false;
    stay.focus();
  }

  function hide() {
    if (!dialog || dialog.hidden) { return; }
    dialog.hidden = true;
    behind(false);
    if (focusBefore && focusBefore.focus) { focusBefore.focus(); }
  }

  function tick() {
    if (leaving) { return; }
    var idle = Date.now() - seen;
    if (idle >= signOutAfter) { signOut("timed_out"); return; }
    if (idle >= warnAfter) { show(signOutAfter - idle); } else { hide(); }
  }

  function touched(at, told) {
    seen = Math.max(seen, at || Date.now());
    if (channel && !told) { channel.postMessage({seen: seen}); }
    tick();
  }

  /* Ask the hub to start its clock again: 204 while the sign-in lasts; anything else
     means the hub has ended it already (or cannot be asked: then the clock runs on). */
  function stillHere() {
    if (pinging || !stillHereUrl) { return; }
    pinging = true;
    fetch(stillHereUrl, {credentials: "same-origin", cache: "no-store", redirect: "manual"})
      .then(function (answer) {
        if (answer.status === 204) { touched(); } else { signOut("timed_out"); }
      })
      .catch(function () { /* offline: the warning and the hub decide */ })
      .finally(function () { pinging = false; });
  }

  function activity() {
    if (leaving || (dialog && !dialog.hidden)) { return; }  /* the dialog wants its answer */
    if (Date.now() - seen >= PING_EVERY) { stillHere(); }
  }

  if (dialog) {
    stay.addEventListener("click", stillHere);
    leave.addEventListener("click", function () { signOut("signed_out"); });
    dialog.addEventListener("keydown", function (key) {
      if (key.key === "Escape") { key.preventDefault(); stillHere(); }
    });
  }
  ["keydown", "pointerdown"].forEach(function (name) {
    document.addEventListener(name, activity, {passive: true, capture: true});
  });
  /* A page's background poll (hx-headers X-Satukartu-Poll) is not activity: the hub does
     not move its clock for it, so neither does the page. */
  body.addEventListener("htmx:afterRequest", function (event) {
    var config = (event.detail && event.detail.requestConfig) || {};
    var headers = config.headers || {};
    if (headers["X-Satukartu-Poll"] === "1") { return; }
    touched();
  });
  if (channel) {
    channel.onmessage = function (message) {
      var said = message.data || {};
      if (said.signedOut && dialog) { signOut(said.signedOut, true); return; }
      if (typeof said.seen === "number") { touched(said.seen, true); }
    };
    window.addEventListener("pagehide", function () { channel.close(); });
  }
  touched();
  setInterval(tick, 1000);
})();
