// The replay page (signed in) and the share page (a share link's read-only replay).

import { api, allows, ApiError } from "./api.js";
import { h, fill, notice, fmtTime, fmtBytes, text, modal, toast, copyText, copyField } from "./dom.js";
import { mountPlayer } from "./player.js";
import { shareDialog } from "./share.js";
import { reviewedBadge } from "./recordings.js";

function heading(s, extra) {
  return h("div.replay-head", {},
    h("h1", { title: s.session_id }, text(s.server), h("span.sub", {}, ` · ${text(s.user)} · ${text(s.ip)} · ${text(s.connection_type)}`)),
    h("span.sub", {}, `${fmtTime(s.start_time)} · ${s.parts} part${s.parts === 1 ? "" : "s"} · ${fmtBytes(s.size_bytes)}`),
    extra);
}

/** ?t=<ISO wall time> -> epoch ms, or null. */
function startFromQuery() {
  const t = new URLSearchParams(location.search).get("t");
  if (!t) return null;
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? ms : null;
}

/**
 * The timeline; a session that has just started has none yet (no part on disk, or not
 * indexed yet): with ``waitForFirst`` (opened from the live page) keep asking for a while.
 */
async function loadTimeline(url, root, { waitForFirst = false, auth = true } = {}) {
  for (let attempt = 0; ; attempt += 1) {
    let timeline = null;
    try {
      timeline = await api(url, { auth });
    } catch (err) {
      if (!(waitForFirst && err.status === 404) || attempt >= 20) throw err;
    }
    if (timeline && (timeline.parts || []).length) return timeline;
    if (timeline && attempt >= 20) return timeline;
    fill(root, notice("loading", "Waiting for the first frames of this session…"));
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

export async function renderReplay(root, ctx) {
  const id = ctx.param;
  const canAudit = allows(ctx.user, "auditor");
  const base = `/api/recordings/${encodeURIComponent(id)}`;
  const live = new URLSearchParams(location.search).has("live");
  fill(root, notice("loading", "Loading the recording…"));
  let summary;
  let timeline;
  let config;
  try {
    timeline = await loadTimeline(`${base}/timeline`, root, { waitForFirst: live });
    [summary, config] = await Promise.all([api(`${base}/summary`), api("/api/ui-config")]);
  } catch (err) {
    if (err.status === 401) return;
    fill(root, notice("error", err.status === 404 ? `There is no recording ${id}.` : `Cannot load the replay: ${err.message}`),
      h("p", {}, h("a", { href: "/recordings" }, "← All recordings")));
    return;
  }
  const playerBox = h("div");
  fill(root, heading(summary, h("span.head-links", {}, reviewedBadge(summary.reviewed), " ",
    h("a", { href: `/recordings/${encodeURIComponent(id)}`, id: "details-link" }, "Details, segments and reviews"))), playerBox);

  const tools = (player) => {
    const momentIso = () => new Date(player.wallMs()).toISOString();
    const list = [h("button", { type: "button", id: "copy-link", title: "a link that opens the replay at the frame shown now", onclick: async () => {
      const url = `${location.origin}/replay/${encodeURIComponent(id)}?t=${encodeURIComponent(momentIso())}`;
      if (await copyText(url)) toast("Link to this moment copied");
      else await modal("Link to this moment", copyField(url), { submitLabel: "Close" });
    } }, "Copy link at this moment")];
    if (canAudit) {
      list.push(h("button", { type: "button", id: "add-bookmark", onclick: async () => {
        player.video.pause();
        const moment = momentIso();
        const note = h("textarea", { id: "bookmark-note", name: "note", rows: 3, maxlength: 2000, required: true, placeholder: "What happens here?" });
        const done = await modal(`Bookmark at ${fmtTime(moment, { ms: true }).slice(0, -2)}`, h("div", {}, h("label", { for: "bookmark-note" }, "Note"), note), {
          submitLabel: "Add bookmark",
          onSubmit: () => api(`${base}/bookmarks`, { method: "POST", body: { moment, note: note.value } }),
        });
        if (done) { toast("Bookmark added"); await player.refresh(); }
      } }, "Add bookmark here"));
      list.push(h("button", { type: "button", id: "share-button", onclick: () => {
        player.video.pause();
        shareDialog(id, { choices: config.share_expiry_choices, moment: new Date(player.wallMs()) });
      } }, "Share…"));
    }
    return list;
  };
  mountPlayer(playerBox, { base, timeline, startWallMs: startFromQuery(), tools });
}

function refused(root, status) {
  const expired = status === 410;
  fill(root, h("div.refused", { id: "refused" },
    h("h1", {}, expired ? "This link no longer opens the recording" : "This link is not valid"),
    h("p", {}, expired ? "It has expired or was revoked. Ask whoever shared it for a new link."
      : "It may have expired some time ago, or been copied incompletely.")));
}

export async function renderShared(root) {
  const token = location.pathname.split("/").filter(Boolean).at(-1) || "";
  const base = `/api/shared/${encodeURIComponent(token)}`;
  fill(root, notice("loading", "Loading the shared recording…"));
  let summary;
  let timeline;
  try {
    [summary, timeline] = await Promise.all([api(`${base}/recording`, { auth: false }),
      loadTimeline(`${base}/timeline`, root, { auth: false })]);
  } catch (err) {
    if (err.status === 404 || err.status === 410) refused(root, err.status);
    else fill(root, notice("error", `Cannot load the shared recording: ${err.message}`));
    return;
  }
  const playerBox = h("div");
  fill(root, heading(summary, h("span.badge.muted", {}, "shared, read-only")), playerBox);
  const start = timeline.start_at ? timeline.start_at * 1000 : null;
  mountPlayer(playerBox, { base, timeline, startWallMs: start, onRefused: (status) => refused(root, status) });
}
