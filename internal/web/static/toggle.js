// A settings switch submits its form as soon as it changes; without
// JavaScript the button beside it does the same (and is hidden, out of
// the tab order, when this runs). After the page comes back, the switch
// just changed has the focus again (autofocus), with the saved message
// as part of its description.
document.addEventListener("change", function (e) {
  var t = e.target;
  if (t.classList && t.classList.contains("switch")) {
    t.form.requestSubmit ? t.form.requestSubmit() : t.form.submit();
  }
});
document.documentElement.classList.add("js");
