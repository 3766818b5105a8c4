// Live character count for the essay. Characters are counted as code points,
// the way the server counts them, not as UTF-16 units like `maxlength` does.
(function () {
  "use strict";
  var essay = document.getElementById("essay_question");
  var counter = document.getElementById("essay-counter");
  if (!essay || !counter) {
    return;
  }
  var limit = parseInt(counter.dataset.maxChars, 10);

  function update() {
    var used = Array.from(essay.value).length;
    counter.textContent = used.toLocaleString() + " / " + limit.toLocaleString() + " characters";
    var over = used > limit;
    counter.classList.toggle("text-danger", over);
    essay.setCustomValidity(over ? "Please keep your answer to " + limit + " characters." : "");
  }

  essay.addEventListener("input", update);
  update();
})();
