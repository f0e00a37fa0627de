// A settings switch submits its form as soon as it changes; without
// JavaScript the button beside it does the same.
document.addEventListener("change", function (e) {
  var t = e.target;
  if (t.classList && t.classList.contains("switch")) {
    t.form.requestSubmit ? t.form.requestSubmit() : t.form.submit();
  }
});
document.documentElement.classList.add("js");
