/*
 * The admin upload page, several files at once: files chosen with the file input or dropped on the drop zone are
 * posted one by one to the API (POST /api/v1/uploads/, the session's login and its CSRF token), each shown with
 * its upload progress, then polled (GET /api/v1/uploads/<id>/) until its status is final, then its summary or
 * its row errors. One file chosen with the file input (nothing dropped) is posted by the form itself, to the admin
 * page, which answers with the upload's own page; without this script that is how every upload goes.
 */
(function () {
  "use strict";

  var FINAL = {succeeded: true, failed: true, duplicate: true};
  var POLL_MS = 1000;
  var POLL_LIMIT = 1800; // half an hour of polling, then the row says where to look

  var form = document.getElementById("upload-form");
  if (!form || !window.fetch || !window.FormData) {
    return;
  }
  var input = form.querySelector("input[type=file]");
  var organization = form.querySelector("[name=organization]");
  var format = form.querySelector("[name=format]");
  var dropzone = document.getElementById("upload-dropzone");
  var chosenList = document.getElementById("upload-chosen");
  var results = document.getElementById("upload-results");
  var list = document.getElementById("upload-list");
  var apiUrl = form.getAttribute("data-api-url");
  var adminUrl = form.getAttribute("data-admin-url");
  var dropped = [];

  input.multiple = true;
  input.required = false;
  dropzone.hidden = false;

  function csrfToken() {
    var field = form.querySelector("[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function chosenFiles() {
    return Array.prototype.slice.call(input.files || []).concat(dropped);
  }

  function showChosen() {
    var names = chosenFiles().map(function (file) { return file.name; });
    chosenList.textContent = names.length ? "Chosen: " + names.join(", ") : "";
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function number(value) {
    return typeof value === "number" ? value.toLocaleString("en-US") : String(value);
  }

  function errorLine(error) {
    var where = [];
    if (error.row !== null && error.row !== undefined) { where.push("row " + error.row); }
    if (error.column) { where.push("column '" + error.column + "'"); }
    var message = error.message || error.detail || "";
    return where.length ? where.join(", ") + ": " + message : message;
  }

  function setStatus(row, status, label) {
    row.status.className = "upload-status is-" + status;
    row.status.textContent = label;
    row.item.setAttribute("data-status", status);
  }

  function showErrors(row, errors) {
    if (!errors || !errors.length) { return; }
    var ul = element("ul", "upload-errors errorlist");
    errors.forEach(function (error) { ul.appendChild(element("li", "upload-error", errorLine(error))); });
    row.item.appendChild(ul);
  }

  // A count, or counts by kind ({"input": 1700, "output": 1400}): the total and "kind count" pairs.
  function counts(value, separator) {
    if (typeof value === "number") { return {total: value, detail: ""}; }
    if (!value || typeof value !== "object") { return {total: 0, detail: ""}; }
    var keys = Object.keys(value).filter(function (key) { return typeof value[key] === "number" && value[key]; });
    return {
      total: keys.reduce(function (sum, key) { return sum + value[key]; }, 0),
      detail: keys.map(function (key) { return key + (separator || " ") + number(value[key]); }).join(", ")
    };
  }

  function summaryText(upload) {
    var summary = upload.summary || {};
    if (upload.status === "duplicate") {
      return "The same bytes were already loaded (upload #" + summary.duplicate_of + "); nothing was added.";
    }
    var parts = [];
    if (summary.format_label) { parts.push(summary.format_label + (summary.format_version ? " (" + summary.format_version + ")" : "")); }
    if (summary.records !== undefined) { parts.push(number(summary.records) + " records"); }
    if (summary.rows_read !== undefined) { parts.push(number(summary.rows_read) + " rows read"); }
    var skipped = counts(summary.rows_skipped, ": ");
    if (skipped.total) { parts.push(number(skipped.total) + " rows skipped" + (skipped.detail ? " (" + skipped.detail + ")" : "")); }
    var tokens = counts(summary.tokens);
    if (tokens.total) { parts.push(number(tokens.total) + " tokens" + (tokens.detail ? " (" + tokens.detail + ")" : "")); }
    if (summary.cost && typeof summary.cost === "object") {
      var costs = Object.keys(summary.cost).map(function (currency) { return summary.cost[currency] + " " + currency; });
      if (costs.length) { parts.push("cost " + costs.join(", ")); }
    }
    if (summary.date_from) { parts.push(summary.date_from + " to " + summary.date_to); }
    if (summary.records_unpriced) { parts.push(number(summary.records_unpriced) + " records without a price"); }
    var replaced = summary.replaced && typeof summary.replaced === "object" ? summary.replaced.records : summary.replaced;
    if (replaced) { parts.push(number(replaced) + " records of earlier uploads replaced"); }
    return parts.join(" · ");
  }

  function showResult(row, upload) {
    var labels = {succeeded: "Succeeded", failed: "Failed", duplicate: "Duplicate"};
    setStatus(row, upload.status, labels[upload.status] || upload.status);
    row.progress.remove();
    var link = element("a", "upload-link", "upload #" + upload.id);
    link.href = adminUrl + upload.id + "/change/";
    row.heading.appendChild(document.createTextNode(" "));
    row.heading.appendChild(link);
    var text = summaryText(upload);
    if (text) { row.item.appendChild(element("p", "upload-summary", text)); }
    showErrors(row, upload.errors);
  }

  function poll(row, id, attempt) {
    fetch(apiUrl + id + "/", {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) { throw new Error("status check answered " + response.status); }
        return response.json();
      })
      .then(function (upload) {
        if (FINAL[upload.status]) {
          showResult(row, upload);
        } else if (attempt >= POLL_LIMIT) {
          setStatus(row, upload.status, "Still " + upload.status + ": see the uploads list later");
        } else {
          setStatus(row, upload.status, upload.status === "running" ? "Ingesting…" : "Queued…");
          window.setTimeout(function () { poll(row, id, attempt + 1); }, POLL_MS);
        }
      })
      .catch(function (error) {
        setStatus(row, "rejected", "Unknown: " + error.message);
      });
  }

  function addRow(file) {
    var item = element("li", "upload-file");
    var heading = element("div", "upload-heading");
    heading.appendChild(element("strong", "upload-name", file.name));
    var progress = element("progress");
    progress.max = 100;
    progress.value = 0;
    var status = element("span", "upload-status", "Waiting…");
    heading.appendChild(document.createTextNode(" "));
    heading.appendChild(progress);
    heading.appendChild(status);
    item.appendChild(heading);
    list.appendChild(item);
    return {item: item, heading: heading, progress: progress, status: status};
  }

  function send(file, row) {
    return new Promise(function (resolve) {
      var data = new FormData();
      data.append("file", file, file.name);
      data.append("organization", organization.value);
      if (format && format.value) { data.append("format", format.value); }
      var request = new XMLHttpRequest();
      request.open("POST", apiUrl);
      request.setRequestHeader("X-CSRFToken", csrfToken());
      request.setRequestHeader("Accept", "application/json");
      request.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) { row.progress.value = Math.round((event.loaded / event.total) * 100); }
      });
      request.upload.addEventListener("load", function () {
        row.progress.removeAttribute("value"); // indeterminate while the server checks the file
        setStatus(row, "checking", "Checking…");
      });
      request.addEventListener("load", function () {
        var body = {};
        try { body = JSON.parse(request.responseText || "{}"); } catch (error) { body = {detail: request.responseText}; }
        if (request.status === 202 || request.status === 201) {
          if (FINAL[body.status]) { showResult(row, body); } else { poll(row, body.id, 0); }
        } else {
          setStatus(row, "rejected", "Rejected");
          row.progress.remove();
          var errors = body.errors && body.errors.length ? body.errors : [{message: body.detail || ("HTTP " + request.status)}];
          showErrors(row, errors);
        }
        resolve();
      });
      request.addEventListener("error", function () {
        setStatus(row, "rejected", "Not sent: the connection failed");
        resolve();
      });
      setStatus(row, "uploading", "Uploading…");
      request.send(data);
    });
  }

  input.addEventListener("change", showChosen);

  ["dragenter", "dragover"].forEach(function (name) {
    dropzone.addEventListener(name, function (event) {
      event.preventDefault();
      dropzone.classList.add("is-over");
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    dropzone.addEventListener(name, function () { dropzone.classList.remove("is-over"); });
  });
  dropzone.addEventListener("drop", function (event) {
    event.preventDefault();
    var files = event.dataTransfer ? event.dataTransfer.files : [];
    for (var index = 0; index < files.length; index += 1) { dropped.push(files[index]); }
    showChosen();
  });

  form.addEventListener("submit", function (event) {
    var files = chosenFiles();
    if (files.length === 1 && !dropped.length) {
      return; // the form's own post: the upload's page answers
    }
    event.preventDefault();
    var note = document.getElementById("upload-form-problem");
    if (note) { note.remove(); }
    var problem = !organization.value ? "Choose an organization." : (!files.length ? "Choose or drop at least one file." : "");
    if (problem) {
      note = element("p", "errornote", problem);
      note.id = "upload-form-problem";
      form.insertBefore(note, form.firstChild);
      return;
    }
    results.hidden = false;
    var rows = files.map(addRow);
    input.value = "";
    dropped = [];
    showChosen();
    // One file after another: a burst of large files would compete for the same worker anyway.
    files.reduce(function (previous, file, index) {
      return previous.then(function () { return send(file, rows[index]); });
    }, Promise.resolve());
  });
})();
