// The staff scanner: read a coupon QR code from the camera (BarcodeDetector where the browser has it,
// the vendored jsQR otherwise) or from a photo, then redeem it through the console with a fresh nonce.
(function () {
  "use strict";

  var root, text, video, canvas, busy = false, lastCode = null, lastAt = 0, detector = null, stream = null;

  function el(id) { return document.getElementById(id); }

  function show(kind, headline, detail) {
    var box = el("scan-result");
    box.className = "result " + kind;
    el("scan-headline").textContent = headline;
    el("scan-detail").textContent = detail || "";
    // A short buzz for a good scan, a long one for a refusal: staff need not look at the screen.
    if (kind !== "info" && navigator.vibrate) navigator.vibrate(kind === "ok" ? 80 : [200, 80, 200]);
  }

  function describe(coupon) {
    var parts = [coupon.title, text.channels[coupon.channel] || coupon.channel];
    parts.push(text.expires + ": " + (coupon.expires_at ? coupon.expires_at.slice(0, 10) : text.never));
    return parts.join(" · ");
  }

  function nonce() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function handle(code) {
    code = (code || "").trim();
    if (!code || busy) return;
    var now = Date.now();
    if (code === lastCode && now - lastAt < 3000) return;  // the camera sees the same code many times a second
    lastCode = code; lastAt = now; busy = true;
    show("info", text.reading, code);
    var request;
    if (el("scan-lookup-only").checked) {
      request = fetch(root.dataset.lookupUrl + "?code=" + encodeURIComponent(code),
                      { headers: { Accept: "application/json" }, credentials: "same-origin" });
    } else {
      request = fetch(root.dataset.redeemUrl, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json",
                   "X-CSRFToken": root.dataset.csrf, "Idempotency-Key": nonce() },
        body: JSON.stringify({ code: code })
      });
    }
    request.then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (answer) {
      var body = answer.body;
      if (answer.ok && body.status === "redeemed") {
        show("ok", text.redeemed, describe(body));
      } else if (answer.ok) {
        var good = body.status === "issued";
        show(good ? "ok" : "bad", good ? text.valid : (text.statuses[body.status] || body.status), describe(body));
      } else {
        var reason = body.reason || (body.error && body.error.code) || "";
        show("bad", text.reasons[reason] || body.message || (body.error && body.error.message) || text.error,
             body.title ? describe(body) : text.error);
      }
    }).catch(function () {
      show("bad", text.error, text.offline);
    }).then(function () { busy = false; });
  }

  function decodeCanvas(width, height) {
    canvas.width = width; canvas.height = height;
    var context = canvas.getContext("2d", { willReadFrequently: true });
    return context;
  }

  function readImage(source, width, height) {
    var context = decodeCanvas(width, height);
    context.drawImage(source, 0, 0, width, height);
    var pixels = context.getImageData(0, 0, width, height);
    var found = window.jsQR ? window.jsQR(pixels.data, width, height, { inversionAttempts: "attemptBoth" }) : null;
    return found ? found.data : null;
  }

  function scanFrame() {
    if (!stream) return;
    if (video.readyState >= 2 && !busy) {
      if (detector) {
        detector.detect(video).then(function (codes) {
          if (codes.length) handle(codes[0].rawValue);
        }).catch(function () {});
      } else {
        var code = readImage(video, video.videoWidth, video.videoHeight);
        if (code) handle(code);
      }
    }
    window.setTimeout(function () { window.requestAnimationFrame(scanFrame); }, 200);
  }

  function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { show("bad", text.error, text.no_camera); return; }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (media) {
      stream = media;
      video.srcObject = media;
      video.hidden = false;
      return video.play();
    }).then(scanFrame).catch(function () { show("bad", text.error, text.no_camera); });
  }

  function readFile(file) {
    if (!file) return;
    var image = new Image();
    var url = URL.createObjectURL(file);
    image.onload = function () {
      var scale = Math.min(1, 1600 / Math.max(image.naturalWidth, image.naturalHeight));
      var width = Math.round(image.naturalWidth * scale), height = Math.round(image.naturalHeight * scale);
      var done = function (code) {
        URL.revokeObjectURL(url);
        lastCode = null;  // a picture chosen on purpose is always sent
        if (code) handle(code); else show("bad", text.error, text.no_code);
      };
      if (detector) {
        detector.detect(image).then(function (codes) {
          done(codes.length ? codes[0].rawValue : readImage(image, width, height));
        }).catch(function () { done(readImage(image, width, height)); });
      } else {
        done(readImage(image, width, height));
      }
    };
    image.src = url;
  }

  document.addEventListener("DOMContentLoaded", function () {
    root = el("scanner");
    if (!root) return;
    text = JSON.parse(el("scan-text").textContent);
    video = el("scan-video"); canvas = el("scan-canvas");
    if ("BarcodeDetector" in window) {
      try { detector = new window.BarcodeDetector({ formats: ["qr_code"] }); } catch (e) { detector = null; }
    }
    el("scan-camera").addEventListener("click", startCamera);
    el("scan-file").addEventListener("change", function (event) { readFile(event.target.files[0]); event.target.value = ""; });
    el("scan-manual").addEventListener("submit", function (event) {
      event.preventDefault(); lastCode = null; handle(el("scan-code").value);
    });
  });
})();
