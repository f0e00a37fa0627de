// Checks the proof page's evidence in the browser, link by link: the
// member's pseudonym up to the manifest's subjects_root (RFC 6962); the
// manifest's RFC 8785 canonical form (without log_index and signature) to
// the digest in the log's entry; the entry up to the log's root; that root
// in the signed checkpoint; and the checkpoint's Ed25519 signature with
// the key the log publishes at /log/key (a C2SP signed note). On a
// notice's page: its entry is the notice's, and up to the signed root.
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
  function b64(s) { return Uint8Array.from(atob(s), function (c) { return c.charCodeAt(0); }); }
  function sha(prefix, a, b) {
    var pre = prefix === null ? 0 : 1, m = new Uint8Array(pre + a.length + (b ? b.length : 0));
    if (pre) { m[0] = prefix; }
    m.set(a, pre); if (b) { m.set(b, pre + a.length); }
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
  // RFC 8785: ECMAScript serialization with object keys sorted by UTF-16
  // code units, which is what JSON.stringify and sort do.
  function canonical(v) {
    if (Array.isArray(v)) { return "[" + v.map(canonical).join(",") + "]"; }
    if (v !== null && typeof v === "object") {
      return "{" + Object.keys(v).sort().map(function (k) { return JSON.stringify(k) + ":" + canonical(v[k]); }).join(",") + "}";
    }
    return JSON.stringify(v);
  }
  // The digest a manifest leaf holds: version, kind, uvarint length, ref,
  // then 32 bytes.
  function leafDigest(leaf) {
    var n = 0, shift = 0, i = 2;
    for (;;) { var b = leaf[i++]; n += (b & 0x7f) * Math.pow(2, shift); if (b < 0x80) { break; } shift += 7; }
    return hexOf(leaf.slice(i + n, i + n + 32));
  }
  function text(id) { var e = document.getElementById(id); return e ? e.textContent.trim() : ""; }
  function list(id) {
    var e = document.getElementById(id);
    return e ? Array.prototype.map.call(e.querySelectorAll("code"), function (c) { return bytes(c.textContent.trim()); }) : [];
  }
  function verifyNote(note, key) {
    // key: name+keyhash+base64(0x01 ‖ Ed25519 public key)
    // (the base64 may itself hold "+": split at the first two only)
    var k = key.trim(), i = k.indexOf("+"), j = k.indexOf("+", i + 1);
    var parts = [k.slice(0, i), k.slice(i + 1, j), k.slice(j + 1)], pub = i > 0 && j > i ? b64(parts[2]) : [];
    if (pub[0] !== 1 || pub.length !== 33) { throw new Error("the published key is not an Ed25519 note key"); }
    var cut = note.indexOf("\n\n"), body = note.slice(0, cut + 1), sigs = note.slice(cut + 2).split("\n");
    var mine = sigs.filter(function (l) { return l.indexOf("\u2014 " + parts[0] + " ") === 0; });
    if (!mine.length) { throw new Error("the checkpoint carries no signature by " + parts[0]); }
    var sig = b64(mine[0].split(" ")[2]);
    if (hexOf(sig.slice(0, 4)) !== parts[1]) { throw new Error("the checkpoint's signature is by another key"); }
    return crypto.subtle.importKey("raw", pub.slice(1), { name: "Ed25519" }, false, ["verify"]).then(function (k) {
      return crypto.subtle.verify({ name: "Ed25519" }, k, sig.slice(4), new TextEncoder().encode(body));
    }).then(function (ok) { if (!ok) { throw new Error("the checkpoint's signature does not verify with the published key"); } });
  }
  // signed checks that the root an entry's path gave is the log's root
  // and that the checkpoint stating it is signed with the published key.
  function signed(got, said) {
    if (got !== text("log-root")) { throw new Error("the entry's path gives " + got + ", not the log's root"); }
    var note = document.querySelector("pre.checkpoint.note").textContent, lines = note.split("\n");
    if (hexOf(b64(lines[2])) !== got) { throw new Error("the log's root is not the one the checkpoint states"); }
    if (lines[1] !== text("log-size")) { throw new Error("the checkpoint is of " + lines[1] + " entries, not " + text("log-size")); }
    return fetch("/log/key").then(function (r) { return r.text(); }).then(function (key) {
      return verifyNote(note, key);
    }).then(function () {
      said.push("The entry's path gives the root of the checkpoint of " + lines[1] + " entries, and its signature verifies with the published key.");
    });
  }
  function report(p, said) {
    var out = document.getElementById("result");
    out.textContent = "Checking…";
    p.then(function () {
      out.className = "notice ok";
      out.textContent = "Everything checks. " + said.join(" ");
    }).catch(function (e) {
      out.className = "notice bad";
      out.textContent = "The proof does not check: " + e.message + ".";
    });
  }
  // A notice's page: its entry is a notice leaf (version 1, kind 9) naming
  // the notice, and it is in the signed log.
  var noticeID = button.getAttribute("data-notice");
  if (noticeID !== null) {
    button.addEventListener("click", function () {
      var said = [], leaf = bytes(text("leaf"));
      report(Promise.resolve().then(function () {
        if (leaf[0] !== 1 || leaf[1] !== 9) { throw new Error("the entry is not a notice's"); }
        var n = 0, shift = 0, i = 2;
        for (;;) { var b = leaf[i++]; n += (b & 0x7f) * Math.pow(2, shift); if (b < 0x80) { break; } shift += 7; }
        var ref = new TextDecoder().decode(leaf.slice(i, i + n));
        if (ref !== noticeID) { throw new Error("the entry is notice " + ref + "'s, not " + noticeID + "'s"); }
        said.push("The entry records notice " + noticeID + ".");
        return sha(0, leaf);
      }).then(function (lh) {
        if (hexOf(lh) !== text("leaf-hash")) { throw new Error("the entry's leaf hash is wrong"); }
        return root(Number(text("log-index")), Number(text("log-size")), lh, list("log-path"));
      }).then(function (got) { return signed(got, said); }), said);
    });
    return;
  }
  button.addEventListener("click", function () {
    var out = document.getElementById("result"), said = [], manifest;
    out.textContent = "Checking…";
    sha(0, bytes(text("pseudonym"))).then(function (leaf) {
      return root(Number(text("index")), Number(text("size")), leaf, list("path"));
    }).then(function (got) {
      manifest = JSON.parse(document.getElementById("manifest").textContent);
      if (got !== text("subjects-root") || manifest.subjects_root !== got) { throw new Error("your pseudonym's path gives " + got + ", not the manifest's subjects_root"); }
      said.push("Your pseudonym's path gives the manifest's subjects_root.");
      if (!text("leaf")) { said.push("No checkpoint covers the manifest yet."); return null; }
      var body = {};
      Object.keys(manifest).forEach(function (k) { if (k !== "log_index" && k !== "signature") { body[k] = manifest[k]; } });
      return sha(null, new TextEncoder().encode(canonical(body))).then(function (d) {
        if (hexOf(d) !== leafDigest(bytes(text("leaf")))) { throw new Error("the manifest is not the one the log's entry records"); }
        said.push("The manifest is the one the log's entry records.");
        return sha(0, bytes(text("leaf")));
      }).then(function (lh) {
        if (hexOf(lh) !== text("leaf-hash")) { throw new Error("the entry's leaf hash is wrong"); }
        return root(Number(text("log-index")), Number(text("log-size")), lh, list("log-path"));
      });
    }).then(function (got) {
      if (got === null) { return null; }
      return signed(got, said);
    }).then(function () {
      out.className = "notice ok";
      out.textContent = "Everything checks. " + said.join(" ");
    }).catch(function (e) {
      out.className = "notice bad";
      out.textContent = "The proof does not check: " + e.message + ".";
    });
  });
})();
