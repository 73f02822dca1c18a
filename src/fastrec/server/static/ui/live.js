// Live sessions: the WebSocket /admin/sessions/live (snapshot, started, updated, ended,
// alert), stats and filters, the connection state, reconnection with backoff, "Watch".

import { api } from "./api.js";
import { ReconnectingSocket } from "./backoff.js";
import { h, fill, notice, fmtBytes, fmtDuration, text, timeEl } from "./dom.js";

// close codes of server/routes/live.py: these are answers, not accidents - no retry
const SIGNED_OUT = 4401;
const FORBIDDEN_ORIGIN = 4403;
const MAX_ALERTS = 5;
const MAX_ENDED = 8;

const keyOf = (s) => s.key || `${s.host || ""}/${s.session_id}`;
const serverOf = (s) => s.server ?? s.name ?? s.ip ?? null;
const typeOf = (s) => s.connection_type || "unknown";

function countBy(sessions, pick) {
  const counts = new Map();
  for (const s of sessions) {
    const k = pick(s) ?? "—";
    counts.set(k, (counts.get(k) || 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0])));
}

export async function renderLive(root) {
  const config = await api("/api/ui-config");
  const sessions = new Map(); // key -> session
  const ended = []; // newest first
  const alerts = [];
  const filters = { server: "", user: "", type: "" };
  const firstSeen = new Map(); // key -> when this page first heard of the session (epoch ms)

  const badge = h("span.conn-badge", { id: "conn-state", "data-state": "connecting", role: "status" }, "Connecting…");
  const reconnectButton = h("button", { type: "button", id: "reconnect" }, "Reconnect");
  const stats = h("section.stats", { "aria-label": "statistics" });
  const filterBar = h("div.filters");
  const alertBox = h("section.alerts", { "aria-label": "alerts" });
  const table = h("div.table-wrap");
  const endedBox = h("section.ended");

  fill(root,
    h("div.page-head", {}, h("h1", {}, "Live sessions"), h("div.conn", {}, badge, reconnectButton)),
    stats, filterBar, alertBox, table, endedBox);

  function selectFor(name, label, values) {
    const select = h("select", { "aria-label": label, name, onchange: () => { filters[name] = select.value; draw(); } },
      h("option", { value: "" }, `All ${label.toLowerCase()}s`),
      values.map(([v, n]) => h("option", { value: v, selected: filters[name] === v }, `${v} (${n})`)));
    if (filters[name] && !values.some(([v]) => v === filters[name])) {
      select.append(h("option", { value: filters[name], selected: true }, `${filters[name]} (0)`));
    }
    return select;
  }

  function visible() {
    return [...sessions.values()].filter((s) =>
      (!filters.server || (serverOf(s) ?? "—") === filters.server) &&
      (!filters.user || (s.user ?? "—") === filters.user) &&
      (!filters.type || typeOf(s) === filters.type));
  }

  function statCard(title, rows) {
    return h("div.stat", {}, h("h2", {}, title),
      rows.length ? h("ul", {}, rows.slice(0, 4).map(([k, n]) => h("li", {}, h("span.k", {}, String(k)), h("span.n", {}, String(n)))))
        : h("p.muted", {}, "—"),
      rows.length > 4 ? h("p.muted", {}, `+${rows.length - 4} more`) : null);
  }

  function duration(s) {
    const started = Date.parse(s.started_at);
    return Number.isFinite(started) ? Math.max(0, (Date.now() - started) / 1000) : s.elapsed_seconds;
  }

  function stateBadges(s) {
    const out = [h(`span.badge.state-${s.state || "recording"}`, {}, s.state || "recording")];
    if (s.paused) out.push(h("span.badge.warn", { title: s.pause_reason || "" }, "paused"));
    if (s.occluded) out.push(h("span.badge.warn", {}, "occluded"));
    if (s.errors) out.push(h("span.badge.bad", { title: s.last_error || "" }, `${s.errors} error${s.errors > 1 ? "s" : ""}`));
    return out;
  }

  function row(s) {
    const frames = s.frames || {};
    return h("tr", { dataset: { sessionId: s.session_id, key: keyOf(s), firstSeen: String(firstSeen.get(keyOf(s)) ?? ""),
      startedMs: String(Date.parse(s.started_at) || "") } },
      h("td", {}, text(serverOf(s)), h("div.sub", {}, s.host ? `on ${s.host}` : "")),
      h("td", {}, text(s.user)),
      h("td", {}, text(s.ip)),
      h("td", {}, text(s.connection_type)),
      h("td.num.duration", {}, fmtDuration(duration(s))),
      h("td.num", { "data-field": "fps" }, Number(s.fps || 0).toFixed(1)),
      h("td.num", { "data-field": "frames" }, String(frames.encoded ?? s.frames_encoded ?? 0)),
      h("td.num", { "data-field": "dropped" }, String(frames.dropped ?? s.dropped ?? 0)),
      h("td.num", { "data-field": "bytes" }, fmtBytes(s.bytes ?? 0)),
      h("td.file", { title: s.current_file || "" }, text(s.current_file)),
      h("td", {}, stateBadges(s)),
      h("td", {}, h("a.button", { href: `/replay/${encodeURIComponent(s.session_id)}?live`, title: "replay the running session, a few seconds behind" }, "Watch")));
  }

  function draw() {
    const all = [...sessions.values()];
    fill(stats,
      h("div.stat.total", {}, h("h2", {}, "Recording now"), h("p.big", { id: "live-total" }, String(all.length))),
      statCard("By connection type", countBy(all, typeOf)),
      statCard("By server", countBy(all, serverOf)),
      statCard("By user", countBy(all, (s) => s.user)));
    // rebuilt only when its choices change: a rebuilt <select> would close under the user's pointer
    const choices = [countBy(all, serverOf), countBy(all, (s) => s.user), countBy(all, typeOf)];
    const choiceKey = JSON.stringify([choices, filters]);
    if (choiceKey !== filterBar.dataset.key) {
      filterBar.dataset.key = choiceKey;
      fill(filterBar, h("span.label", {}, "Filter:"),
        selectFor("server", "Server", choices[0]),
        selectFor("user", "User", choices[1]),
        selectFor("type", "Type", choices[2]),
        filters.server || filters.user || filters.type
          ? h("button.link", { type: "button", onclick: () => { Object.assign(filters, { server: "", user: "", type: "" }); draw(); } }, "Clear filters")
          : null);
    }
    const shown = visible().sort((a, b) => String(b.started_at).localeCompare(String(a.started_at)));
    if (!all.length) {
      fill(table, notice("empty", state === "open" ? "No session is being recorded right now." : "Waiting for the live feed…"));
    } else if (!shown.length) {
      fill(table, notice("empty", `None of the ${all.length} live sessions matches these filters.`));
    } else {
      fill(table, h("table.data.live", { id: "live-sessions" },
        h("thead", {}, h("tr", {}, ["Server", "User", "IP", "Type", "Duration", "fps", "Frames", "Dropped", "Size", "Current file", "State", ""]
          .map((c) => h("th", {}, c)))),
        h("tbody", {}, shown.map(row))));
    }
    fill(alertBox, alerts.map((a) => h(`div.alert.${a.kind === "disk_nearly_full" ? "warn" : "bad"}`, { role: "alert" },
      timeEl(a.at), " ", h("strong", {}, (a.kind || "alert").replaceAll("_", " ")), ": ", text(a.message),
      a.session_id ? ` (session ${a.session_id})` : "", a.host ? ` on ${a.host}` : "")));
    fill(endedBox, ended.length ? [h("h2", {}, "Ended recently"), h("ul.ended-list", {}, ended.map((e) =>
      h("li", { dataset: { sessionId: e.session_id } }, timeEl(e.at), " ",
        h("a", { href: `/recordings/${encodeURIComponent(e.session_id)}` }, e.session_id),
        e.server ? ` · ${e.server}` : "", e.user ? ` · ${e.user}` : "", ` — ${e.reason || "ended"}`)))] : []);
  }

  let state = "connecting";
  function setState(next, info) {
    state = next;
    badge.dataset.state = next;
    clearInterval(setState.countdown);
    const labels = {
      connecting: info.attempt ? `Reconnecting (attempt ${info.attempt} of ${config.ws_reconnect_max_attempts})…` : "Connecting…",
      open: "Connected",
      failed: `Disconnected: gave up after ${info.attempts} attempts`,
    };
    if (next === "waiting") {
      const tick = () => {
        const left = Math.max(0, Math.ceil((info.until - Date.now()) / 1000));
        badge.textContent = `Disconnected: retry ${info.attempt} of ${info.max} in ${left} s`;
      };
      tick();
      setState.countdown = setInterval(tick, 500);
    } else if (next === "closed") {
      badge.textContent = info.code === FORBIDDEN_ORIGIN ? "Refused: this page's origin is not the server's"
        : `Closed by the server (${info.code}${info.reason ? `: ${info.reason}` : ""})`;
    } else {
      badge.textContent = labels[next] || next;
    }
    if (next !== "open") draw();
  }

  function onMessage(m) {
    for (const s of m.sessions || (m.session && m.type !== "session_ended" ? [m.session] : [])) {
      if (!firstSeen.has(keyOf(s))) firstSeen.set(keyOf(s), Date.now());
    }
    switch (m.type) {
      case "sessions_snapshot":
        sessions.clear();
        for (const s of m.sessions || []) sessions.set(keyOf(s), s);
        break;
      case "session_started":
      case "session_updated":
        if (m.session) sessions.set(keyOf(m.session), m.session);
        break;
      case "session_ended": {
        const key = m.key || `${m.host || ""}/${m.session_id}`;
        const last = sessions.get(key) || m.session || {};
        sessions.delete(key);
        ended.unshift({ session_id: m.session_id || last.session_id, reason: m.reason, at: m.at || new Date().toISOString(),
          server: serverOf(last), user: last.user });
        ended.length = Math.min(ended.length, MAX_ENDED);
        break;
      }
      case "alert":
        alerts.unshift(m.alert || m);
        alerts.length = Math.min(alerts.length, MAX_ALERTS);
        break;
      default:
        return;
    }
    draw();
  }

  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/admin/sessions/live`;
  const socket = new ReconnectingSocket(url, {
    baseMs: config.ws_reconnect_base_delay, maxMs: config.ws_reconnect_max_delay, maxAttempts: config.ws_reconnect_max_attempts,
    onMessage, onState: setState,
    noRetry: (code) => code === SIGNED_OUT || code === FORBIDDEN_ORIGIN,
  });
  // a 4401 means the session cookie expired: ask /api/auth/me, whose 401 opens the login page
  const onState = socket.onState;
  socket.onState = (next, info) => {
    onState(next, info);
    // 4401, or a connection that failed without a code (1006; a proxy may hide the code):
    // if the session expired, /api/auth/me answers 401 and the api module opens the login page
    if ((next === "closed" && info.code === SIGNED_OUT) || (next === "waiting" && info.code === 1006)) {
      api("/api/auth/me").catch(() => {});
    }
  };
  reconnectButton.addEventListener("click", () => socket.reconnectNow());
  const ticker = setInterval(() => {
    for (const cell of table.querySelectorAll("tr[data-key]")) {
      const s = sessions.get(cell.dataset.key);
      const td = cell.querySelector(".duration");
      if (s && td) td.textContent = fmtDuration(duration(s));
    }
  }, 1000);
  window.addEventListener("pagehide", () => { clearInterval(ticker); socket.stop(); });
  draw();
  socket.connect();
}
