// Redoes the RFC 6962 inclusion proofs of the proof page in the browser:
// the member's pseudonym up to subjects_root, and the manifest's leaf up
// to the log's root, which is also compared with the signed checkpoint's.
(function () {
  var button = document.getElementById("check");
  if (!button || !window.crypto || !crypto.subtle) { return; }
  function bytes(hex) {
    var out = new Uint8Array(hex.length / 2);
    for (var i = 0; i < out.length; i++) { out[i] = parseInt(hex.substr(2 * i, 2), 16); }
    return out;
  }
  function hexOf(buf) {
    return Array.prototype.map.call(new Uint8Array(buf), function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function sha(prefix, a, b) {
    var n = 1 + a.length + (b ? b.length : 0), m = new Uint8Array(n);
    m[0] = prefix; m.set(a, 1); if (b) { m.set(b, 1 + a.length); }
    return crypto.subtle.digest("SHA-256", m).then(function (d) { return new Uint8Array(d); });
  }
  // RFC 9162 §2.1.3.2, with arithmetic that stays exact beyond 2^31.
  function root(index, size, leafHash, path) {
    var fn = index, sn = size - 1, r = Promise.resolve(leafHash);
    if (index >= size) { return Promise.reject(new Error("the position is outside the tree")); }
    path.forEach(function (p) {
      r = r.then(function (h) {
        if (sn === 0) { throw new Error("the path is too long"); }
        var next;
        if (fn % 2 === 1 || fn === sn) {
          next = sha(1, p, h);
          if (fn % 2 === 0) { while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); } }
        } else {
          next = sha(1, h, p);
        }
        fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
        return next;
      });
    });
    return r.then(function (h) { if (sn !== 0) { throw new Error("the path is too short"); } return hexOf(h); });
  }
  function text(id) { var e = document.getElementById(id); return e ? e.textContent.trim() : ""; }
  function list(id) {
    var e = document.getElementById(id);
    return e ? Array.prototype.map.call(e.querySelectorAll("code"), function (c) { return bytes(c.textContent.trim()); }) : [];
  }
  button.addEventListener("click", function () {
    var out = document.getElementById("result"), said = [];
    out.textContent = "Checking…";
    sha(0, bytes(text("pseudonym"))).then(function (leaf) {
      return root(Number(text("index")), Number(text("size")), leaf, list("path"));
    }).then(function (got) {
      if (got !== text("subjects-root")) { throw new Error("your pseudonym's path gives " + got + ", not the manifest's subjects_root"); }
      said.push("Your pseudonym's path gives the manifest's subjects_root.");
      if (!text("leaf-hash")) { said.push("No checkpoint covers the manifest yet."); return null; }
      return root(Number(text("log-index")), Number(text("log-size")), bytes(text("leaf-hash")), list("log-path"));
    }).then(function (got) {
      if (got !== null) {
        if (got !== text("log-root")) { throw new Error("the manifest's path gives " + got + ", not the log's root"); }
        var lines = document.querySelector("pre.checkpoint").textContent.split("\n");
        var signed = hexOf(Uint8Array.from(atob(lines[2]), function (c) { return c.charCodeAt(0); }));
        if (signed !== got) { throw new Error("the log's root is not the one the checkpoint signs"); }
        said.push("The manifest's path gives the root the checkpoint signs, for a log of " + lines[1] + " entries.");
      }
      out.className = "notice ok";
      out.textContent = "Both proofs check. " + said.join(" ");
    }).catch(function (e) {
      out.className = "notice bad";
      out.textContent = "The proof does not check: " + e.message + ".";
    });
  });
})();
