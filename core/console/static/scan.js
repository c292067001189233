// The scanner's reader: a QR code from the camera (BarcodeDetector where the browser has it, the vendored
// jsQR otherwise), from a photo, or typed. Pages give it what to do with a code: the coupon scanner
// below redeems it; a plugin's page (the door scanner of offline events) checks a ticket in.
(function () {
  "use strict";

  function el(id) { return document.getElementById(id); }

  function show(kind, headline, detail) {
    el("scan-result").className = "result " + kind;
    el("scan-headline").textContent = headline;
    el("scan-detail").textContent = detail || "";
    // A short buzz for a good scan, a long one for a refusal: staff need not look at the screen.
    if (kind !== "info" && navigator.vibrate) navigator.vibrate(kind === "ok" ? 80 : [200, 80, 200]);
  }

  function nonce() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // Wire the page's camera button, photo input and typed code to handle(code) -> a promise.
  function attach(handle) {
    var video = el("scan-video"), canvas = el("scan-canvas"), busy = false, lastCode = null, lastAt = 0;
    var detector = null, stream = null;
    if ("BarcodeDetector" in window) {
      try { detector = new window.BarcodeDetector({ formats: ["qr_code"] }); } catch (e) { detector = null; }
    }

    function take(code, again) {
      code = (code || "").trim();
      if (!code || busy) return;
      var now = Date.now();
      if (!again && code === lastCode && now - lastAt < 3000) return;  // the camera sees one code many times
      lastCode = code; lastAt = now; busy = true;
      Promise.resolve(handle(code)).catch(function () {}).then(function () { busy = false; });
    }

    function readImage(source, width, height) {
      canvas.width = width; canvas.height = height;
      var context = canvas.getContext("2d", { willReadFrequently: true });
      context.drawImage(source, 0, 0, width, height);
      var pixels = context.getImageData(0, 0, width, height);
      var found = window.jsQR ? window.jsQR(pixels.data, width, height, { inversionAttempts: "attemptBoth" }) : null;
      return found ? found.data : null;
    }

    function scanFrame() {
      if (!stream) return;
      if (video.readyState >= 2 && !busy) {
        if (detector) {
          detector.detect(video).then(function (codes) { if (codes.length) take(codes[0].rawValue); })
            .catch(function () {});
        } else {
          var code = readImage(video, video.videoWidth, video.videoHeight);
          if (code) take(code);
        }
      }
      window.setTimeout(function () { window.requestAnimationFrame(scanFrame); }, 200);
    }

    function startCamera() {
      var text = window.scannerText;
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { show("bad", text.error, text.no_camera); return; }
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (media) {
        stream = media; video.srcObject = media; video.hidden = false;
        return video.play();
      }).then(scanFrame).catch(function () { show("bad", text.error, text.no_camera); });
    }

    function readFile(file) {
      if (!file) return;
      var image = new Image(), url = URL.createObjectURL(file);
      image.onload = function () {
        var scale = Math.min(1, 1600 / Math.max(image.naturalWidth, image.naturalHeight));
        var width = Math.round(image.naturalWidth * scale), height = Math.round(image.naturalHeight * scale);
        var done = function (code) {
          URL.revokeObjectURL(url);
          if (code) take(code, true); else show("bad", window.scannerText.error, window.scannerText.no_code);
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

    el("scan-camera").addEventListener("click", startCamera);
    el("scan-file").addEventListener("change", function (event) { readFile(event.target.files[0]); event.target.value = ""; });
    el("scan-manual").addEventListener("submit", function (event) {
      event.preventDefault(); take(el("scan-code").value, true);
    });
  }

  function postJson(url, csrf, body, key) {
    var headers = { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf };
    if (key) headers["Idempotency-Key"] = key;
    return fetch(url, { method: "POST", credentials: "same-origin", headers: headers, body: JSON.stringify(body) })
      .then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, status: response.status, body: data }; });
      });
  }

  window.MemberdayScanner = { attach: attach, show: show, nonce: nonce, postJson: postJson };

  // The coupon scanner (/console/scan).
  document.addEventListener("DOMContentLoaded", function () {
    var root = el("scanner");
    if (!root) return;
    var text = window.scannerText = JSON.parse(el("scan-text").textContent);
    if (root.dataset.kind !== "coupon") return;

    function describe(coupon) {
      var parts = [coupon.title, text.channels[coupon.channel] || coupon.channel];
      parts.push(text.expires + ": " + (coupon.expires_at ? coupon.expires_at.slice(0, 10) : text.never));
      return parts.join(" · ");
    }

    attach(function (code) {
      show("info", text.reading, code);
      var request = el("scan-lookup-only").checked
        ? fetch(root.dataset.lookupUrl + "?code=" + encodeURIComponent(code),
                { headers: { Accept: "application/json" }, credentials: "same-origin" })
            .then(function (response) {
              return response.json().then(function (data) { return { ok: response.ok, body: data }; });
            })
        : postJson(root.dataset.redeemUrl, root.dataset.csrf, { code: code }, nonce());
      return request.then(function (answer) {
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
      }, function () { show("bad", text.error, text.offline); });
    });
  });
})();
