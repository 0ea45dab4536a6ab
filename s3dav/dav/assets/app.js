/* s3dav web client: the listing page (s3dav/dav/browser.py) made interactive.
 *
 * Progressive enhancement: the page lists and downloads without this script.
 * With it: upload files and whole folders (picker or drop) with a progress bar
 * per file and overall, new folder, rename, delete, sortable columns. Every
 * change is a plain WebDAV request (PUT, MKCOL, MOVE, DELETE) to the same URLs
 * any WebDAV client uses, so the gateway's guarantees hold (atomic replace,
 * folder markers, overlay). Files are sent straight from the File object by
 * XMLHttpRequest (upload progress events; the browser streams it from disk, no
 * copy in memory, no size limit here). Errors show the gateway's one-line reason
 * (`<status>: <METHOD> <path>: <reason>`).
 *
 * The page's CSP allows this file by its hash and nothing inline, so: no inline
 * handlers, no eval, no HTML built from strings (names go in as text only).
 */
"use strict";

(function () {
  const body = document.body;
  const base = body.dataset.base; // this folder's URL path, quoted, ending in "/"
  if (!base || !document.getElementById("toolbar")) return;
  const writable = body.dataset.writable === "1";
  const links = body.dataset.links === "1"; // share links are on
  const POOL = 3; // files uploaded at the same time
  const LINKS = "/_s3dav/links?path="; // the share-link page (its own module)

  const $ = (id) => document.getElementById(id);
  const el = (tag, props, text) => {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    if (text !== undefined) node.textContent = text;
    return node;
  };

  /* ---- small pure helpers ---- */

  function urlOf(rel, isDir) {
    return base + rel.split("/").map(encodeURIComponent).join("/") + (isDir ? "/" : "");
  }

  function parentOf(rel) {
    const cut = rel.lastIndexOf("/");
    return cut < 0 ? "" : rel.slice(0, cut);
  }

  function humanSize(n) {
    let value = n;
    for (const unit of ["B", "KiB", "MiB", "GiB", "TiB"]) {
      if (value < 1024 || unit === "TiB") {
        return unit === "B" ? `${Math.floor(value)} B` : `${value.toFixed(1)} ${unit}`;
      }
      value /= 1024;
    }
    return `${n} B`;
  }

  /** The gateway's one-line reason from an error body, else the status line. */
  function reasonOf(text, status, statusText) {
    const line = (text || "").split("\n").find((l) => l.trim());
    if (line && line.length < 400 && !line.trim().startsWith("<")) return line.trim();
    return `${status} ${statusText || "error"}`;
  }

  function badName(name) {
    if (!name) return "a name is needed";
    if (name.includes("/")) return "a name cannot hold '/'";
    if (name === "." || name === "..") return `'${name}' is not a name`;
    return "";
  }

  /* ---- status line ---- */

  function say(text, bad) {
    const node = $("status");
    node.textContent = text;
    node.classList.toggle("bad", !!bad);
    node.hidden = !text;
  }

  /** One WebDAV request; resolves to the response, rejects with the gateway's reason. */
  async function dav(method, url, headers) {
    const resp = await fetch(url, {
      method,
      headers: headers || {},
      credentials: "same-origin",
      cache: "no-store",
    });
    if (!resp.ok) throw new Error(reasonOf(await resp.text(), resp.status, resp.statusText));
    return resp;
  }

  /* ---- the listing: rows, actions, sorting, refresh ---- */

  const tbodyOf = () => document.querySelector("#listing tbody");
  const rowsOf = () => Array.from(tbodyOf().querySelectorAll("tr[data-name]"));

  function existingNames() {
    const names = new Map();
    for (const tr of rowsOf()) names.set(tr.dataset.name, tr.classList.contains("dir"));
    return names;
  }

  /** Adds Rename / Delete / Share… to each row (once). */
  function decorate() {
    for (const tr of rowsOf()) {
      if (tr.dataset.decorated) continue;
      tr.dataset.decorated = "1";
      const cell = tr.querySelector("td.acts");
      const href = tr.querySelector("a.name").getAttribute("href");
      if (writable) {
        cell.append(el("button", { type: "button", className: "link rename" }, "Rename"));
        cell.append(el("button", { type: "button", className: "link danger delete" }, "Delete"));
      }
      if (!links) continue;
      const path = decodeURIComponent(href).replace(/\/$/, "");
      cell.append(el("a", { className: "share", href: LINKS + encodeURIComponent(path) }, "Share…"));
    }
  }

  let sortKey = null; // null: the server's order (folders first, by name)
  let sortDir = 1;
  const collator = new Intl.Collator(undefined, { sensitivity: "base", numeric: true });

  function compareRows(a, b) {
    const da = a.classList.contains("dir");
    const db = b.classList.contains("dir");
    if (da !== db) return da ? -1 : 1;
    let c = 0;
    if (sortKey === "size") c = (+a.dataset.size || 0) - (+b.dataset.size || 0);
    if (sortKey === "date") c = (+a.dataset.mtime || 0) - (+b.dataset.mtime || 0);
    if (c === 0) c = collator.compare(a.dataset.name, b.dataset.name) || (a.dataset.name < b.dataset.name ? -1 : 1);
    return c * sortDir;
  }

  function applySort() {
    for (const th of document.querySelectorAll("#listing th.sortable")) {
      th.classList.toggle("asc", th.dataset.sort === (sortKey || "name") && sortDir > 0);
      th.classList.toggle("desc", th.dataset.sort === (sortKey || "name") && sortDir < 0);
    }
    if (!sortKey) return;
    const rows = rowsOf().sort(compareRows);
    const frag = document.createDocumentFragment();
    for (const tr of rows) frag.append(tr);
    tbodyOf().append(frag); // the "../" row stays first
  }

  function setupSorting() {
    for (const [cls, key] of [["name", "name"], ["size", "size"], ["date", "date"]]) {
      const th = document.querySelector(`#listing th.${cls}`);
      if (!th) continue;
      th.classList.add("sortable");
      th.dataset.sort = key;
      th.title = "Sort by " + th.textContent.toLowerCase();
      th.addEventListener("click", () => {
        const current = sortKey || "name";
        sortDir = current === key ? -sortDir : key === "name" ? 1 : -1;
        sortKey = key;
        applySort();
      });
    }
    applySort();
  }

  /** Reloads the listing (the same one GET of this page) and swaps the table body in. */
  async function refresh() {
    const resp = await fetch(base, { credentials: "same-origin", cache: "no-store" });
    if (!resp.ok) {
      say(reasonOf(await resp.text(), resp.status, resp.statusText), true);
      return;
    }
    const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
    const fresh = doc.querySelector("#listing tbody");
    const count = doc.getElementById("count");
    if (fresh) tbodyOf().replaceWith(document.adoptNode(fresh));
    if (count) $("count").replaceWith(document.adoptNode(count));
    decorate();
    applySort();
  }

  /* ---- the name dialog (new folder, rename) ---- */

  function ask(title, value, okLabel) {
    const dialog = $("ask");
    const input = $("ask-input");
    return new Promise((resolve) => {
      $("ask-title").textContent = title;
      $("ask-ok").textContent = okLabel;
      input.value = value || "";
      const finish = (result) => {
        $("ask-ok").removeEventListener("click", ok);
        $("ask-cancel").removeEventListener("click", cancel);
        input.removeEventListener("keydown", key);
        dialog.removeEventListener("cancel", cancel);
        if (dialog.open) dialog.close();
        resolve(result);
      };
      const ok = () => finish(input.value.trim());
      const cancel = (e) => {
        if (e) e.preventDefault();
        finish(null);
      };
      const key = (e) => {
        if (e.key === "Enter") {
          e.preventDefault();
          ok();
        }
      };
      $("ask-ok").addEventListener("click", ok);
      $("ask-cancel").addEventListener("click", cancel);
      input.addEventListener("keydown", key);
      dialog.addEventListener("cancel", cancel);
      dialog.showModal();
      input.focus();
      const dot = input.value.lastIndexOf(".");
      input.setSelectionRange(0, dot > 0 ? dot : input.value.length);
    });
  }

  async function newFolder() {
    say("");
    const name = await ask("New folder in this folder:", "", "Create");
    if (name === null) return;
    const problem = badName(name);
    if (problem) return say(`New folder: ${problem}`, true);
    try {
      await dav("MKCOL", urlOf(name, true));
      say(`Created folder ${name}`);
    } catch (err) {
      say(err.message, true);
    }
    await refresh();
  }

  async function rename(tr) {
    say("");
    const old = tr.dataset.name;
    const isDir = tr.classList.contains("dir");
    const name = await ask(`Rename ${isDir ? "folder" : "file"} “${old}” to:`, old, "Rename");
    if (name === null || name === old) return;
    const problem = badName(name);
    if (problem) return say(`Rename: ${problem}`, true);
    try {
      await dav("MOVE", urlOf(old, isDir), {
        Destination: location.origin + urlOf(name, isDir),
        Overwrite: "F",
      });
      say(`Renamed ${old} to ${name}`);
    } catch (err) {
      say(err.message, true);
    }
    await refresh();
  }

  async function remove(tr) {
    say("");
    const name = tr.dataset.name;
    const isDir = tr.classList.contains("dir");
    const question = isDir
      ? `Delete the folder “${name}” and everything in it?`
      : `Delete “${name}”?`;
    if (!window.confirm(question)) return;
    try {
      await dav("DELETE", urlOf(name, isDir));
      say(`Deleted ${name}`);
    } catch (err) {
      say(err.message, true);
    }
    await refresh();
  }

  /* ---- uploads ---- */

  /** Files and folders of a drop; folders walked through their entries. */
  async function fromDrop(dt) {
    const entries = [];
    const loose = [];
    for (const item of Array.from(dt.items || [])) {
      if (item.kind !== "file") continue;
      const entry = item.webkitGetAsEntry ? item.webkitGetAsEntry() : null;
      if (entry) entries.push(entry);
      else if (item.getAsFile()) loose.push(item.getAsFile());
    }
    if (!entries.length && !loose.length) loose.push(...Array.from(dt.files || []));
    const found = { items: loose.map((file) => ({ rel: file.name, file })), dirs: [] };
    for (const entry of entries) await walk(entry, "", found);
    return found;
  }

  function walk(entry, prefix, found) {
    const rel = prefix + entry.name;
    if (entry.isFile) {
      return new Promise((resolve, reject) =>
        entry.file((file) => {
          found.items.push({ rel, file });
          resolve();
        }, reject)
      );
    }
    found.dirs.push(rel);
    const reader = entry.createReader();
    const children = [];
    return new Promise((resolve, reject) => {
      const more = () =>
        reader.readEntries((batch) => {
          if (!batch.length) return resolve(children);
          children.push(...batch);
          more();
        }, reject);
      more();
    }).then(async (list) => {
      for (const child of list) await walk(child, rel + "/", found);
    });
  }

  function fromInput(input) {
    const items = Array.from(input.files || []).map((file) => ({
      rel: file.webkitRelativePath || file.name,
      file,
    }));
    input.value = "";
    return { items, dirs: [] };
  }

  /** Every folder the upload needs, parents before children. */
  function foldersFor(items, dirs) {
    const all = new Set(dirs);
    for (const { rel } of items) {
      const parts = rel.split("/");
      for (let i = 1; i < parts.length; i++) all.add(parts.slice(0, i).join("/"));
    }
    return Array.from(all).sort((a, b) => a.split("/").length - b.split("/").length || (a < b ? -1 : 1));
  }

  const panel = {
    jobs: [],
    show() {
      $("transfers").hidden = false;
    },
    add(job) {
      job.li = el("li", { className: "queued" });
      job.bar = el("progress", { max: Math.max(job.file.size, 1), value: 0 });
      job.text = el("span", { className: "s" }, "waiting");
      job.li.append(el("span", { className: "n", title: job.rel }, job.rel), job.bar, job.text);
      $("transfer-list").append(job.li);
      this.jobs.push(job);
    },
    draw(job) {
      job.bar.value = job.sent;
      if (job.state === "sending") {
        const pct = job.file.size ? Math.floor((100 * job.sent) / job.file.size) : 100;
        job.text.textContent = `${humanSize(job.sent)} of ${humanSize(job.file.size)} (${pct}%)`;
      }
      this.overall();
    },
    finish(job, error) {
      job.state = error ? "failed" : "done";
      job.sent = job.file.size;
      job.bar.value = Math.max(job.file.size, 1);
      job.li.className = job.state;
      job.text.textContent = error || `done, ${humanSize(job.file.size)}`;
      job.text.title = error || "";
      this.overall();
    },
    overall() {
      const total = this.jobs.reduce((n, j) => n + j.file.size, 0);
      const sent = this.jobs.reduce((n, j) => n + (j.sent || 0), 0);
      const done = this.jobs.filter((j) => j.state === "done").length;
      const failed = this.jobs.filter((j) => j.state === "failed").length;
      const waiting = this.jobs.length - done - failed;
      $("overall").max = Math.max(total, 1);
      $("overall").value = total ? sent : this.jobs.length ? 1 : 0;
      $("overall").classList.toggle("bad", failed > 0);
      const parts = [`${done} of ${this.jobs.length} uploaded`];
      if (failed) parts.push(`${failed} failed`);
      parts.push(waiting ? `${humanSize(sent)} of ${humanSize(total)}` : humanSize(total));
      $("overall-text").textContent = parts.join(" · ");
    },
    busy() {
      return this.jobs.some((j) => j.state === "queued" || j.state === "sending");
    },
  };

  function put(job, blocked) {
    return new Promise((resolve) => {
      const refusal = blocked.get(parentOf(job.rel));
      if (refusal) {
        panel.finish(job, refusal);
        return resolve();
      }
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", urlOf(job.rel, false));
      if (job.file.lastModified > 0) {
        xhr.setRequestHeader("X-OC-Mtime", String(Math.floor(job.file.lastModified / 1000)));
      }
      job.state = "sending";
      xhr.upload.onprogress = (e) => {
        job.sent = e.loaded;
        panel.draw(job);
      };
      xhr.onload = () => {
        const ok = xhr.status >= 200 && xhr.status < 300;
        panel.finish(job, ok ? "" : reasonOf(xhr.responseText, xhr.status, xhr.statusText));
        resolve();
      };
      xhr.onerror = () => {
        panel.finish(job, "the connection failed before the gateway answered");
        resolve();
      };
      xhr.onabort = () => {
        panel.finish(job, "cancelled");
        resolve();
      };
      panel.draw(job);
      xhr.send(job.file); // streamed from the file, not read into memory
    });
  }

  async function upload({ items, dirs }) {
    if (!items.length && !dirs.length) return;
    const existing = existingNames();
    const replaced = items.filter((it) => !it.rel.includes("/") && existing.get(it.rel) === false);
    if (replaced.length) {
      const names = replaced.slice(0, 5).map((it) => it.rel).join(", ");
      const more = replaced.length > 5 ? ` and ${replaced.length - 5} more` : "";
      if (!window.confirm(`Replace ${names}${more}? They exist here already.`)) return;
    }
    say("");
    panel.show();
    const jobs = items.map((it) => ({ rel: it.rel, file: it.file, sent: 0, state: "queued" }));
    for (const job of jobs) panel.add(job);
    panel.overall();
    // Folders first (a PUT into a missing folder is 409); a folder that exists is 405.
    const blocked = new Map();
    for (const dir of foldersFor(items, dirs)) {
      const above = blocked.get(parentOf(dir));
      if (above) {
        blocked.set(dir, above);
        continue;
      }
      const resp = await fetch(urlOf(dir, true), { method: "MKCOL", credentials: "same-origin" });
      if (!resp.ok && resp.status !== 405) {
        blocked.set(dir, reasonOf(await resp.text(), resp.status, resp.statusText));
      }
    }
    let next = 0;
    const worker = async () => {
      while (next < jobs.length) await put(jobs[next++], blocked);
    };
    await Promise.all(Array.from({ length: Math.min(POOL, jobs.length) }, worker));
    const failed = jobs.filter((j) => j.state === "failed").length;
    if (failed) say(`${failed} of ${jobs.length} uploads failed: see the list above`, true);
    await refresh();
  }

  let queue = Promise.resolve();
  function enqueue(found) {
    queue = queue.then(() => upload(found)).catch((err) => say(`Upload: ${err.message}`, true));
    return queue;
  }

  /* ---- drag and drop anywhere on the page ---- */

  function setupDrop() {
    const zone = $("dropzone");
    let depth = 0;
    const hasFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types || []).includes("Files");
    document.addEventListener("dragenter", (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth += 1;
      zone.hidden = false;
    });
    document.addEventListener("dragleave", () => {
      depth -= 1;
      if (depth <= 0) {
        depth = 0;
        zone.hidden = true;
      }
    });
    document.addEventListener("dragover", (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
    });
    document.addEventListener("drop", (e) => {
      e.preventDefault();
      depth = 0;
      zone.hidden = true;
      if (!e.dataTransfer) return;
      fromDrop(e.dataTransfer)
        .then(enqueue)
        .catch((err) => say(`Drop: ${err.message || err}`, true));
    });
  }

  /* ---- start ---- */

  function start() {
    $("toolbar").hidden = false;
    $("pick-files").addEventListener("change", (e) => enqueue(fromInput(e.target)));
    $("pick-folder").addEventListener("change", (e) => enqueue(fromInput(e.target)));
    $("new-folder").addEventListener("click", newFolder);
    $("transfers-close").addEventListener("click", () => {
      if (panel.busy()) return;
      panel.jobs = [];
      $("transfer-list").textContent = "";
      $("transfers").hidden = true;
    });
    if (!writable) {
      $("readonly").hidden = false;
      $("drop-hint").hidden = true;
      for (const id of ["pick-files", "pick-folder", "new-folder"]) $(id).disabled = true;
      for (const id of ["upload-files", "upload-folder"]) $(id).classList.add("off");
    }
    document.querySelector("#listing").addEventListener("click", (e) => {
      const button = e.target.closest("button");
      const tr = button && button.closest("tr[data-name]");
      if (!tr) return;
      if (button.classList.contains("rename")) rename(tr);
      if (button.classList.contains("delete")) remove(tr);
    });
    window.addEventListener("beforeunload", (e) => {
      if (panel.busy()) e.preventDefault();
    });
    decorate();
    setupSorting();
    setupDrop();
    body.dataset.ready = "1"; // for tests: the script has run
  }

  start();
})();
