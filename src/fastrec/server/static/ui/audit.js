// The audit log (admin): filters, pages, CSV / JSON export of what the filters select.

import { api, query } from "./api.js";
import { h, fill, notice, text, timeEl } from "./dom.js";

const PAGE = 50;

function isoOf(local) {
  if (!local) return "";
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}

export async function renderAudit(root) {
  const config = await api("/api/ui-config");
  const inputs = {
    since: h("input", { type: "datetime-local", name: "since", "aria-label": "from" }),
    until: h("input", { type: "datetime-local", name: "until", "aria-label": "until" }),
    actor: h("input", { name: "actor", placeholder: "Who", "aria-label": "actor", size: 12 }),
    action: h("select", { name: "action", "aria-label": "action" }, h("option", { value: "" }, "Any action"), config.audit_actions.map((a) => h("option", { value: a }, a))),
    target: h("input", { name: "target", placeholder: "Target (session, user…)", "aria-label": "target" }),
    status: h("select", { name: "status", "aria-label": "status" }, [["", "Any status"], ["success", "success"], ["failure", "failure"], ["denied", "denied"]]
      .map(([v, l]) => h("option", { value: v }, l))),
  };
  const csv = h("a.button", { id: "export-csv", download: "fastrec-audit.csv" }, "Export CSV");
  const json = h("a.button", { id: "export-json", download: "fastrec-audit.json" }, "Export JSON");
  const form = h("form.filters", {}, h("label.inline", {}, "From ", inputs.since), h("label.inline", {}, "to ", inputs.until),
    inputs.actor, inputs.action, inputs.target, inputs.status, h("button.primary", { type: "submit" }, "Filter"));
  const results = h("div.table-wrap");
  const pager = h("nav.pager", { "aria-label": "pages" });
  fill(root, h("div.page-head", {}, h("h1", {}, "Audit log"), h("div.actions", {}, csv, json)), form, results, pager);

  let offset = 0;
  const filters = () => ({ since: isoOf(inputs.since.value), until: isoOf(inputs.until.value), actor: inputs.actor.value.trim(),
    action: inputs.action.value, target: inputs.target.value.trim(), status: inputs.status.value });
  form.addEventListener("submit", (e) => { e.preventDefault(); offset = 0; load(); });

  async function load() {
    const f = filters();
    csv.href = `/api/audit/export${query({ ...f, format: "csv" })}`;
    json.href = `/api/audit/export${query({ ...f, format: "json" })}`;
    fill(results, notice("loading", "Loading the audit log…"));
    let page;
    try {
      page = await api("/api/audit", { params: { ...f, limit: PAGE, offset } });
    } catch (err) {
      fill(results, notice("error", `Cannot load the audit log: ${err.message}`));
      fill(pager);
      return;
    }
    fill(results, page.entries.length ? h("table.data.audit", { id: "audit" },
      h("thead", {}, h("tr", {}, ["Time", "Who", "As", "Action", "Target", "Status", "From", "Device", "Details"].map((c) => h("th", {}, c)))),
      h("tbody", {}, page.entries.map((e) => h("tr", {},
        h("td", {}, timeEl(e.at)), h("td", {}, text(e.actor)), h("td", {}, e.actor_type.replaceAll("_", " ")), h("td", {}, e.action),
        h("td.file", { title: e.target || "" }, text(e.target)),
        h("td", {}, h(`span.badge.${e.status === "success" ? "ok" : e.status === "denied" ? "warn" : "bad"}`, {}, e.status)),
        h("td", { title: e.user_agent || "" }, text(e.address)), h("td", {}, e.device_type),
        h("td.details", { title: JSON.stringify(e.details) }, Object.keys(e.details || {}).length ? JSON.stringify(e.details) : "—")))))
      : notice("empty", "No audit records match these filters."));
    const last = offset + page.entries.length;
    fill(pager, page.total ? h("span", {}, `${offset + 1}–${last} of ${page.total}`) : null,
      offset > 0 ? h("button", { type: "button", onclick: () => { offset = Math.max(0, offset - PAGE); load(); } }, "← Newer") : null,
      last < page.total ? h("button", { type: "button", onclick: () => { offset += PAGE; load(); } }, "Older →") : null);
  }
  await load();
}
