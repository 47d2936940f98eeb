// eventguard admin page: fetches its content again from the listener that
// served it (GET ui/live) every data-refresh-ms milliseconds while the tab
// is visible. It loads nothing else and sends nothing but that GET.
(function () {
  "use strict";
  var every = parseInt(document.body.getAttribute("data-refresh-ms"), 10) || 5000;
  var main = document.getElementById("main");
  var status = document.getElementById("status");
  var last = new Date();
  var busy = false;

  function show(text, stale) {
    status.textContent = text;
    status.classList.toggle("stale", stale);
  }

  function refresh() {
    if (busy || document.hidden) {
      return;
    }
    busy = true;
    fetch("ui/live", { cache: "no-store", credentials: "same-origin", redirect: "error" })
      .then(function (r) {
        if (!r.ok) {
          throw new Error("HTTP " + r.status);
        }
        return r.text();
      })
      .then(function (html) {
        // The server escaped every value in this fragment.
        main.innerHTML = html;
        last = new Date();
        show("live · updated " + last.toLocaleTimeString() + " · every " + every / 1000 + " s", false);
      })
      .catch(function (err) {
        show("sidecar not answering (" + err.message + ") · last update " + last.toLocaleTimeString(), true);
      })
      .finally(function () {
        busy = false;
      });
  }

  setInterval(refresh, every);
  document.addEventListener("visibilitychange", refresh);
})();
