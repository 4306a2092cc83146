// Follows an import job's progress on its page; reloads the page when the job has ended.
// Without JavaScript the page refreshes itself every few seconds instead (a meta refresh in <noscript>).
(function () {
  "use strict";
  var section = document.querySelector("[data-progress-url]");
  if (!section) { return; }
  var url = section.getAttribute("data-progress-url");
  var bar = document.getElementById("import-bar");
  var state = document.getElementById("import-state");

  function poll() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (job) {
        if (job.state === "done" || job.state === "failed") { window.location.reload(); return; }
        bar.value = job.percent;
        bar.textContent = job.percent + " %";
        state.textContent = job.state === "queued" ? "Waiting for a worker to take the file"
          : (job.stage === "dry_run" ? "Checking" : "Importing") + " the file: " + job.percent + " %";
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
}());
