// The door scanner of offline events: checks tickets in through the console, one nonce per scan. With no
// connection it keeps each scan in the phone (IndexedDB), answers from the event's check-in list (ticket
// hashes and display names only), and uploads the kept scans in one batch when asked.
(function () {
  "use strict";

  var S = window.MemberdayScanner, root, text, database;

  function el(id) { return document.getElementById(id); }

  function openDatabase() {
    return new Promise(function (resolve, reject) {
      var request = window.indexedDB.open("memberday-door", 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore("scans", { keyPath: "nonce" });
        request.result.createObjectStore("lists", { keyPath: "event_id" });
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function store(name, mode) { return database.transaction(name, mode).objectStore(name); }

  function asPromise(request) {
    return new Promise(function (resolve, reject) {
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function eventId() { return parseInt(el("door-event").value, 10); }

  function queued() {
    return asPromise(store("scans", "readonly").getAll()).then(function (scans) {
      return scans.filter(function (scan) { return scan.event_id === eventId(); });
    });
  }

  function refreshQueue() {
    return queued().then(function (scans) {
      el("door-queued").textContent = scans.length;
      el("door-upload").disabled = scans.length === 0;
    });
  }

  function saveList() {
    return fetch(root.dataset.listUrl.replace("/0/", "/" + eventId() + "/"),
                 { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (list) {
        list.event_id = eventId();
        return asPromise(store("lists", "readwrite").put(list));
      }).then(function () { el("door-list-state").textContent = text.list_saved; })
      .catch(function () { el("door-list-state").textContent = text.list_missing; });
  }

  // The ticket code in what the camera read: the code, or a ticket link /t/CODE.
  function ticketCode(scanned) {
    var code = scanned.trim();
    var at = code.indexOf("/t/");
    if (at >= 0) code = code.slice(at + 3).split(/[/?#]/)[0];
    return code;
  }

  function sha256(textValue) {
    return window.crypto.subtle.digest("SHA-256", new TextEncoder().encode(textValue)).then(function (buffer) {
      return Array.prototype.map.call(new Uint8Array(buffer), function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
    });
  }

  function answerOffline(scan) {
    return asPromise(store("scans", "readwrite").put(scan)).then(function () {
      return Promise.all([asPromise(store("lists", "readonly").get(scan.event_id)), sha256(ticketCode(scan.ticket)), queued()]);
    }).then(function (found) {
      var list = found[0], hash = found[1], earlier = found[2].filter(function (other) {
        return other.nonce !== scan.nonce && other.hash === hash;
      });
      scan.hash = hash;
      asPromise(store("scans", "readwrite").put(scan));
      var entry = list && list.items.filter(function (item) { return item.ticket_hash === hash; })[0];
      if (!entry) S.show("bad", text.reasons.invalid, text.offline_kept);
      else if (earlier.length || entry.status === "checked_in") S.show("bad", text.reasons.already_redeemed, entry.name);
      else if (entry.status !== "confirmed") S.show("bad", text.reasons[entry.status] || entry.status, entry.name);
      else S.show("ok", text.checked_in_offline, entry.name + " · " + text.offline_kept);
      return refreshQueue();
    });
  }

  function checkIn(scanned) {
    var scan = { event_id: eventId(), ticket: scanned, nonce: S.nonce(), scanned_at: new Date().toISOString() };
    S.show("info", text.reading, "");
    if (!navigator.onLine) return answerOffline(scan);
    return S.postJson(root.dataset.checkinUrl.replace("/0/", "/" + scan.event_id + "/"), root.dataset.csrf,
                      { ticket: scan.ticket, nonce: scan.nonce })
      .then(function (answer) {
        var body = answer.body;
        if (body.status === "ok") S.show("ok", text.checked_in, body.name || "");
        else S.show("bad", text.reasons[body.reason] || body.reason || text.error, body.name || "");
      }, function () { return answerOffline(scan); });
  }

  function upload() {
    return queued().then(function (scans) {
      if (!scans.length) return null;
      var items = scans.map(function (scan) { return { ticket: scan.ticket, nonce: scan.nonce, scanned_at: scan.scanned_at }; });
      return S.postJson(root.dataset.batchUrl.replace("/0/", "/" + eventId() + "/"), root.dataset.csrf, { items: items })
        .then(function (answer) {
          if (!answer.ok) { S.show("bad", text.error, text.upload_failed); return null; }
          var ok = answer.body.items.filter(function (item) { return item.status === "ok"; }).length;
          var deletes = scans.map(function (scan) { return asPromise(store("scans", "readwrite").delete(scan.nonce)); });
          return Promise.all(deletes).then(function () {
            S.show("info", text.uploaded, text.uploaded_detail.replace("{ok}", ok)
                                                                .replace("{refused}", answer.body.items.length - ok));
            return refreshQueue();
          });
        }, function () { S.show("bad", text.error, text.offline); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    root = el("door");
    if (!root) return;
    text = window.scannerText = JSON.parse(el("scan-text").textContent);
    openDatabase().then(function (db) {
      database = db;
      refreshQueue();
      if (navigator.onLine) saveList();
    });
    el("door-event").addEventListener("change", function () { refreshQueue(); saveList(); });
    el("door-upload").addEventListener("click", upload);
    S.attach(checkIn);
  });
})();
