/* SatuKartu agent screens: the link to the hub, and the sale made while it is down.
 *
 * The reader daemon on this PC says whether it reaches the hub (`link` in its `state`
 * event, and `link` events: online, queued, syncing, offline_ready). Every agent page
 * shows that in its bar. On the pages that hold no card holder's data (idle, receipt,
 * day), while the link is down and the daemon can check cards by itself
 * (offline_ready), the page steps aside for the offline sale: the
 * credits the bridge lists (`GET /offline`), the kind of goods, the amount, then the
 * card holder's PIN, all sent to the bridge (`POST /offline/redeem`), never to the hub,
 * which cannot be reached. Everything shown comes from the page (rendered in its
 * language while the link was up) or from the bridge. The PIN's digits live in
 * screen.js's keypad and a local variable only, until sent.
 */
(function () {
  "use strict";

  var screen = window.SatuKartuScreen;
  if (!screen) { return; }
  var bridge = screen.bridge;

  function $(id) { return document.getElementById(id); }
  function text(key) { return screen.text(key); }

  /* the first form for 1, the second for any other number (see agent/layout.html) */
  function counted(key, n) {
    return text(key + (n === 1 ? "-one" : "-other")).replace("{n}", String(n));
  }

  /* --- the bar: the link as the daemon last told it --- */
  function linkWords(link) {
    var queued = Number(link.queued) || 0;
    if (link.syncing) { return {mode: "syncing", words: counted("link-sending", queued)}; }
    if (link.online && queued > 0) {
      return {mode: "online", words: counted("link-online-sending", queued)};
    }
    if (link.online) { return {mode: "online", words: text("link-online")}; }
    return {mode: "offline", words: counted("link-offline", queued)};
  }

  function showLink(link) {
    var box = $("link");
    if (!box) { return; }
    var shown = linkWords(link);
    var unready = !link.online && !link.offline_ready;
    box.dataset.link = shown.mode;
    box.dataset.queued = String(Number(link.queued) || 0);
    box.classList.toggle("unready", unready);
    /* rewrite only what changed, so a screen reader hears each change once */
    if ($("link-state").textContent !== shown.words) { $("link-state").textContent = shown.words; }
    var warning = unready ? text("link-not-ready") : "";
    if ($("link-warning").textContent !== warning) { $("link-warning").textContent = warning; }
  }

  /* --- the offline sale (agent/offline_panel.html) --- */
  var panel = $("offline");
  var link = null;
  var open = false;
  var programmes = [];
  var categoryNames = {};
  var amount = null;
  var cardIn = false;
  var pin = null;
  var speech = null;  /* the page's own speech script, while the panel speaks instead */

  function signs() { return panel; }
  function money(value) { return screen.money(value, signs()); }

  function refusalWords(reason) {
    var words = document.querySelector('#offline-words [data-refusal="' + reason + '"]') ||
      document.querySelector('#offline-words [data-refusal="card_error"]');
    return {title: words.dataset.title, advice: words.textContent};
  }

  function showProblem(reason, detail) {
    var words = refusalWords(reason);
    $("offline-problem-title").textContent = words.title;
    $("offline-problem-detail").textContent = detail || "";
    $("offline-problem-detail").hidden = !detail;
    $("offline-problem-advice").textContent = words.advice;
    $("offline-problem").dataset.reason = reason;
    $("offline-problem").hidden = false;
    $("offline-problem").focus();
  }

  function clearProblem() {
    $("offline-problem").hidden = true;
    delete $("offline-problem").dataset.reason;
  }

  function step(name) {
    ["sale", "pin", "done"].forEach(function (each) { $("offline-" + each).hidden = each !== name; });
    if (pin) { pin.reset(); }
  }

  function chosen() {
    var radio = panel.querySelector('input[name="offline-programme"]:checked');
    return radio ? programmes[Number(radio.value)] : null;
  }

  function chosenCategory() {
    var radio = panel.querySelector('input[name="offline-category"]:checked');
    return radio ? radio.value : null;
  }

  function ready() {
    var programme = chosen();
    var value = amount ? amount.value() : "";
    $("offline-continue").disabled = !programme || !value || Number(value) <= 0 ||
      (programme.categories.length > 0 && !chosenCategory());
  }

  function choice(name, id, value, label) {
    var box = document.createElement("div");
    box.className = "choice";
    var input = document.createElement("input");
    input.type = "radio";
    input.name = name;
    input.id = id;
    input.value = value;
    var tag = document.createElement("label");
    tag.htmlFor = id;
    tag.appendChild(label);
    box.appendChild(input);
    box.appendChild(tag);
    return box;
  }

  function title(programme) {
    var titles = programme.title || {};
    return titles[document.documentElement.lang] || titles.en || programme.programme;
  }

  function clearChoices(fieldset) {
    Array.prototype.slice.call(fieldset.querySelectorAll(".choice")).forEach(function (old) {
      old.remove();
    });
  }

  function showCategories() {
    var fieldset = $("offline-categories");
    var programme = chosen();
    clearChoices(fieldset);
    var codes = programme ? programme.categories : [];
    codes.forEach(function (code) {
      var label = document.createElement("span");
      label.textContent = categoryNames[code] || code;
      fieldset.appendChild(choice("offline-category", "offline-category-" + code, code, label));
    });
    fieldset.hidden = codes.length === 0;
    ready();
  }

  function showProgrammes(list) {
    var fieldset = $("offline-programmes");
    programmes = list;
    clearChoices(fieldset);
    list.forEach(function (programme, index) {
      var label = document.createElement("span");
      var name = document.createElement("span");
      name.translate = false;
      name.textContent = title(programme);
      var most = document.createElement("span");
      most.className = "amount-label";
      most.textContent = text("offline-per-sale").replace("{amount}", money(programme.max_redemption));
      label.appendChild(name);
      label.appendChild(document.createElement("br"));
      label.appendChild(most);
      var box = choice("offline-programme", "offline-programme-" + programme.programme + "-" +
                       programme.purse, String(index), label);
      box.querySelector("input").dataset.programme = programme.programme;
      box.querySelector("input").dataset.purse = programme.purse;
      fieldset.appendChild(box);
    });
    /* one credit is chosen for the agent, as online: the first the bridge lists */
    var first = fieldset.querySelector("input");
    if (first) { first.checked = true; }
    fieldset.hidden = list.length === 0;
    $("offline-loading").textContent = list.length ? "" : text("offline-none");
    showCategories();
  }

  function load() {
    $("offline-loading").textContent = text("offline-loading");
    fetch(bridge + "/offline").then(function (answer) { return answer.json(); })
      .then(function (json) { showProgrammes(json.programmes || []); })
      .catch(function () { $("offline-loading").textContent = text("offline"); });
  }

  /* the page's own content steps aside for the panel, and comes back after */
  function pageContent() {
    return Array.prototype.filter.call(panel.parentElement.children, function (child) {
      return child !== panel && child.id !== "offline-problem" && child.id !== "offline-words";
    });
  }

  function openPanel() {
    open = true;
    pageContent().forEach(function (child) {
      if (!child.hidden) { child.hidden = true; child.dataset.offlineAside = "true"; }
    });
    panel.hidden = false;
    /* "Read aloud" reads what is on screen now */
    var main = $("main");
    if (main && speech === null) { speech = main.dataset.speech || ""; }
    if (main) { main.dataset.speech = $("offline-title").textContent + ". " +
                panel.querySelector(".lead").textContent; }
    clearProblem();
    step("sale");
    load();
  }

  function closePanel(why) {
    open = false;
    panel.hidden = true;
    if ($("main") && speech !== null) { $("main").dataset.speech = speech; }
    clearProblem();
    pageContent().forEach(function (child) {
      if (child.dataset.offlineAside) { child.hidden = false; delete child.dataset.offlineAside; }
    });
    /* with no card in, there is no card holder to serve "as usual": just ready */
    if (why === "link-back" && !cardIn) { why = "ready"; }
    if (why) {
      var status = document.querySelector("[data-status]");
      if (status) { status.textContent = text(why); }
    }
  }

  function toPin() {
    var programme = chosen();
    var category = chosenCategory();
    clearProblem();
    $("offline-summary-credit").textContent = title(programme);
    $("offline-summary-category").textContent = category ? categoryNames[category] || category : "";
    $("offline-summary-category").hidden = !category;
    $("offline-summary-category-label").hidden = !category;
    $("offline-summary-amount").textContent = money(amount.value());
    step("pin");
    $("offline-pin-title").focus();
  }

  function done(json) {
    step("done");
    $("offline-done-amount").textContent = money(json.amount);
    $("offline-done-counter").textContent = String(json.counter);
    $("offline-done-left").textContent = typeof json.card_left_today === "number" ?
      text("offline-card-left").replace("{amount}", money(json.card_left_today)) : "";
    $("offline-done-title").focus();
  }

  function capDetail(key, json) {
    if (typeof json.cap !== "number") { return ""; }
    return text(key).replace("{cap}", money(json.cap))
      .replace("{spent}", money(typeof json.spent === "number" ? json.spent : 0));
  }

  function refused(json, say) {
    var reason = json.refused || "card_error";
    if (reason === "pin_invalid" && json.attempts_remaining > 0) {
      say("pin-invalid-" + json.attempts_remaining);
      return;
    }
    if (reason === "pin_format") { say("pin-short"); return; }
    if (reason === "link_online") { closePanel("link-back"); return; }
    if (reason === "pin_invalid") { reason = "pin_blocked"; }
    var detail = "";
    if (reason === "offline_card_cap_exceeded") { detail = capDetail("offline-card-cap", json); }
    if (reason === "offline_agent_cap_exceeded") { detail = capDetail("offline-agent-cap", json); }
    if (reason === "amount_above_cap") { detail = capDetail("offline-amount-cap", json); }
    step("sale");
    showProblem(reason, detail);
  }

  function redeem(digits, say) {
    var programme = chosen();
    fetch(bridge + "/offline/redeem", {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({pin: digits, programme: programme.programme, purse: programme.purse,
                            amount: Number(amount.value()), category: chosenCategory()})
    }).then(function (answer) {
      return answer.json().then(function (json) {
        if (answer.ok && json.queued) { done(json); return; }
        refused(json, say);
      });
    }).catch(function () { say("offline"); });
    digits = null;
  }

  function next() {
    clearProblem();
    if (!screen.linkDown() || (link && !link.offline_ready)) { closePanel(); return; }
    amount.reset();
    panel.querySelectorAll('input[name="offline-category"]').forEach(function (radio) {
      radio.checked = false;
    });
    step("sale");
    ready();
    load();  /* what is left today may have changed */
  }

  /* the idle page's own line must not say "ready" while no card can be served */
  function idleStatus(next) {
    var status = document.querySelector("[data-status]");
    var unready = next.online === false && next.offline_ready === false;
    if (!status) { return; }
    if (unready) { status.textContent = text("link-not-ready"); }
    else if (link && link.online === false && link.offline_ready === false) {
      status.textContent = text("ready");
    }
  }

  function onLink(next) {
    idleStatus(next);
    link = next;
    var wanted = next.online === false && next.offline_ready === true;
    if (wanted && !open) { openPanel(); return; }
    if (!wanted && open) {
      /* a saved sale stays on screen until the agent moves on */
      if (!$("offline-done").hidden && next.online) { return; }
      closePanel(next.online ? "link-back" : null);
    }
  }

  function onEvent(event) {
    if (event.event === "state") { cardIn = Boolean(event.card); }
    if (event.event === "inserted") { cardIn = true; }
    if (event.event === "removed") { cardIn = false; }
    if (event.event === "state" && event.link) { showLink(event.link); if (panel) { onLink(event.link); } }
    if (event.event === "link") { showLink(event); if (panel) { onLink(event); } }
    /* a card taken out during the PIN is a card holder gone: start their sale again;
       one taken out after a refusal leaves a fresh sale for the next card holder */
    if (event.event !== "removed" || !open) { return; }
    if (!$("offline-problem").hidden) { next(); }
    else if (!$("offline-pin").hidden) { step("sale"); }
  }

  if (panel) {
    categoryNames = JSON.parse($("offline-words").dataset.categories || "{}");
    amount = screen.amountPad({pad: $("offline-amount-pad"), input: $("offline-amount"),
                               display: $("offline-amount-display")}, ready);
    pin = screen.pinPad({pad: $("offline-pin-pad"), display: $("offline-pin-display"),
                         message: $("offline-pin-message")}, redeem);
    $("offline-programmes").addEventListener("change", showCategories);
    $("offline-categories").addEventListener("change", ready);
    $("offline-continue").addEventListener("click", toPin);
    $("offline-back").addEventListener("click", function () { step("sale"); });
    $("offline-next").addEventListener("click", next);
  }
  screen.onBridge(onEvent);
})();
