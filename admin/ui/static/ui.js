// Copy buttons: the only script the pages need; every form works without it.
document.addEventListener("click", function (e) {
  var b = e.target.closest("button.copy");
  if (!b) return;
  var el = document.getElementById(b.getAttribute("data-copy"));
  if (el && navigator.clipboard) {
    navigator.clipboard.writeText(el.textContent).then(function () { b.textContent = "Copied"; });
  }
});
