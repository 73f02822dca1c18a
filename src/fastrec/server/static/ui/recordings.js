// Recordings: the searchable list (filters in the URL, so back/forward and links work) and
// one recording's detail (metadata, segments, integrity, reviews, bookmarks, export, share links).

import { api, allows, query } from "./api.js";
import { h, fill, notice, fmtBytes, fmtDuration, fmtTime, text, timeEl, modal, toast } from "./dom.js";
import { exportPanel } from "./export.js";
import { heatmapPanel } from "./heatmap.js";
import { shareDialog, shareTable } from "./share.js";

const PAGE = 50;
const FILTERS = ["q", "since", "until", "server", "user", "ip", "connection_type"];

function durationOf(s) {
  const start = Date.parse(s.start_time);
  const end = s.end_time ? Date.parse(s.end_time) : (s.recording ? Date.now() : NaN);
  return (end - start) / 1000;
}

/** "2026-01-12T14:03" (datetime-local, local time) <-> ISO with offset for the API. */
function localInputToIso(value) {
  if (!value) return "";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}

function statusBadges(s) {
  const out = [];
  if (s.recording) out.push(h("span.badge.live", {}, "recording"));
  for (const st of s.statuses || []) {
    if (st === "complete" || st === "recording") continue;
    out.push(h(`span.badge.${st === "interrupted" ? "warn" : "bad"}`, {}, st));
  }
  if (!out.length) out.push(h("span.badge.ok", {}, "complete"));
  return out;
}

export function reviewedBadge(review) {
  return review ? h("span.badge.ok.reviewed", { title: `${review.user}, ${fmtTime(review.at)}${review.note ? `: ${review.note}` : ""}` },
    `✓ reviewed by ${review.user}`) : h("span.badge.muted", {}, "not reviewed");
}

export async function renderRecordings(root, ctx) {
  const isAdmin = allows(ctx.user, "admin");
  const params = () => new URLSearchParams(location.search);
  const inputs = {
    q: h("input", { type: "search", name: "q", placeholder: "Search id, server, user, IP…", "aria-label": "search", id: "rec-search" }),
    since: h("input", { type: "datetime-local", name: "since", "aria-label": "from" }),
    until: h("input", { type: "datetime-local", name: "until", "aria-label": "until" }),
    server: h("input", { name: "server", placeholder: "Server", "aria-label": "server" }),
    user: h("input", { name: "user", placeholder: "User", "aria-label": "user" }),
    ip: h("input", { name: "ip", placeholder: "IP", "aria-label": "IP address", size: 12 }),
    connection_type: h("input", { name: "connection_type", placeholder: "Type (RDP…)", "aria-label": "connection type", size: 10 }),
  };
  const form = h("form.filters.rec-filters", { role: "search" },
    inputs.q, h("label.inline", {}, "From ", inputs.since), h("label.inline", {}, "to ", inputs.until),
    inputs.server, inputs.user, inputs.ip, inputs.connection_type,
    h("button.primary", { type: "submit" }, "Search"),
    h("button.link", { type: "button", onclick: () => { history.pushState(null, "", "/recordings"); load(); } }, "Clear"));
  const results = h("div.results");
  const pager = h("nav.pager", { "aria-label": "pages" });
  const bulk = h("div.bulk");
  fill(root, h("div.page-head", {}, h("h1", {}, "Recordings"), bulk), form, results, pager);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const p = new URLSearchParams();
    for (const name of FILTERS) if (inputs[name].value.trim()) p.set(name, inputs[name].value.trim());
    history.pushState(null, "", `/recordings${p.toString() ? `?${p}` : ""}`);
    load();
  });
  window.addEventListener("popstate", load);

  const selected = new Set();
  function drawBulk() {
    fill(bulk, isAdmin && selected.size ? h("button.danger", { type: "button", id: "delete-selected", onclick: () => confirmDelete([...selected], load) },
      `Delete ${selected.size} selected…`) : null);
  }

  async function load() {
    const p = params();
    for (const name of FILTERS) inputs[name].value = p.get(name) || "";
    const offset = Math.max(0, Number.parseInt(p.get("offset") || "0", 10) || 0);
    selected.clear();
    drawBulk();
    fill(results, notice("loading", "Loading recordings…"));
    fill(pager);
    let page;
    try {
      page = await api("/api/recordings", { params: {
        q: p.get("q"), server: p.get("server"), user: p.get("user"), ip: p.get("ip"), connection_type: p.get("connection_type"),
        since: localInputToIso(p.get("since")), until: localInputToIso(p.get("until")), limit: PAGE, offset } });
    } catch (err) {
      fill(results, notice("error", `Cannot load the recordings: ${err.message}`, " ", h("button", { type: "button", onclick: load }, "Retry")));
      return;
    }
    const filtered = FILTERS.some((name) => p.get(name));
    if (!page.sessions.length) {
      fill(results, notice("empty", filtered ? "No recording matches these filters." : "No recordings yet. They appear here as soon as a recorder writes them."));
    } else {
      fill(results, h("table.data.recordings", { id: "recordings" },
        h("thead", {}, h("tr", {}, [isAdmin ? h("th", {}, h("span.sr", {}, "select")) : null,
          ...["Started", "Duration", "Server", "User", "IP", "Type", "Parts", "Size", "Status", "Review", ""].map((c) => h("th", {}, c))])),
        h("tbody", {}, page.sessions.map((s) => {
          const href = `/recordings/${encodeURIComponent(s.session_id)}`;
          return h("tr", { dataset: { sessionId: s.session_id } },
            isAdmin ? h("td", {}, h("input", { type: "checkbox", "aria-label": `select ${s.session_id}`, onchange: (e) => {
              if (e.target.checked) selected.add(s.session_id); else selected.delete(s.session_id);
              drawBulk();
            } })) : null,
            h("td", {}, h("a", { href, title: s.session_id }, fmtTime(s.start_time)), h("div.sub.id", {}, s.session_id)),
            h("td.num", {}, fmtDuration(durationOf(s))),
            h("td", {}, text(s.server)), h("td", {}, text(s.user)), h("td", {}, text(s.ip)), h("td", {}, text(s.connection_type)),
            h("td.num", {}, String(s.parts)), h("td.num", {}, fmtBytes(s.size_bytes)),
            h("td", {}, statusBadges(s)), h("td", {}, reviewedBadge(s.reviewed)),
            h("td", {}, h("a.button.small", { href: `/replay/${encodeURIComponent(s.session_id)}` }, s.recording ? "Watch" : "Replay")));
        }))));
    }
    const last = Math.min(page.total, offset + page.sessions.length);
    const go = (to) => { const q = params(); if (to) q.set("offset", String(to)); else q.delete("offset"); history.pushState(null, "", `/recordings?${q}`); load(); };
    fill(pager, page.total ? h("span", { id: "page-info" }, `${page.total ? offset + 1 : 0}–${last} of ${page.total}`) : null,
      offset > 0 ? h("button", { type: "button", onclick: () => go(Math.max(0, offset - PAGE)) }, "← Newer") : null,
      last < page.total ? h("button", { type: "button", onclick: () => go(offset + PAGE) }, "Older →") : null);
  }
  await load();
}

async function confirmDelete(ids, after) {
  const reason = h("input", { name: "reason", id: "delete-reason", maxlength: 2000, placeholder: "why (kept in the audit log)" });
  const result = await modal(ids.length === 1 ? "Delete this recording?" : `Delete ${ids.length} recordings?`,
    h("div", {}, h("p", {}, "All parts are deleted from disk. The audit log and the recordings' deletion chain keep a record of it. This cannot be undone."),
      h("ul.ids", {}, ids.slice(0, 10).map((id) => h("li", {}, id)), ids.length > 10 ? h("li", {}, `… and ${ids.length - 10} more`) : null),
      h("label", { for: "delete-reason" }, "Reason"), reason),
    { submitLabel: "Delete permanently", danger: true,
      onSubmit: () => api("/api/recordings/delete", { method: "POST", body: { session_ids: ids, reason: reason.value } }) });
  if (!result) return false;
  const refused = Object.entries(result.refused || {});
  if (refused.length) toast(`Not deleted: ${refused.map(([id, why]) => `${id}: ${why}`).join("; ")}`, "error");
  if (result.deleted.length) toast(`Deleted ${result.deleted.length} recording${result.deleted.length > 1 ? "s" : ""}`);
  await after(result);
  return true;
}

function section(title, ...content) {
  return h("section.card", {}, h("h2", {}, title), ...content);
}

function dl(pairs) {
  return h("dl.meta", {}, pairs.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

export async function renderRecording(root, ctx) {
  const id = ctx.param;
  const canAudit = allows(ctx.user, "auditor");
  const isAdmin = allows(ctx.user, "admin");
  fill(root, notice("loading", "Loading the recording and verifying its files…"));
  let detail;
  let may;  // what the recording policy's permissions let this user do
  try {
    const config = await api("/api/ui-config");
    may = new Set(config.permissions);
    detail = await api(`/api/recordings/${encodeURIComponent(id)}`);
  } catch (err) {
    fill(root, notice("error", err.status === 404 ? `There is no recording ${id}.` : `Cannot load the recording: ${err.message}`),
      h("p", {}, h("a", { href: "/recordings" }, "← All recordings")));
    return;
  }
  const s = detail.session;
  const replayHref = `/replay/${encodeURIComponent(id)}`;
  const actions = h("div.actions", {},
    h("a.button.primary", { href: replayHref, id: "open-replay" }, s.recording ? "Watch live" : "Replay"),
    may.has("share") ? h("button", { type: "button", id: "share-button", onclick: async () => {
      const config = await api("/api/ui-config");
      if (await shareDialog(id, { choices: config.share_expiry_choices })) await loadShares();
    } }, "Share…") : null,
    isAdmin ? h("button.danger", { type: "button", id: "delete-button", onclick: () => confirmDelete([id], (r) => {
      if (r.deleted.includes(id)) location.assign("/recordings");
    }) }, "Delete…") : null);

  const integrity = detail.integrity;
  let verdict = notice("empty", "Not verified.");
  let signatures = null;
  let deletions = null;
  if (integrity) {
    // the summary's first line is the verdict; its other lines repeat the parts, except
    // metadata files that cannot be read (no part to hang them on)
    const [head, ...rest] = integrity.summary.split("\n");
    const unreadable = rest.map((l) => l.trim()).filter((l) => l.endsWith("metadata cannot be read"));
    const flagged = integrity.parts.filter((p) => p.status !== "ok" || p.notes.length);
    verdict = h(`div.verdict.${integrity.ok ? "ok" : "bad"}`, { id: "integrity", "data-ok": String(integrity.ok) },
      h("strong", {}, integrity.ok ? "✓ Chain verified" : "✗ Integrity problems"), h("div", {}, head),
      flagged.length || unreadable.length ? h("ul.parts", {},
        flagged.map((p) => h("li", {}, `Part ${p.part}: ${p.status}`,
          p.problems.length ? h("ul.problems", {}, p.problems.map((x) => h("li.bad", {}, x))) : null,
          p.notes.length ? h("ul.notes", {}, p.notes.map((x) => h("li.muted", {}, x))) : null)),
        unreadable.map((l) => h("li.bad", {}, l))) : null);
    // whether the metadata and deletion records were checked against the signing keys
    const checked = integrity.signatures_checked;
    signatures = h(`div.signatures.${checked ? "checked" : "unchecked"}`,
      { id: "integrity-signatures", "data-checked": String(checked) },
      h("strong", {}, checked ? "✓ Signatures checked" : "⚠ Signatures not checked"), " ",
      h("span", {}, checked ? integrity.signatures.replace(/^checked /, "") : integrity.signatures.replace(/^not checked: /, "")));
    if (integrity.deletions.length || integrity.deletion_log.length) {
      deletions = h("div.deletions", { id: "integrity-deletions" },
        h("strong", {}, `Deletion records (${integrity.deletions.length})`),
        h("ul", {}, integrity.deletions.map((d) => h(`li.deletion.${d.signature.replace(" ", "-")}`,
          { "data-signature": d.signature },
          `${d.parts.length === 1 ? "Part" : "Parts"} ${d.parts.join(", ")} deleted by ${d.by} on `, timeEl(d.at),
          d.reason ? ` (${d.reason})` : "", " — ",
          h("span.signature", {}, d.signature === "verified" ? `✓ signature verified (key ${d.key_id})`
            : d.signature === "refused" ? `✗ signature refused: ${d.problem}`
              : d.key_id ? `signed by key ${d.key_id}, not checked` : "unsigned, not checked"))),
        integrity.deletion_log.map((problem) => h("li.bad", {}, `deletion log: ${problem}`))));
    }
  }

  const segments = h("table.data.segments", { id: "segments" },
    h("thead", {}, h("tr", {}, ["Part", "File", "Start", "End", "Duration", "Status", "Size", "Frames", "Dropped", "SHA-256", "Notes"].map((c) => h("th", {}, c)))),
    h("tbody", {}, detail.segments.map((g) => h("tr", {},
      h("td.num", {}, String(g.part)), h("td.file", { title: g.file }, g.file), h("td", {}, timeEl(g.start_time)), h("td", {}, timeEl(g.end_time)),
      h("td.num", {}, g.end_time ? fmtDuration((Date.parse(g.end_time) - Date.parse(g.start_time)) / 1000) : "—"),
      h("td", {}, h(`span.badge.${g.status === "complete" ? "ok" : g.status === "recording" ? "live" : "warn"}`, {}, g.status)),
      h("td.num", {}, fmtBytes(g.size_bytes ?? NaN)), h("td.num", {}, String(g.frames?.encoded ?? "—")), h("td.num", {}, String(g.frames?.dropped ?? "—")),
      h("td.hash", { title: g.sha256 || "" }, g.sha256 ? `${g.sha256.slice(0, 12)}…` : "—"),
      h("td", {}, [...g.errors.map((e) => h("div.bad", {}, e)),
        g.pauses.length ? h("div.muted", {}, `${g.pauses.length} pause${g.pauses.length > 1 ? "s" : ""}`) : null])))));

  const reviews = h("div", { id: "reviews" });
  function drawReviews(list) {
    fill(reviews, list.length ? h("ul.reviews", {}, list.map((r) => h("li", {}, h("strong", {}, r.user), " reviewed it ", timeEl(r.at), r.note ? h("blockquote", {}, r.note) : null)))
      : notice("empty", "Nobody has reviewed this recording yet."));
  }
  drawReviews(detail.reviews);
  const note = h("textarea", { name: "note", id: "review-note", rows: 2, maxlength: 2000, placeholder: "Note (optional): what you checked, findings…" });
  const reviewForm = canAudit ? h("form.review-form", {}, h("label", { for: "review-note" }, "Review note"), note,
    h("button.primary", { type: "submit", id: "mark-reviewed" }, "Mark as reviewed")) : null;
  reviewForm?.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = reviewForm.querySelector("button");
    button.disabled = true;
    try {
      const review = await api(`/api/recordings/${encodeURIComponent(id)}/reviews`, { method: "POST", body: { note: note.value } });
      detail.reviews.push(review);
      drawReviews(detail.reviews);
      fill(reviewBadge, reviewedBadge(review));
      note.value = "";
      toast("Marked as reviewed");
    } catch (err) {
      toast(`Cannot mark as reviewed: ${err.message}`, "error");
    } finally {
      button.disabled = false;
    }
  });

  const bookmarks = h("div", { id: "bookmarks" });
  function drawBookmarks(list) {
    fill(bookmarks, list.length ? h("ul.bookmarks", {}, list.map((b) => h("li", {},
      h("a", { href: `${replayHref}?t=${encodeURIComponent(new Date(b.moment).toISOString())}` }, fmtTime(b.moment)),
      " ", h("span", {}, b.note), h("span.sub", {}, ` — ${b.user}`),
      canAudit ? h("button.link.small", { type: "button", onclick: async () => {
        try {
          await api(`/api/recordings/${encodeURIComponent(id)}/bookmarks/${b.id}`, { method: "DELETE" });
          drawBookmarks(list.filter((x) => x.id !== b.id));
        } catch (err) { toast(`Cannot delete the bookmark: ${err.message}`, "error"); }
      } }, "remove") : null)))
      : notice("empty", "No bookmarks. Add them from the replay."));
  }
  drawBookmarks(detail.bookmarks);

  const shares = h("div", { id: "session-shares" });
  async function loadShares() {
    if (!canAudit) return;
    try {
      const links = await api("/api/shares", { params: { session_id: id } });
      fill(shares, shareTable(links, { reload: loadShares, showSession: false }));
    } catch (err) {
      fill(shares, notice("error", `Cannot load the share links: ${err.message}`));
    }
  }

  const reviewBadge = h("span", {}, reviewedBadge(detail.reviews.at(-1)));
  fill(root,
    h("p.crumbs", {}, h("a", { href: "/recordings" }, "← All recordings")),
    h("div.page-head", {}, h("h1", { title: id }, "Recording ", h("span.id", {}, id)), reviewBadge, actions),
    h("div.detail-grid", {},
      section("Session", dl([
        ["Server", text(s.server)], ["User", text(s.user)], ["IP", text(s.ip)], ["Type", text(s.connection_type)],
        ["Connection code", text(s.con_codigo)], ["Started", timeEl(s.start_time)],
        ["Ended", s.recording ? h("span.badge.live", {}, "still recording") : timeEl(s.end_time)],
        ["Duration", fmtDuration(durationOf(s))], ["Parts", String(s.parts)], ["Size", fmtBytes(s.size_bytes)],
        ["Status", statusBadges(s)]])),
      section("Integrity", verdict, signatures, deletions),
      section("Reviews", reviews, reviewForm),
      section("Bookmarks", bookmarks)),
    section(`Segments (${detail.segments.length})`, h("div.table-wrap", {}, segments)),
    section("Heatmap", heatmapPanel(id)),
    may.has("export") ? section("Export", exportPanel(id)) : null,
    canAudit ? section("Share links", shares) : null);
  await loadShares();
}
