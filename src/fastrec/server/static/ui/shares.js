// Every share link (auditor): state, who made it, expiry; revoke.

import { api } from "./api.js";
import { h, fill, notice } from "./dom.js";
import { shareTable } from "./share.js";

export async function renderShares(root) {
  const state = h("select", { "aria-label": "state", id: "share-state" },
    [["", "All links"], ["valid", "Valid"], ["expired", "Expired"], ["revoked", "Revoked"]].map(([v, l]) => h("option", { value: v }, l)));
  const list = h("div.table-wrap");
  fill(root, h("div.page-head", {}, h("h1", {}, "Share links"), h("div.filters", {}, state)),
    h("p.muted", {}, "Links give read-only access to one recording without signing in. Create them from a recording or its replay. Expired and revoked links stay listed until they would have expired."),
    list);
  let links = [];
  function draw() {
    const shown = state.value ? links.filter((l) => l.state === state.value) : links;
    fill(list, links.length && !shown.length ? notice("empty", `No ${state.value} links.`) : shareTable(shown, { reload: load }));
  }
  async function load() {
    if (!links.length) fill(list, notice("loading", "Loading share links…"));
    try {
      links = await api("/api/shares");
    } catch (err) {
      fill(list, notice("error", `Cannot load the share links: ${err.message}`));
      return;
    }
    draw();
  }
  state.addEventListener("change", draw);
  await load();
}
