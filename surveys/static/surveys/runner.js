/* The trial runner: device check, frame-locked presentation, answers that are never lost.
 *
 * The contract is docs/participant-protocol.md. In short:
 *   1. answers left in localStorage by an earlier page are delivered first;
 *   2. the refresh period F is measured (mean and SD of 120 requestAnimationFrame intervals) with
 *      the window and stimulus size, and POSTed to check/; a timed survey stops here when the
 *      server refuses the device, showing why, with a "check again" button;
 *   3. trials come from GET trials/ (and then from each answer's reply): images are loaded and
 *      decode()d before a trial starts; the stimulus is made visible inside a rAF callback (onset
 *      = its timestamp); a timed exposure T lasts n = max(1, round-half-up(T / F)) frames and the
 *      mask goes up in the first callback with timestamp - onset >= (n - 1/2) F (offset); noise
 *      masks are counted in frames the same way. No setTimeout ever times a stimulus;
 *   4. each answer is queued in localStorage, POSTed with fetch(keepalive), retried with backoff
 *      on network errors and 5xx, and the page goes to done_url only once the queue is empty.
 *
 * Without JavaScript the page's form still runs an untimed survey (trial.html). No framework, no
 * build step: plain ES5-style functions in one closure.
 */
(function () {
  "use strict";

  var root = document.getElementById("runner");
  if (!root || !window.requestAnimationFrame || !window.fetch || !window.Promise) { return; }

  var config = JSON.parse(document.getElementById("runner-config").textContent);
  var form = document.getElementById("trial-form");
  var stimuli = document.getElementById("stimuli");
  var frames = Array.prototype.slice.call(stimuli.querySelectorAll(".frame"));
  var el = {
    counter: document.getElementById("counter"),
    stageNote: document.getElementById("stage-note"),
    label: document.getElementById("example-label"),
    verdicts: document.getElementById("verdicts"),
    cont: document.getElementById("continue"),
    feedback: document.getElementById("feedback"),
    hint: document.getElementById("hint"),
    countdown: document.getElementById("countdown"),
    count: document.getElementById("count"),
    check: document.getElementById("device-check"),
    checkStatus: document.getElementById("check-status"),
    checkProblems: document.getElementById("check-problems"),
    checkAgain: document.getElementById("check-again"),
    error: document.getElementById("runner-error")
  };
  var text = readTexts();
  var csrfToken = form.elements.csrfmiddlewaretoken.value;

  var CHECK_FRAMES = 120;
  var CHECK_WARMUP_FRAMES = 10;  // the first frames after a page load are often late: not the device's rhythm
  var CHECK_RUNS = 4;
  var FEEDBACK_MS = 1000;
  var MAX_RETRY_DELAY_MS = 10000;

  var survey = null;      // the GET trials/ reply without its specs: kind, timed, masks, countdown, done_url
  var upcoming = [];      // specs from the latest reply; upcoming[0] is the current trial
  var frameMs = null;     // F, from the device check
  var current = null;     // the trial on screen (see newTrial)
  var lastPointer = { type: null, timeStamp: 0 };

  // --- Small helpers --------------------------------------------------------------------------

  function readTexts() {
    var found = {};
    var template = document.getElementById("runner-text");
    Array.prototype.forEach.call(template.content.querySelectorAll("[data-text]"), function (node) {
      found[node.getAttribute("data-text")] = node.textContent.trim();
    });
    return found;
  }

  function format(key, values) {
    return (text[key] || "").replace(/\{(\w+)\}/g, function (whole, name) {
      return values[name] === undefined ? whole : String(values[name]);
    });
  }

  function setState(state) { root.setAttribute("data-state", state); }

  function emit(name, detail) {
    document.dispatchEvent(new CustomEvent("evalsite:" + name, { detail: detail }));
  }

  function showError(message) {
    setState("error");
    el.error.textContent = message;
    el.error.hidden = false;
  }

  function wait(ms) {  // only for things that are not stimuli: retries, feedback, countdown
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  /* Exposure in frames: n = max(1, round-half-up(T / F)), a half recognised to within 0.01 frame so
   * that the last digits of the measured F do not decide (surveys/timing.py, HALF_FRAME_SLACK). */
  var HALF_FRAME_SLACK = 0.01;
  function framesFor(ms) { return Math.max(1, Math.floor(ms / frameMs + 0.5 + HALF_FRAME_SLACK)); }

  function round(value, digits) {
    var scale = Math.pow(10, digits === undefined ? 3 : digits);
    return value === null || value === undefined ? null : Math.round(value * scale) / scale;
  }

  // --- The answer queue: localStorage first, then the network -------------------------------

  var memoryQueue = [];  // used only where localStorage is refused (some private modes)

  function queueRead() {
    try {
      var stored = window.localStorage.getItem(config.queue_key);
      return stored ? JSON.parse(stored) : [];
    } catch (error) {
      return memoryQueue.slice();
    }
  }

  function queueWrite(items) {
    memoryQueue = items.slice();
    try {
      if (items.length) { window.localStorage.setItem(config.queue_key, JSON.stringify(items)); }
      else { window.localStorage.removeItem(config.queue_key); }
    } catch (error) { /* memoryQueue holds them for this page */ }
  }

  function queueUpdate(entry) {
    queueWrite(queueRead().map(function (item) { return item.position === entry.position ? entry : item; }));
  }

  function queueRemove(entry) {
    queueWrite(queueRead().filter(function (item) { return item.position !== entry.position; }));
  }

  function answerBody(entry) {
    var body = new URLSearchParams();
    body.set("position", entry.position);
    body.set("choice", entry.choice);
    if (entry.reaction_time_ms !== null) { body.set("reaction_time_ms", entry.reaction_time_ms); }
    body.set("client_timing", JSON.stringify(entry.client_timing));
    return body;
  }

  function jsonReply(response) {
    return response.json().then(
      function (data) { return { status: response.status, data: data }; },
      function () { return { status: response.status, data: null }; });
  }

  function post(url, body, contentType) {
    var headers = { "X-CSRFToken": csrfToken, "Accept": "application/json" };
    if (contentType) { headers["Content-Type"] = contentType; }
    // keepalive: the request outlives the page, so an answer given just before the tab closes arrives.
    return fetch(url, { method: "POST", keepalive: true, credentials: "same-origin", headers: headers, body: body })
      .then(jsonReply);
  }

  function get(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } }).then(jsonReply);
  }

  function refusal(reply) {
    return new Error((reply.data && reply.data.error) || format("request-refused", { status: reply.status }));
  }

  /* Resolves with {status, data} once the server has decided (answered, or refused with a 4xx);
   * retries network failures, 5xx and unreadable replies forever, with a backoff (0.5 s doubling
   * up to 10 s), calling onRetry after each failure. A 429 (too many requests) is not a decision
   * either: it is retried too, no sooner than the server's retry_after. */
  function untilDecided(send, onRetry) {
    var attempt = 0;
    function tryOnce() {
      attempt += 1;
      var notBefore = 0;
      return send(attempt).then(function (reply) {
        if (reply.status === 429) {
          notBefore = 1000 * Number((reply.data && reply.data.retry_after) || 1);
          throw new Error("rate limited");
        }
        if (reply.status >= 500 || reply.data === null && reply.status < 400) { throw new Error("server " + reply.status); }
        return reply;
      }).catch(function () {
        onRetry(attempt);
        var backoff = Math.min(MAX_RETRY_DELAY_MS, 500 * Math.pow(2, attempt - 1));
        return wait(Math.max(backoff, notBefore)).then(tryOnce);
      });
    }
    return tryOnce();
  }

  /* Deliver one queued answer. Resolves with the reply's data ({recorded, feedback, finished,
   * trials} or {conflict: true}); rejects with a message when the server refuses it for good. */
  function deliver(entry) {
    return untilDecided(function (attempt) {
      entry.attempts = attempt;
      entry.client_timing.attempts = attempt;
      queueUpdate(entry);
      return post(config.urls.answer, answerBody(entry));
    }, function () {
      el.feedback.className = "feedback";
      el.feedback.textContent = text.retrying;
    }).then(function (reply) {
      queueRemove(entry);
      var data = reply.data || {};
      if (data.recorded) { return data; }
      if (reply.status === 409) { return { conflict: true }; }  // answered elsewhere: follow the server
      throw refusal(reply);
    });
  }

  /* Answers left by an earlier page (closed tab, lost connection) go first, in order. */
  function flushQueue() {
    var pending = queueRead();
    if (!pending.length) { return Promise.resolve(); }
    setState("sending");
    el.feedback.textContent = text.saving;
    return pending.reduce(function (chain, entry) {
      return chain.then(function () { return deliver(entry); });
    }, Promise.resolve()).then(function () { el.feedback.textContent = ""; });
  }

  // --- Device check ---------------------------------------------------------------------------

  function intervalStats(stamps) {
    var intervals = [];
    for (var i = 1; i < stamps.length; i++) { intervals.push(stamps[i] - stamps[i - 1]); }
    var sorted = intervals.slice().sort(function (a, b) { return a - b; });
    var median = sorted[Math.floor(sorted.length / 2)];
    var mean = intervals.reduce(function (a, b) { return a + b; }, 0) / intervals.length;
    var variance = intervals.reduce(function (a, b) { return a + (b - mean) * (b - mean); }, 0) / intervals.length;
    var late = intervals.filter(function (interval) { return interval > 1.5 * median; }).length;
    return { mean: mean, sd: Math.sqrt(variance), count: intervals.length, late: late };
  }

  function measureRun(count, warmup) {
    return new Promise(function (resolve) {
      var stamps = [];
      requestAnimationFrame(function onFrame(now) {
        stamps.push(now);
        if (stamps.length < warmup + count + 1) { requestAnimationFrame(onFrame); return; }
        resolve(intervalStats(stamps.slice(warmup)));
      });
    });
  }

  /* F is the mean of 120 consecutive intervals. One late frame (another program took the CPU)
   * would lengthen that mean, and with it every exposure counted in frames of it: 8 s planned as
   * 476 frames of 16.8 ms lasts 7.93 s at 60 Hz. So a run with a late frame is measured again,
   * up to CHECK_RUNS runs, and the cleanest run is kept; its SD still decides whether the screen
   * is regular enough. */
  function measureRefresh() {
    var best = null;
    var runs = 0;
    function another() {
      runs += 1;
      return measureRun(CHECK_FRAMES, runs === 1 ? CHECK_WARMUP_FRAMES : 0).then(function (run) {
        if (!best || run.late < best.late || (run.late === best.late && run.sd < best.sd)) { best = run; }
        if (best.late === 0 || runs >= CHECK_RUNS) { best.runs = runs; return best; }
        return another();
      });
    }
    return another();
  }

  /* The width one image gets (CSS px), and whether the images and answer controls are all in view. */
  function measureLayout() {
    var box = frames[0].getBoundingClientRect();
    var verdictsHidden = el.verdicts && el.verdicts.hidden;
    if (el.verdicts) { el.verdicts.hidden = false; }  // measured as on a test trial, whatever comes first
    var fits = [stimuli, el.verdicts].filter(Boolean).every(function (node) {
      var rect = node.getBoundingClientRect();
      return rect.top >= 0 && rect.left >= 0 && rect.bottom <= window.innerHeight && rect.right <= window.innerWidth;
    });
    if (el.verdicts) { el.verdicts.hidden = verdictsHidden; }
    return { width: box.width, fits: fits };
  }

  function deviceCheck() {
    setState("checking");
    el.check.hidden = false;
    el.checkAgain.hidden = true;
    el.checkStatus.textContent = text.checking;
    el.checkProblems.textContent = "";
    window.scrollTo(0, 0);
    return measureRefresh().then(function (measured) {
      // F as logged (to the microsecond): the server recomputes n from the log, and must get the same n.
      frameMs = round(measured.mean);
      var layout = measureLayout();
      var info = {
        frame_ms: round(measured.mean), frame_sd_ms: round(measured.sd), frames: measured.count,
        late_frames: measured.late, frame_runs: measured.runs,
        screen: [screen.width, screen.height], window: [window.innerWidth, window.innerHeight],
        dpr: window.devicePixelRatio || 1, stimulus_px: round(layout.width, 1), stimulus_fits: layout.fits
      };
      return untilDecided(function () {
        return post(config.urls.check, JSON.stringify(info), "application/json");
      }, function () { el.checkStatus.textContent = text.retrying; });
    }).then(function (reply) {
      var data = reply.data || {};
      if (!data.recorded) { throw refusal(reply); }
      if (data.ok || !config.timed) { el.check.hidden = true; return true; }
      refuse(data.problems || []);
      return false;
    });
  }

  function refuse(problems) {
    setState("refused");
    el.checkStatus.textContent = text["check-failed"];
    problems.forEach(function (problem) {
      var item = document.createElement("li");
      item.textContent = problem.message;
      el.checkProblems.appendChild(item);
    });
    el.checkAgain.hidden = false;
  }

  function passDeviceCheck() {
    return deviceCheck().then(function (passed) {
      if (passed) { return; }
      return new Promise(function (resolve) {
        el.checkAgain.onclick = function () { el.checkAgain.onclick = null; resolve(passDeviceCheck()); };
      });
    });
  }

  // --- Images: loaded and decoded before their trial --------------------------------------------

  var preparing = {};  // url -> Promise of {image, decode_ms}

  function loadImage(url, triesLeft) {
    var image = new Image();
    var started = performance.now();
    image.alt = "";
    image.draggable = false;
    image.src = url;
    return image.decode().then(function () {
      return { image: image, decode_ms: performance.now() - started };
    }, function () {
      if (triesLeft > 0) { return wait(500).then(function () { return loadImage(url, triesLeft - 1); }); }
      throw new Error(text["image-failed"]);
    });
  }

  function prepare(url) {
    if (!preparing[url]) { preparing[url] = loadImage(url, 2); }
    return preparing[url];
  }

  function take(url) {  // the prepared image element leaves the cache with the trial that shows it
    var ready = prepare(url);
    delete preparing[url];
    return ready;
  }

  // --- Noise masks --------------------------------------------------------------------------

  function noiseCanvas() {
    var canvas = document.createElement("canvas");
    var aspect = frames[0].offsetWidth / Math.max(1, frames[0].offsetHeight) || 1;
    canvas.width = 96;
    canvas.height = Math.max(1, Math.round(96 / aspect));
    canvas.className = "mask";
    var context = canvas.getContext("2d");
    var pixels = context.createImageData(canvas.width, canvas.height);
    for (var i = 0; i < pixels.data.length; i += 4) {
      pixels.data[i] = Math.random() * 256;
      pixels.data[i + 1] = Math.random() * 256;
      pixels.data[i + 2] = Math.random() * 256;
      pixels.data[i + 3] = 255;
    }
    context.putImageData(pixels, 0, 0);
    return canvas;
  }

  /* With mask_ms empty the last mask stays until the answer; masks before it would have no
   * duration, so one mask is shown. */
  function masksShown() { return survey.mask_ms ? survey.mask_count : Math.min(1, survey.mask_count); }

  // --- One trial ------------------------------------------------------------------------------

  function newTrial(spec) {
    var timed = spec.exposure_ms !== null;
    return {
      spec: spec,
      timed: timed,
      onset: null,            // rAF timestamp of the frame that showed the stimulus
      offset: null,           // rAF timestamp of the frame that put the mask up
      answerableFrom: null,   // input events earlier than this are ignored
      answer: null,
      masks: [],              // [[canvas per frame] per mask]
      dropped: 0,
      maxInterval: null,
      blurs: 0,
      hides: 0,
      focusLost: false,
      decodeMs: null,
      resolveAnswer: null
    };
  }

  function framePlaces(trial, prepared) {
    frames.forEach(function (frame, index) {
      while (frame.firstChild) { frame.removeChild(frame.firstChild); }
      frame.appendChild(prepared[index].image);
    });
    trial.masks = [];
    for (var m = 0; trial.timed && m < masksShown(); m++) {
      trial.masks.push(frames.map(function (frame) { return frame.appendChild(noiseCanvas()); }));
    }
  }

  /* The trial's images and the next trial's are decoded before onset, so that no decoding competes
   * with the frames of an exposure. */
  function prepareTrial(trial, next) {
    var following = next ? next.images.map(prepare) : [];
    return Promise.all(trial.spec.images.map(take)).then(function (prepared) {
      trial.decodeMs = Math.max.apply(null, prepared.map(function (p) { return p.decode_ms; }));
      framePlaces(trial, prepared);
      return Promise.all(following);
    });
  }

  function stageFor(spec) {
    var training = spec.stage === "training";
    if (el.verdicts) { el.verdicts.hidden = training; }
    if (el.cont) { el.cont.hidden = !training; }
    if (el.label) {
      el.label.hidden = !training;
      el.label.textContent = training ? text["label-" + spec.label] || "" : "";
    }
    el.hint.textContent = training ? text["hint-example"] : (spec.exposure_ms !== null ? text["hint-timed"] : text.hint);
  }

  function progressFor(spec) {
    el.counter.textContent = spec.stage === "test" ? "(" + spec.number + "/" + spec.of + ")" : "";
    el.stageNote.textContent = spec.stage === "test" ? "" : format("stage-" + spec.stage, spec);
  }

  /* The onset frame: the prepared stimulus becomes visible inside this rAF callback. */
  function showStimulus(trial, now) {
    progressFor(trial.spec);
    stimuli.classList.remove("loading");
    form.classList.remove("sent");
    trial.onset = now;
    root.setAttribute("data-position", String(trial.spec.position));
    root.setAttribute("data-stage", trial.spec.stage);
    if (!trial.timed) { trial.answerableFrom = now; setState("answerable"); } else { setState("showing"); }
    emit("onset", { position: trial.spec.position });
  }

  /* The offset frame: images hidden and the first mask up, inside this rAF callback. */
  function maskUp(trial, now) {
    frames.forEach(function (frame) { frame.querySelector("img").classList.add("down"); });
    showMask(trial, 0);
    trial.offset = now;
    trial.answerableFrom = now;
    setState("answerable");
    emit("offset", { position: trial.spec.position });
  }

  function showMask(trial, index) {
    trial.masks.forEach(function (canvases, m) {
      canvases.forEach(function (canvas) { canvas.classList.toggle("up", m === index); });
    });
  }

  function presentUntimed(trial) {
    return new Promise(function (resolve) {
      requestAnimationFrame(function (now) { showStimulus(trial, now); resolve(); });
    });
  }

  /* Counts frames from onset; puts the mask up on the first frame at or past (n - 1/2) F. */
  function presentTimed(trial) {
    var planned = framesFor(trial.spec.exposure_ms);
    return new Promise(function (resolve) {
      var previous = null;
      requestAnimationFrame(function onFrame(now) {
        if (trial.onset === null) {
          showStimulus(trial, now);
          previous = now;
          requestAnimationFrame(onFrame);
          return;
        }
        var interval = now - previous;
        previous = now;
        trial.maxInterval = Math.max(trial.maxInterval || 0, interval);
        if (interval > 1.5 * frameMs) { trial.dropped += 1; }
        if (now - trial.onset >= (planned - 0.5) * frameMs) {
          maskUp(trial, now);
          runMasks(trial, now);
          resolve();
          return;
        }
        requestAnimationFrame(onFrame);
      });
    });
  }

  /* Each mask lasts mask_ms, counted in frames like the exposure; after the last one the frame is
   * blank. With mask_ms empty the one mask stays until the answer. */
  function runMasks(trial, start) {
    if (!survey.mask_ms || !trial.masks.length) { return; }
    var frameCount = framesFor(survey.mask_ms);
    var index = 0;
    requestAnimationFrame(function onFrame(now) {
      if (trial.answer) { return; }
      if (now - start >= (frameCount - 0.5) * frameMs) {
        index += 1;
        start = now;
        showMask(trial, index);
      }
      if (index < trial.masks.length) { requestAnimationFrame(onFrame); }
    });
  }

  function countdown(seconds, position) {
    setState("countdown");
    el.countdown.hidden = false;
    emit("countdown", { position: position, seconds: seconds });
    var steps = [];
    for (var s = seconds; s >= 1; s--) { steps.push(s); }
    return steps.reduce(function (chain, value) {
      return chain.then(function () { el.count.textContent = String(value); return wait(1000); });
    }, Promise.resolve()).then(function () { el.countdown.hidden = true; });
  }

  // --- Input ----------------------------------------------------------------------------------

  var KEYS = {
    pairwise: { ArrowLeft: "left", ArrowRight: "right", f: "left", j: "right" },
    real_fake: { ArrowLeft: "real", ArrowRight: "generated", f: "real", j: "generated" }
  };

  function offer(choice, timeStamp, input) {
    var trial = current;
    if (!trial || trial.answer || trial.answerableFrom === null || timeStamp < trial.answerableFrom) { return false; }
    var training = trial.spec.stage === "training";
    if (training !== (choice === "seen")) { return false; }
    trial.answer = { choice: choice, timeStamp: timeStamp, input: input };
    trial.resolveAnswer();
    return true;
  }

  function inputOf(event) {
    if (event.detail === 0 && !event.pointerType) { return "keyboard"; }  // a click made with Enter or Space
    return event.pointerType || lastPointer.type || "mouse";
  }

  function onClick(event) {
    var button = event.target.closest("button[name=choice]");
    if (!button) { return; }
    event.preventDefault();  // the runner answers; the form is for pages without JavaScript
    var pressed = lastPointer.button === button && lastPointer.timeStamp <= event.timeStamp ? lastPointer.timeStamp : event.timeStamp;
    offer(button.value, inputOf(event) === "keyboard" ? event.timeStamp : pressed, inputOf(event));
  }

  function onPointerDown(event) {
    lastPointer = { type: event.pointerType, timeStamp: event.timeStamp, button: event.target.closest("button") };
  }

  function onKeyDown(event) {
    if (event.altKey || event.ctrlKey || event.metaKey || event.repeat || !current) { return; }
    var key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    var choice = current.spec.stage === "training"
      ? (key === "Enter" || key === " " || key === "ArrowRight" ? "seen" : null)
      : KEYS[config.kind][key];
    if (!choice) { return; }
    event.preventDefault();  // also keeps Enter on a focused button from clicking it a second time
    offer(choice, event.timeStamp, "keyboard");
  }

  function onBlur() {
    if (!current) { return; }
    current.blurs += 1;
    if (current.onset !== null && !current.answer) { current.focusLost = true; }
  }

  function onVisibility() {
    if (document.visibilityState !== "hidden" || !current) { return; }
    current.hides += 1;
    if (current.onset !== null && !current.answer) { current.focusLost = true; }
  }

  // --- The trial log and its delivery ---------------------------------------------------------

  function timingLog(trial) {
    var answer = trial.answer;
    var achieved = trial.offset === null ? null : trial.offset - trial.onset;
    return {
      planned_ms: trial.spec.exposure_ms,
      frames_planned: trial.timed ? framesFor(trial.spec.exposure_ms) : null,
      frame_ms: round(frameMs),
      onset_ms: round(trial.onset),
      offset_ms: round(trial.offset),
      achieved_ms: round(achieved),
      frames_achieved: achieved === null ? null : Math.round(achieved / frameMs),
      dropped_frames: trial.timed ? trial.dropped : null,
      max_interval_ms: round(trial.maxInterval),
      decode_ms: round(trial.decodeMs, 1),
      response_ms: round(answer.timeStamp),
      reaction_time_ms: round(answer.timeStamp - trial.onset, 1),
      input: answer.input,
      blur_count: trial.blurs,
      hidden_count: trial.hides,
      focus_lost: trial.focusLost,
      viewport: [window.innerWidth, window.innerHeight],
      dpr: window.devicePixelRatio || 1,
      attempts: 0
    };
  }

  function send(trial) {
    var log = timingLog(trial);
    var entry = {
      position: trial.spec.position, choice: trial.answer.choice, reaction_time_ms: log.reaction_time_ms,
      client_timing: log, attempts: 0
    };
    queueWrite(queueRead().concat([entry]));  // stored before it is sent: a closed tab loses nothing
    var delivered = deliver(entry);
    emit("answer", { position: trial.spec.position });
    return delivered;
  }

  // --- The run --------------------------------------------------------------------------------

  function clearStage() {
    stimuli.classList.add("loading");
    form.classList.add("sent");
  }

  function runTrial(spec) {
    var trial = newTrial(spec);
    current = trial;
    var answered = new Promise(function (resolve) { trial.resolveAnswer = resolve; });
    setState("loading");
    if (document.activeElement && document.activeElement.closest && document.activeElement.closest("#trial-form")) {
      document.activeElement.blur();  // a focus ring left on one side would draw the eye to it
    }
    return prepareTrial(trial, upcoming[1]).then(function () {
      return spec.countdown && survey.countdown_s ? countdown(survey.countdown_s, spec.position) : null;
    }).then(function () {
      stageFor(spec);
      el.feedback.className = "feedback";
      el.feedback.textContent = "";
      return trial.timed ? presentTimed(trial) : presentUntimed(trial);
    }).then(function () {
      return answered;
    }).then(function () {
      clearStage();
      setState("sending");
      return send(trial);
    }).then(function (reply) {
      return reply.feedback ? showFeedback(trial, reply).then(function () { return reply; }) : reply;
    });
  }

  function showFeedback(trial, reply) {
    setState("feedback");
    el.feedback.className = "feedback " + (reply.feedback.correct ? "correct" : "wrong");
    el.feedback.textContent = reply.feedback.correct ? text.correct : text.wrong;
    emit("feedback", { position: trial.spec.position, correct: reply.feedback.correct });
    return wait(FEEDBACK_MS);
  }

  function loadTrials() {
    return untilDecided(function () { return get(config.urls.trials); }, function () {}).then(function (reply) {
      if (reply.status !== 200) { throw refusal(reply); }
      return reply.data;
    });
  }

  function follow(reply) {
    if (reply.conflict) { return loadTrials().then(follow); }
    if (reply.trials) { upcoming = reply.trials; }
    if (reply.finished || !upcoming.length) { return finish(); }
    return runTrial(upcoming[0]).then(follow);
  }

  function finish() {
    setState("done");
    if (queueRead().length) { return flushQueue().then(finish); }
    window.location.assign(survey.done_url);
  }

  function listen() {
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    form.addEventListener("click", onClick);
    form.addEventListener("pointerdown", onPointerDown);
    document.addEventListener("keydown", onKeyDown);
    window.addEventListener("blur", onBlur);
    document.addEventListener("visibilitychange", onVisibility);
  }

  function start() {
    listen();
    clearStage();
    el.counter.textContent = "";
    el.stageNote.textContent = "";
    flushQueue()
      .then(passDeviceCheck)
      .then(loadTrials)
      .then(function (data) {
        survey = data;
        return follow(data);
      })
      .catch(function (problem) { showError(problem.message); });
  }

  start();
})();
