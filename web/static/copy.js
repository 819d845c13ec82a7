// Copy buttons: <button data-copy="ID"> copies the value of the input ID.
// Without script (or clipboard access) the input is there to copy by hand.
document.querySelectorAll("button[data-copy]").forEach(function (b) {
  b.addEventListener("click", function () {
    var input = document.getElementById(b.getAttribute("data-copy"));
    if (!input) return;
    input.select();
    var done = function () { b.textContent = "Copied"; };
    if (navigator.clipboard) {
      navigator.clipboard.writeText(input.value).then(done, function () {});
    } else if (document.execCommand && document.execCommand("copy")) {
      done();
    }
  });
});
