// The "Export" panel of a recording's detail page (auditors): JSON, MP4 or PDF of the whole
// session or of a range, started as a job on the server, its progress polled until the file
// can be downloaded (POST /api/recordings/{id}/exports, GET /api/exports/{job}).

import { api } from "./api.js";
import { h, fill, fmtBytes, notice } from "./dom.js";

const POLL_MS = 500;
const FORMATS = [["json", "JSON", "metadata, hashes, events"], ["mp4", "MP4", "one video"], ["pdf", "PDF", "summary report"]];

/** The panel for ``sessionId``: format buttons, an optional range, progress, the download link. */
export function exportPanel(sessionId) {
  const from = h("input", { name: "from", id: "export-from", placeholder: "from: seconds or ISO time", maxlength: 64, size: 22 });
  const to = h("input", { name: "to", id: "export-to", placeholder: "to: seconds or ISO time", maxlength: 64, size: 22 });
  const status = h("div.export-status", { id: "export-status", "aria-live": "polite" });
  const buttons = FORMATS.map(([format, label, hint]) => h("button", {
    type: "button", id: `export-${format}`, title: hint, onclick: () => start(format),
  }, label));

  function busy(on) {
    for (const b of buttons) b.disabled = on;
  }

  async function start(format) {
    const body = { format };
    if (format !== "json") {
      if (from.value.trim()) body.from = from.value.trim();
      if (to.value.trim()) body.to = to.value.trim();
    }
    busy(true);
    try {
      const job = await api(`/api/recordings/${encodeURIComponent(sessionId)}/exports`, { method: "POST", body });
      await follow(job);
    } catch (err) {
      fill(status, notice("error", `Cannot export: ${err.message}`));
    } finally {
      busy(false);
    }
  }

  async function follow(job) {
    const bar = h("progress", { max: 100, value: job.progress, id: "export-progress" });
    const line = h("span.sub", {}, "");
    fill(status, bar, " ", line);
    while (job.state === "queued" || job.state === "running") {
      bar.value = job.progress;
      line.textContent = `${Math.floor(job.progress)}% — ${job.message}`;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      job = await api(`/api/exports/${encodeURIComponent(job.id)}`);
    }
    if (job.state === "failed") {
      fill(status, notice("error", `The ${job.format.toUpperCase()} export failed: ${job.error}`));
      return;
    }
    bar.value = 100;
    fill(status, bar, " ",
      h("a.button.primary", { href: job.download, id: "export-download", download: job.file_name }, `Download ${job.file_name}`),
      h("span.sub", {}, ` ${fmtBytes(job.size_bytes)}`),
      job.notes.length ? h("ul.notes", {}, job.notes.map((n) => h("li.muted", {}, n))) : null);
  }

  return h("div.export-panel", { id: "export-panel" },
    h("div.actions", {}, buttons),
    h("div.actions", {}, from, to),
    h("p.sub", {}, "MP4 and PDF take an optional range: seconds from the start (90) or a time (2026-12-01T14:03:10). MP4 parts are joined without re-encoding; parts that do not verify are refused."),
    status);
}
