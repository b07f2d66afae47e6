/* The pairwise trial page: show both images together once decoded, take the answer by click,
 * tap or arrow key, measure the reaction time, and post the answer exactly once.
 * Without JavaScript the page still works: the images are plain submit buttons. */
(function () {
  "use strict";
  var form = document.getElementById("trial-form");
  if (!form) { return; }
  var pair = form.querySelector(".pair");
  var images = Array.prototype.slice.call(pair.querySelectorAll("img"));
  var buttons = {
    left: form.querySelector('button[value="left"]'),
    right: form.querySelector('button[value="right"]')
  };
  var started = performance.now();
  var timing = {
    decode_ms: null, onset_ms: null, response_ms: null, input: null,
    viewport: [window.innerWidth, window.innerHeight], screen: [screen.width, screen.height],
    dpr: window.devicePixelRatio || 1, blur_count: 0, hidden_count: 0
  };
  var lastPointer = null;
  var answer = null;  // {side, timeStamp, input} of the first answer given
  var sent = false;

  function decoded(img) {
    if (img.decode) { return img.decode().catch(function () {}); }
    return new Promise(function (resolve) {
      if (img.complete) { resolve(); } else { img.onload = img.onerror = resolve; }
    });
  }

  // Both images appear in the same frame, and the reaction time counts from that frame.
  Promise.all(images.map(decoded)).then(function () {
    timing.decode_ms = performance.now() - started;
    requestAnimationFrame(function (frameTime) {
      pair.classList.remove("loading");
      timing.onset_ms = frameTime;
      // No image is focused on arrival: a focus ring on one side would draw the eye to it.
    });
  });

  function choose(side, timeStamp, input) {
    if (answer || timing.onset_ms === null) { return; }
    answer = { side: side, timeStamp: timeStamp, input: input };
    buttons[side].classList.add("chosen");
    form.requestSubmit ? form.requestSubmit(buttons[side]) : buttons[side].click();
  }

  ["left", "right"].forEach(function (side) {
    buttons[side].addEventListener("pointerdown", function (event) { lastPointer = event.pointerType; });
    buttons[side].addEventListener("click", function (event) {
      if (answer && answer.side === side) { return; }  // our own requestSubmit, or a repeat
      event.preventDefault();
      var input = event.detail === 0 ? "keyboard" : (lastPointer || "mouse");
      choose(side, event.timeStamp, input);
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || event.repeat) { return; }
    if (event.key === "ArrowLeft") { event.preventDefault(); choose("left", event.timeStamp, "keyboard"); }
    if (event.key === "ArrowRight") { event.preventDefault(); choose("right", event.timeStamp, "keyboard"); }
  });

  window.addEventListener("blur", function () { timing.blur_count += 1; });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { timing.hidden_count += 1; }
  });

  form.addEventListener("submit", function (event) {
    // One answer per page: a double click or a second key press sends nothing more.
    if (sent || !answer || event.submitter !== buttons[answer.side]) { event.preventDefault(); return; }
    sent = true;
    timing.response_ms = answer.timeStamp;
    timing.input = answer.input;
    form.elements.reaction_time_ms.value = Math.max(0, answer.timeStamp - timing.onset_ms).toFixed(1);
    form.elements.client_timing.value = JSON.stringify(timing);
    form.classList.add("sent");
  });
})();
