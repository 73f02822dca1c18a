// The "Share…" dialog (POST /admin/session-recordings/share/{id}) and the share-link table.

import { api } from "./api.js";
import { h, fill, modal, copyField, fmtTime, timeEl, notice, toast, text } from "./dom.js";

const EXPIRY_LABELS = { "1h": "1 hour", "24h": "24 hours", "7d": "7 days", "30d": "30 days", never: "Never (the server's maximum)" };

/**
 * Open the dialog for ``sessionId``; ``moment`` (a Date, optional) offers "start at this
 * moment".  Resolves with the created link (or null when cancelled).
 */
export async function shareDialog(sessionId, { choices = Object.keys(EXPIRY_LABELS), moment = null } = {}) {
  const expires = h("select", { name: "expiresIn", id: "share-expires" },
    choices.map((c) => h("option", { value: c, selected: c === "24h" }, EXPIRY_LABELS[c] || c)));
  const startAt = moment ? h("input", { type: "checkbox", name: "startAt", id: "share-start", checked: true }) : null;
  const result = h("div.share-result");
  let created = null;
  const body = h("div", {},
    h("p", {}, "Anyone with the link can watch this recording, read-only and without signing in, until it expires. Every access is logged."),
    h("label", { for: "share-expires" }, "Expires in"), expires,
    startAt ? h("label.check", {}, startAt, ` Start the replay at ${fmtTime(moment)}`) : null,
    result);
  await modal(`Share ${sessionId}`, body, {
    submitLabel: "Create link",
    onSubmit: async (form) => {
      if (created) return created; // second press: done
      const payload = { expiresIn: expires.value };
      if (startAt && startAt.checked) payload.startAt = moment.toISOString();
      created = await api(`/admin/session-recordings/share/${encodeURIComponent(sessionId)}`, { method: "POST", body: payload });
      fill(result, h("p.ok", {}, `Link created; it expires ${fmtTime(created.expires_at)}. Copy it now: it is not shown again.`),
        copyField(created.url));
      result.querySelector("input").id = "share-url";
      const submit = form.querySelector("button[type=submit]");
      submit.textContent = "Done";
      form.querySelector("button.cancel").hidden = true;
      expires.disabled = true;
      if (startAt) startAt.disabled = true;
      return undefined; // keep the dialog open to show the link
    },
  });
  return created;
}

function stateBadge(link) {
  const kind = { valid: "ok", expired: "muted", revoked: "bad" }[link.state] || "muted";
  return h(`span.badge.${kind}`, {}, link.state);
}

/** A table of share links with Revoke buttons; ``reload`` is called after a revoke. */
export function shareTable(links, { reload, showSession = true }) {
  if (!links.length) return notice("empty", "No share links.");
  return h("table.data.shares", {},
    h("thead", {}, h("tr", {}, [showSession ? "Recording" : null, "Created", "By", "Expires", "Starts at", "State", ""]
      .filter((c) => c !== null).map((c) => h("th", {}, c)))),
    h("tbody", {}, links.map((link) => h("tr", { dataset: { linkId: link.id } },
      showSession ? h("td", {}, h("a", { href: `/recordings/${encodeURIComponent(link.session_id)}` }, link.session_id)) : null,
      h("td", {}, timeEl(link.created_at)),
      h("td", {}, text(link.created_by)),
      h("td", {}, timeEl(link.expires_at)),
      h("td", {}, link.start_at ? timeEl(link.start_at) : "—"),
      h("td", {}, stateBadge(link), link.revoked_by ? h("div.sub", {}, `by ${link.revoked_by}`) : null),
      h("td", {}, link.state === "valid" ? h("button.danger.small", { type: "button", onclick: async (event) => {
        event.target.disabled = true;
        try {
          await api(`/api/shares/${encodeURIComponent(link.id)}`, { method: "DELETE" });
          toast("Link revoked");
        } catch (err) {
          toast(`Cannot revoke: ${err.message}`, "error");
        }
        await reload();
      } }, "Revoke") : null)))));
}
