// iamd console: small progressive enhancements. Every page works without
// this script except security keys, which need the WebAuthn browser API.
"use strict";
(function () {
  // Confirm destructive actions.
  document.addEventListener("submit", function (e) {
    var msg = e.target.getAttribute("data-confirm");
    var btn = e.submitter;
    if (btn && btn.getAttribute("data-confirm")) msg = btn.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) e.preventDefault();
  }, true);

  function csrf() {
    var el = document.querySelector("input[name=csrf]");
    return el ? el.value : "";
  }

  // Policy editor: validate as you type.
  document.querySelectorAll("textarea[data-validate]").forEach(function (ta) {
    var form = ta.closest("form");
    var kind = (form && form.getAttribute("data-kind")) || "identity";
    var out = form.querySelector(".validation");
    var timer = null, seq = 0;
    function check() {
      var mine = ++seq;
      fetch("/console/api/validate-policy", {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf()},
        body: JSON.stringify({document: ta.value, kind: kind})
      }).then(function (r) { return r.json(); }).then(function (res) {
        if (mine !== seq || !out) return;
        if (res.valid) {
          out.className = "validation ok";
          out.textContent = "✓ Valid policy (" + res.size + " of " + res.limit + " characters)";
        } else {
          out.className = "validation bad";
          out.textContent = (res.code ? res.code + ": " : "") + res.message;
        }
      }).catch(function () {});
    }
    ta.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(check, 250); });
    // Tab indents; Escape releases the next Tab to move the focus on, so
    // the editor is no keyboard trap.
    var release = false;
    ta.addEventListener("focus", function () { release = false; });
    ta.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { release = true; return; }
      if (e.key === "Tab" && !release && !e.shiftKey) { e.preventDefault(); var s = ta.selectionStart; ta.setRangeText("  ", s, ta.selectionEnd, "end"); }
    });
    check();
  });

  // Table filter.
  document.querySelectorAll("input[data-filter]").forEach(function (inp) {
    var table = document.querySelector(inp.getAttribute("data-filter"));
    inp.addEventListener("input", function () {
      var q = inp.value.toLowerCase();
      table.querySelectorAll("tbody tr").forEach(function (tr) {
        tr.style.display = tr.textContent.toLowerCase().indexOf(q) >= 0 ? "" : "none";
      });
    });
  });

  // WebAuthn helpers: go-webauthn sends binary fields as base64url.
  function b64uToBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function bufToB64u(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function post(url, token, body) {
    return fetch(url, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": token},
      body: body ? JSON.stringify(body) : "{}"}).then(function (r) {
        return r.json().then(function (j) { if (!r.ok) throw new Error(j.message || r.statusText); return j; });
      });
  }
  function showError(msg) {
    var el = document.getElementById("key-error");
    if (el) { el.textContent = msg; el.classList.remove("hidden"); }
  }
  function noWebAuthn() { return !window.PublicKeyCredential; }

  document.querySelectorAll("[data-webauthn-register]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      if (noWebAuthn()) return showError("This browser does not support security keys.");
      var token = btn.getAttribute("data-csrf");
      post(btn.getAttribute("data-begin"), token).then(function (opts) {
        var pk = opts.publicKey;
        pk.challenge = b64uToBuf(pk.challenge);
        pk.user.id = b64uToBuf(pk.user.id);
        (pk.excludeCredentials || []).forEach(function (c) { c.id = b64uToBuf(c.id); });
        return navigator.credentials.create({publicKey: pk});
      }).then(function (cred) {
        return post(btn.getAttribute("data-finish"), token, {
          id: cred.id, rawId: bufToB64u(cred.rawId), type: cred.type,
          response: {attestationObject: bufToB64u(cred.response.attestationObject), clientDataJSON: bufToB64u(cred.response.clientDataJSON),
            transports: cred.response.getTransports ? cred.response.getTransports() : []}
        });
      }).then(function (res) { location.href = res.redirect; }).catch(function (e) { showError(e.message); });
    });
  });

  document.querySelectorAll("[data-webauthn-login]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      if (noWebAuthn()) return showError("This browser does not support security keys.");
      var token = btn.getAttribute("data-csrf");
      post(btn.getAttribute("data-begin"), token).then(function (opts) {
        var pk = opts.publicKey;
        pk.challenge = b64uToBuf(pk.challenge);
        (pk.allowCredentials || []).forEach(function (c) { c.id = b64uToBuf(c.id); });
        return navigator.credentials.get({publicKey: pk});
      }).then(function (a) {
        return post(btn.getAttribute("data-finish"), token, {
          id: a.id, rawId: bufToB64u(a.rawId), type: a.type,
          response: {authenticatorData: bufToB64u(a.response.authenticatorData), clientDataJSON: bufToB64u(a.response.clientDataJSON),
            signature: bufToB64u(a.response.signature), userHandle: a.response.userHandle ? bufToB64u(a.response.userHandle) : null}
        });
      }).then(function (res) { location.href = res.redirect; }).catch(function (e) { showError(e.message); });
    });
  });
})();
