// A settings switch submits its form as soon as it changes; without
// JavaScript the button beside it does the same (and is hidden, out of
// the tab order, when this runs). When the page comes back after a
// change, the saved message is in view (the address ends in #saved) and
// the switch just changed has the focus again, with the message as part
// of its description.
document.addEventListener("change", function (e) {
  var t = e.target;
  if (t.classList && t.classList.contains("switch")) {
    t.form.requestSubmit ? t.form.requestSubmit() : t.form.submit();
  }
});
document.documentElement.classList.add("js");
window.addEventListener("load", function () {
  var sw = document.querySelector(".switch[data-saved]"), msg = document.getElementById("saved");
  if (sw) { sw.focus({ preventScroll: true }); }
  if (msg) { msg.scrollIntoView({ block: "start" }); }
});
