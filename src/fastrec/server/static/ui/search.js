// Search across recordings: window title, server, user, time range, event kind (GET /api/search).
// Filters live in the URL (back/forward and links work); each hit opens the replay at its moment.

import { api } from "./api.js";
import { h, fill, notice, fmtTime, text } from "./dom.js";

const FILTERS = ["title", "server", "user", "since", "until", "event"];
const EVENTS = ["", "rage_click", "click", "scroll", "key_activity", "title_change", "focus_change", "pause", "resume"];

/** "2026-01-12T14:03" (datetime-local, local time) -> ISO with offset for the API. */
function localInputToIso(value) {
  if (!value) return "";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}

export async function renderSearch(root) {
  const inputs = {
    title: h("input", { type: "search", name: "title", id: "search-title", placeholder: "Text in the window title", "aria-label": "window title" }),
    server: h("input", { name: "server", id: "search-server", placeholder: "Server", "aria-label": "server" }),
    user: h("input", { name: "user", id: "search-user", placeholder: "User", "aria-label": "user" }),
    since: h("input", { type: "datetime-local", name: "since", "aria-label": "from" }),
    until: h("input", { type: "datetime-local", name: "until", "aria-label": "until" }),
    event: h("select", { name: "event", id: "search-event", "aria-label": "event kind" },
      EVENTS.map((k) => h("option", { value: k }, k ? k.replace("_", " ") : "any event"))),
  };
  const form = h("form.filters", { role: "search", id: "search-form" },
    inputs.title, inputs.server, inputs.user, h("label.inline", {}, "From ", inputs.since), h("label.inline", {}, "to ", inputs.until),
    inputs.event, h("button.primary", { type: "submit" }, "Search"));
  const results = h("div.results", { id: "search-results" });
  fill(root, h("div.page-head", {}, h("h1", {}, "Search recordings")), form, results);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const p = new URLSearchParams();
    for (const name of FILTERS) if (inputs[name].value.trim()) p.set(name, inputs[name].value.trim());
    history.pushState(null, "", `/search${p.toString() ? `?${p}` : ""}`);
    load();
  });
  window.addEventListener("popstate", load);

  async function load() {
    const p = new URLSearchParams(location.search);
    for (const name of FILTERS) inputs[name].value = p.get(name) || "";
    if (!FILTERS.some((name) => p.get(name))) {
      fill(results, notice("empty", "Find the moments where a window title was shown, or events of a kind, in any recording."));
      return;
    }
    fill(results, notice("loading", "Searching…"));
    let found;
    try {
      found = await api("/api/search", { params: {
        title: p.get("title"), server: p.get("server"), user: p.get("user"), event: p.get("event"),
        since: localInputToIso(p.get("since")), until: localInputToIso(p.get("until")) } });
    } catch (err) {
      fill(results, notice("error", `Cannot search: ${err.message}`));
      return;
    }
    if (!found.hits.length) {
      fill(results, notice("empty", `Nothing found (${found.sessions} recording${found.sessions === 1 ? "" : "s"} searched).`));
      return;
    }
    fill(results,
      h("p.sub", { id: "search-count" }, `${found.hits.length}${found.truncated ? "+" : ""} moment${found.hits.length === 1 ? "" : "s"} in ${found.sessions} recording${found.sessions === 1 ? "" : "s"} searched`),
      h("table.data", { id: "search-hits" },
        h("thead", {}, h("tr", {}, ["Moment", "Server", "User", "What", "Window", ""].map((c) => h("th", {}, c)))),
        h("tbody", {}, found.hits.map((hit) => h("tr", { dataset: { sessionId: hit.session_id, moment: hit.moment } },
          h("td", {}, fmtTime(hit.moment), h("div.sub.id", {}, hit.session_id)),
          h("td", {}, text(hit.server)), h("td", {}, text(hit.user)),
          h("td", {}, h("span.badge.muted", {}, hit.kind.replace("_", " ")), " ", hit.kind === "title" ? "" : hit.text),
          h("td", {}, text(hit.title)),
          h("td", {}, h("a.button.small.open-hit", { href: hit.replay }, "Open replay")))))));
  }
  await load();
}
