// The replay player: hls.js over the session's playlist and ONE timeline bar for the whole
// session (markers, idle stretches, click/drag to seek), speed, idle skipping, +-10 s and
// the wall-clock time of the frame shown.  Part boundaries are never shown.

import { h, fill, fmtClock, fmtTime, zoneLabel, toast } from "./dom.js";
import { wallAt, timeAtWall, idleEntered } from "./timeline.js";

const SPEEDS = [0.5, 1, 2, 4, 8];
const LIVE_REFRESH_MS = 4000;

/**
 * mountPlayer(container, options) -> controller.
 * options: base (URL prefix of playlist.m3u8 and timeline), timeline (its JSON),
 *   startWallMs (open at this wall-clock moment), tools (extra buttons: (player) -> [Element]),
 *   onRefused (a share link stopped working: (status) -> void).
 */
export function mountPlayer(container, { base, timeline, startWallMs = null, tools = () => [], onRefused = null }) {
  const video = h("video", { id: "video", playsinline: true, muted: true, tabindex: -1 });
  video.muted = true; // a screen recording has no sound; muted videos may start by themselves
  const overlay = h("div.overlay", { "data-state": "loading" }, "Loading the video…");
  const stage = h("div.stage", {}, video, overlay);

  const played = h("div.tl-played");
  const head = h("div.tl-head");
  const hover = h("div.tl-hover", { hidden: true });
  const marks = h("div.tl-marks");
  const idles = h("div.tl-idle");
  const buffered = h("div.tl-buffered");
  const bar = h("div.timeline", { id: "timeline-bar", role: "slider", tabindex: 0, "aria-label": "position in the recording",
    "aria-valuemin": 0 }, h("div.tl-track", {}, buffered, played, idles), marks, head, hover);

  const playButton = h("button.play", { type: "button", id: "play", "aria-label": "play" }, "▶");
  const back = h("button", { type: "button", id: "back10", title: "10 s back (←)" }, "−10 s");
  const fwd = h("button", { type: "button", id: "fwd10", title: "10 s forward (→)" }, "+10 s");
  const position = h("span.position", { id: "position" }, "0:00 / 0:00");
  const wall = h("span.wall", { id: "wall-clock", title: "wall-clock time of the frame shown" }, "—");
  const zone = h("span.zone", {}, zoneLabel());
  const speeds = h("div.speeds", { role: "group", "aria-label": "speed" }, SPEEDS.map((s) =>
    h("button.speed", { type: "button", "data-speed": String(s), "aria-pressed": s === 1 ? "true" : "false", onclick: () => setSpeed(s) }, `${s}×`)));
  const skip = h("input", { type: "checkbox", id: "skip-idle", checked: true });
  const liveBadge = h("button.badge.live.go-live", { type: "button", hidden: !timeline.live, title: "jump to the live edge" }, "● LIVE");
  const toolbox = h("div.tools");

  const root = h("div.player", { id: "player", "data-ready": "0" }, stage, bar,
    h("div.controls", {}, playButton, back, fwd, position, h("span.clock", {}, wall, " ", zone), liveBadge,
      speeds, h("label.check.skip", { title: "when playback reaches a stretch with no change, jump to its end" }, skip, " Skip idle"),
      toolbox));
  fill(container, root);

  let hls = null;
  let dragging = false;
  let lastT = 0;
  let pendingSeek = null;
  let recoveredMedia = false;

  const duration = () => {
    let d = timeline.duration || 0;
    if (Number.isFinite(video.duration)) d = Math.max(d, video.duration);
    if (video.seekable.length) d = Math.max(d, video.seekable.end(video.seekable.length - 1));
    return d;
  };
  const now = () => (pendingSeek !== null ? pendingSeek : video.currentTime);
  const pct = (t) => `${Math.max(0, Math.min(100, (t / (duration() || 1)) * 100))}%`;

  function setOverlay(state, message) {
    overlay.dataset.state = state;
    overlay.hidden = state === "none";
    if (message !== undefined) fill(overlay, message);
  }

  function drawMarks() {
    fill(idles, (timeline.idle || []).map((s) => {
      const el = h("div.idle", { title: `idle ${fmtClock(s.end - s.start)}` });
      el.style.left = pct(s.start);
      el.style.width = `calc(${pct(s.end)} - ${pct(s.start)})`;
      return el;
    }));
    fill(marks, (timeline.markers || []).map((m) => {
      const el = h(`button.mark.${m.kind}`, { type: "button", "data-kind": m.kind, title: `${m.kind} · ${fmtTime(m.wall)}${m.text ? ` — ${m.text}` : ""}`,
        "aria-label": `${m.kind} at ${fmtClock(m.at)}: ${m.text || ""}`, onclick: (e) => { e.stopPropagation(); seek(m.at); } });
      el.style.left = pct(m.at);
      return el;
    }));
  }

  function drawTime() {
    const t = now();
    const d = duration();
    played.style.width = pct(t);
    head.style.left = pct(t);
    bar.setAttribute("aria-valuemax", String(Math.round(d)));
    bar.setAttribute("aria-valuenow", String(Math.round(t)));
    const ms = wallAt(timeline, t);
    bar.setAttribute("aria-valuetext", Number.isFinite(ms) ? fmtTime(ms) : fmtClock(t));
    position.textContent = `${fmtClock(t)} / ${fmtClock(d)}`;
    wall.textContent = Number.isFinite(ms) ? fmtTime(ms, { ms: true }).slice(0, -2) : "—";
    wall.dataset.epochMs = Number.isFinite(ms) ? String(Math.round(ms)) : "";
    root.dataset.t = t.toFixed(3);
    root.dataset.duration = d.toFixed(3);
    if (video.buffered.length) {
      const end = video.buffered.end(video.buffered.length - 1);
      buffered.style.width = pct(end);
    }
  }

  function seek(t) {
    const d = duration();
    const target = Math.max(0, Math.min(t, d > 0 ? d - 0.05 : 0));
    lastT = target; // a seek is not playback: it never triggers idle skipping
    if (video.readyState === 0) {
      pendingSeek = target;
    } else {
      video.currentTime = target;
    }
    drawTime();
  }

  function setSpeed(s) {
    video.playbackRate = s;
    video.defaultPlaybackRate = s;
    for (const b of speeds.children) b.setAttribute("aria-pressed", String(Number(b.dataset.speed) === s));
    root.dataset.speed = String(s);
  }

  function togglePlay() {
    if (video.paused || video.ended) video.play().catch(() => {}); else video.pause();
  }

  // --- the bar: click or drag to seek ---
  const timeAtX = (clientX) => {
    const rect = bar.getBoundingClientRect();
    return Math.max(0, Math.min(1, (clientX - rect.left) / rect.width)) * duration();
  };
  function showHover(clientX) {
    const t = timeAtX(clientX);
    const ms = wallAt(timeline, t);
    hover.hidden = false;
    hover.style.left = pct(t);
    hover.textContent = Number.isFinite(ms) ? `${fmtClock(t)} · ${fmtTime(ms).slice(11)}` : fmtClock(t);
  }
  bar.addEventListener("pointerdown", (e) => {
    if (e.button !== 0 || e.target.closest(".mark")) return;
    dragging = true;
    bar.setPointerCapture(e.pointerId);
    pendingSeek = timeAtX(e.clientX);
    drawTime();
  });
  bar.addEventListener("pointermove", (e) => {
    showHover(e.clientX);
    if (dragging) { pendingSeek = timeAtX(e.clientX); drawTime(); }
  });
  bar.addEventListener("pointerleave", () => { if (!dragging) hover.hidden = true; });
  const endDrag = (e) => {
    if (!dragging) return;
    dragging = false;
    const t = timeAtX(e.clientX);
    pendingSeek = null;
    seek(t);
  };
  bar.addEventListener("pointerup", endDrag);
  bar.addEventListener("pointercancel", () => { dragging = false; pendingSeek = null; drawTime(); });
  bar.addEventListener("keydown", (e) => {
    const step = { ArrowLeft: -10, ArrowRight: 10, PageDown: -60, PageUp: 60 }[e.key];
    if (step) { e.preventDefault(); seek(video.currentTime + step); }
    if (e.key === "Home") { e.preventDefault(); seek(0); }
    if (e.key === "End") { e.preventDefault(); seek(duration()); }
  });

  playButton.addEventListener("click", togglePlay);
  stage.addEventListener("click", togglePlay);
  back.addEventListener("click", () => seek(video.currentTime - 10));
  fwd.addEventListener("click", () => seek(video.currentTime + 10));
  liveBadge.addEventListener("click", () => {
    if (hls && Number.isFinite(hls.liveSyncPosition)) seek(hls.liveSyncPosition); else seek(duration());
    video.play().catch(() => {});
  });
  const onKey = (e) => {
    if (e.target.closest("input, textarea, select, dialog, [role=slider]") || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === " " || e.key === "k") { e.preventDefault(); togglePlay(); }
    if (e.key === "ArrowLeft" || e.key === "j") { e.preventDefault(); seek(video.currentTime - 10); }
    if (e.key === "ArrowRight" || e.key === "l") { e.preventDefault(); seek(video.currentTime + 10); }
  };
  document.addEventListener("keydown", onKey);

  // --- the video's events ---
  video.addEventListener("play", () => { playButton.textContent = "❚❚"; playButton.setAttribute("aria-label", "pause"); loop(); });
  video.addEventListener("pause", () => { playButton.textContent = "▶"; playButton.setAttribute("aria-label", "play"); drawTime(); });
  video.addEventListener("waiting", () => setOverlay("buffering", "Buffering…"));
  video.addEventListener("seeking", () => drawTime());
  video.addEventListener("seeked", () => { drawTime(); if (overlay.dataset.state === "buffering") setOverlay("none"); });
  video.addEventListener("playing", () => setOverlay("none"));
  video.addEventListener("canplay", () => { if (overlay.dataset.state !== "error") setOverlay("none"); root.dataset.ready = "1"; });
  video.addEventListener("durationchange", () => { drawMarks(); drawTime(); });
  video.addEventListener("progress", drawTime);
  video.addEventListener("ended", () => { drawTime(); playButton.textContent = "▶"; });
  video.addEventListener("loadedmetadata", () => {
    if (pendingSeek !== null && !dragging) {
      const t = pendingSeek;
      pendingSeek = null;
      seek(t);
    }
  });
  video.addEventListener("timeupdate", () => { checkIdle(); drawTime(); });

  function checkIdle() {
    const t = video.currentTime;
    if (skip.checked && !video.paused && !video.seeking) {
      const stretch = idleEntered(timeline, lastT, t);
      if (stretch) {
        toast(`Skipped ${fmtClock(stretch.end - stretch.start)} with no change`);
        root.dataset.skips = String(Number(root.dataset.skips || 0) + 1);
        lastT = stretch.end;
        video.currentTime = stretch.end;
        return;
      }
    }
    if (!video.seeking) lastT = t;
  }

  let looping = false;
  function loop() {
    if (looping) return;
    looping = true;
    const step = () => {
      if (video.paused || video.ended) { looping = false; return; }
      checkIdle();
      if (!dragging) drawTime();
      requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
  }

  // --- hls.js ---
  function load() {
    const Hls = window.Hls;
    const src = `${base}/playlist.m3u8`;
    const startT = startWallMs !== null ? timeAtWall(timeline, startWallMs) : null;
    setOverlay("loading", "Loading the video…");
    if (Hls && Hls.isSupported()) {
      if (hls) hls.destroy();
      hls = new Hls({
        startPosition: startT !== null ? startT : -1,
        liveSyncDurationCount: 3, // a live session plays a few fragments (seconds) behind
        enableWorker: true,
        maxBufferLength: 30,
        backBufferLength: 60,
      });
      hls.on(Hls.Events.ERROR, (event, data) => {
        if (!data.fatal) return;
        const status = data.response && data.response.code;
        if ((status === 404 || status === 410) && onRefused) { onRefused(status); return; }
        if (data.type === Hls.ErrorTypes.MEDIA_ERROR && !recoveredMedia) {
          recoveredMedia = true;
          hls.recoverMediaError();
          return;
        }
        setOverlay("error", h("span", {}, `The video cannot be played: ${data.details}${status ? ` (HTTP ${status})` : ""}. `,
          h("button", { type: "button", onclick: (e) => { e.stopPropagation(); recoveredMedia = false; load(); } }, "Try again")));
      });
      hls.loadSource(src);
      hls.attachMedia(video);
      if (startT !== null) lastT = startT;
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = src; // Safari plays HLS itself
      if (startT !== null) pendingSeek = startT;
    } else {
      setOverlay("error", "This browser cannot play the recording (no Media Source Extensions).");
      return;
    }
    video.play().catch(() => {}); // autoplay may be refused: the play button is there
  }

  // a live session's timeline grows (duration, parts, markers): fetch it again now and then
  let refresher = null;
  async function refresh() {
    try {
      const response = await fetch(`${base}/timeline`, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) {
        timeline = await response.json();
        liveBadge.hidden = !timeline.live;
        drawMarks();
        drawTime();
      } else if ((response.status === 404 || response.status === 410) && onRefused) {
        onRefused(response.status);
      }
    } catch { /* the next refresh tries again */ }
    if (!timeline.live) { clearInterval(refresher); refresher = null; }
  }
  if (timeline.live) refresher = setInterval(refresh, LIVE_REFRESH_MS);

  const controller = {
    video, root,
    get timeline() { return timeline; },
    /** The timeline second shown now. */
    time: () => now(),
    /** Epoch ms of the frame shown now. */
    wallMs: () => wallAt(timeline, now()),
    seek, setSpeed, refresh,
    destroy() { clearInterval(refresher); document.removeEventListener("keydown", onKey); if (hls) hls.destroy(); },
  };
  fill(toolbox, tools(controller));
  setSpeed(1);
  drawMarks();
  drawTime();
  load();
  window.addEventListener("pagehide", () => controller.destroy());
  return controller;
}
