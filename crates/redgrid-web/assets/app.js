// redgrid pages: small progressive enhancements only; every page works without this file.
(function () {
  "use strict";
  // No double submit: once a form is sent, its buttons are disabled until the next page loads.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (form.method && form.method.toLowerCase() === "get") return;
    if (form.dataset.sent === "1") { ev.preventDefault(); return; }
    form.dataset.sent = "1";
    var buttons = form.querySelectorAll("button[type=submit]");
    for (var i = 0; i < buttons.length; i++) {
      var b = buttons[i];
      if (b.dataset.busy) b.textContent = b.dataset.busy;
      b.setAttribute("aria-disabled", "true");
      b.disabled = true;
    }
  }, true);
  // Coming back through the history shows the page again: let its forms be sent once more.
  window.addEventListener("pageshow", function (ev) {
    if (!ev.persisted) return;
    var forms = document.querySelectorAll("form[data-sent]");
    for (var i = 0; i < forms.length; i++) {
      forms[i].removeAttribute("data-sent");
      var buttons = forms[i].querySelectorAll("button[type=submit]");
      for (var j = 0; j < buttons.length; j++) buttons[j].disabled = false;
    }
  });
  // The work queue: tick every request on the page at once.
  document.addEventListener("change", function (ev) {
    if (ev.target.id !== "select-all") return;
    var boxes = document.querySelectorAll("input[name=id]");
    for (var i = 0; i < boxes.length; i++) boxes[i].checked = ev.target.checked;
  });
  // After a refused form, move the focus to its first error so keyboard and screen-reader users land there.
  document.addEventListener("DOMContentLoaded", function () {
    var bad = document.querySelector("[aria-invalid=true], .notice[role=alert]");
    if (bad && typeof bad.focus === "function") {
      if (!bad.hasAttribute("tabindex") && bad.tagName === "P") bad.setAttribute("tabindex", "-1");
      bad.focus();
    }
  });
})();
