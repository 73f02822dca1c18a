// The recording policy (auditor reads, admin changes): the active document in an editor,
// Validate / Save with a comment (an invalid document is refused with its line, which is
// selected in the editor), the history, the differences between two versions (added lines
// green, removed lines red, both counted) and Rollback with a confirmation.

import { api, allows, ApiError } from "./api.js";
import { h, fill, notice, timeEl, modal, toast } from "./dom.js";

/** "version 3", or "the default policy" for version 0 (nothing saved). */
function versionName(n) {
  return n === 0 ? "the default policy" : `version ${n}`;
}

/** The start and end offsets of 1-based ``line`` in ``text``. */
function lineRange(text, line) {
  const lines = text.split("\n");
  let start = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i += 1) start += lines[i].length + 1;
  return [start, start + (lines[line - 1] || "").length];
}

export async function renderPolicy(root, ctx) {
  const isAdmin = allows(ctx.user, "admin");
  const editor = h("textarea.code", { id: "policy-text", spellcheck: "false", autocomplete: "off", rows: 20,
    readonly: !isAdmin, "aria-label": "policy document (YAML)" });
  const result = h("div.policy-result", { id: "policy-result", "aria-live": "polite" });
  const comment = h("input", { id: "policy-comment", name: "comment", maxlength: 500, placeholder: "Why (saved with the version)",
    "aria-label": "comment" });
  const activeBadge = h("span.badge.muted", { id: "policy-active" }, "…");
  const historyBox = h("div.table-wrap", { id: "policy-history" });
  const diffFrom = h("select", { id: "diff-from", "aria-label": "old version" });
  const diffTo = h("select", { id: "diff-to", "aria-label": "new version" });
  const diffBox = h("div", { id: "policy-diff" });
  const form = h("form", { id: "policy-form" }, editor,
    h("div.policy-actions", {},
      h("button", { type: "button", id: "policy-validate", onclick: validate }, "Validate"),
      isAdmin ? [comment, h("button.primary", { type: "submit", id: "policy-save" }, "Save as new version"),
        h("button.link", { type: "button", id: "policy-discard", onclick: () => { editor.value = active.text; fill(result); } },
          "Discard changes")] : null),
    result);
  form.addEventListener("submit", (event) => { event.preventDefault(); save(); });
  fill(root,
    h("div.page-head", {}, h("h1", {}, "Recording policy"), activeBadge),
    h("p.muted", {}, "Which connections are recorded, privacy rules, retention and who may view, export or share: one YAML ",
      "document. Saving creates a version; the newest is the one recorders apply to their next connection. ",
      isAdmin ? "" : "Only an admin can change it."),
    h("section.card", {}, h("h2", {}, "Active document"), form),
    h("section.card", {}, h("h2", {}, "History"), historyBox),
    h("section.card", {}, h("h2", {}, "Compare versions"),
      h("div.filters", {}, h("label.inline", {}, "From ", diffFrom), h("label.inline", {}, "to ", diffTo),
        h("button", { type: "button", id: "diff-show", onclick: () => showDiff(Number(diffFrom.value), Number(diffTo.value)) },
          "Show differences")),
      diffBox));

  let active = null; // the version the editor was loaded from (its number is the save's base)
  let versions = [];

  function showProblem(err, what) {
    const line = err instanceof ApiError && err.body && Number.isInteger(err.body.line) ? err.body.line : null;
    fill(result, h("div.form-error", { id: "policy-error", role: "alert", dataset: line ? { line: String(line) } : {} },
      h("strong", {}, line ? `${what}: line ${line}` : what),
      h("pre.problems", {}, err.message)));
    if (line) {
      const [start, end] = lineRange(editor.value, line);
      editor.focus();
      editor.setSelectionRange(start, end);
      const height = parseFloat(getComputedStyle(editor).lineHeight) || 18;
      editor.scrollTop = Math.max(0, (line - 3) * height);
    }
  }

  async function validate() {
    try {
      const checked = await api("/api/policy/validate", { method: "POST", body: { text: editor.value } });
      fill(result, h("p.ok", { id: "policy-valid" }, `Valid: ${checked.connection_rules} connection rule(s), `,
        `default ${checked.default_action}; ${checked.privacy_rules} privacy rule(s)`,
        checked.presets.length ? `, presets ${checked.presets.join(", ")}` : "", "."));
    } catch (err) {
      showProblem(err, "Not valid");
    }
  }

  async function save() {
    if (!comment.value.trim()) {
      fill(result, h("p.form-error", { role: "alert" }, "Say why in the comment: it is saved with the version."));
      comment.focus();
      return;
    }
    try {
      const saved = await api("/api/policy", { method: "POST",
        body: { text: editor.value, comment: comment.value.trim(), base_version: active.version } });
      comment.value = "";
      toast(`Version ${saved.version} saved; it is the active policy`);
      await load();
      fill(result, h("p.ok", {}, `Saved as version ${saved.version}.`));
    } catch (err) {
      showProblem(err, "Not saved");
    }
  }

  async function rollback(v) {
    const note = h("input", { type: "text", id: "rollback-comment", required: true, maxlength: 500, placeholder: "Why" });
    const next = versions.length ? versions[versions.length - 1].version + 1 : 1;
    const saved = await modal(`Roll back to ${versionName(v.version)}?`,
      h("div", {}, h("p", {}, `${v.version === 0 ? "The default policy" : `Version ${v.version}'s document`} becomes the active `,
        `policy again, saved as the new version ${next}. The versions in between stay in the history.`),
      h("label", { for: "rollback-comment" }, "Comment"), note),
      { submitLabel: "Roll back", danger: true,
        onSubmit: () => api("/api/policy/rollback", { method: "POST",
          body: { version: v.version, comment: note.value.trim(), base_version: active.version } }) });
    if (saved) {
      toast(`Version ${saved.version} saved: ${versionName(v.version)} is active again`);
      await load();
    }
  }

  async function showDiff(from, to) {
    diffFrom.value = String(from);
    diffTo.value = String(to);
    fill(diffBox, notice("loading", "Comparing…"));
    let d;
    try {
      d = await api("/api/policy/diff", { params: { from, to } });
    } catch (err) {
      fill(diffBox, notice("error", `Cannot compare: ${err.message}`));
      return;
    }
    const sign = { add: "+", remove: "−", equal: " " };
    fill(diffBox,
      h("p.diff-counts", { id: "diff-counts" }, `${versionName(d.from_version)} → ${versionName(d.to_version)}: `,
        h("span.add-count", {}, `+${d.additions}`), " ", h("span.remove-count", {}, `−${d.deletions}`),
        ` line${d.additions + d.deletions === 1 ? "" : "s"}`),
      d.additions || d.deletions
        ? h("table.diff", {}, h("tbody", {}, d.lines.map((l) => h(`tr.${l.kind}`, {},
          h("td.ln", {}, l.old ?? ""), h("td.ln", {}, l.new ?? ""), h("td.sign", {}, sign[l.kind]), h("td.code", {}, l.text)))))
        : notice("empty", "The two versions hold the same document."));
  }

  function drawHistory() {
    const last = versions.length ? versions[versions.length - 1].version : 0;
    const options = [{ version: 0, label: "0 — default policy" },
      ...versions.map((v) => ({ version: v.version, label: `${v.version} — ${v.comment}` }))];
    for (const select of [diffFrom, diffTo]) {
      const keep = select.value;
      fill(select, options.map((o) => h("option", { value: String(o.version) }, o.label)));
      if (keep && options.some((o) => String(o.version) === keep)) select.value = keep;
    }
    if (!diffTo.value || Number(diffTo.value) > last || !versions.length) diffTo.value = String(last);
    if (!diffFrom.value || Number(diffFrom.value) >= Number(diffTo.value)) diffFrom.value = String(Math.max(0, last - 1));
    if (!versions.length) {
      fill(historyBox, notice("empty", "No version saved yet: the default policy applies (every connection is recorded)."));
      return;
    }
    fill(historyBox, h("table.data.policy-versions", {},
      h("thead", {}, h("tr", {}, ["Version", "Saved", "By", "Comment", "", ""].map((c) => h("th", {}, c)))),
      h("tbody", {}, [...versions].reverse().map((v) => h("tr", { dataset: { version: String(v.version) } },
        h("td.num", {}, String(v.version), " ", v.active ? h("span.badge.ok", {}, "active") : null),
        h("td", {}, timeEl(v.created_at)), h("td", {}, v.author), h("td", {}, v.comment),
        h("td", {}, v.rolled_back_from !== null ? h("span.badge.muted", {}, `rollback to ${v.rolled_back_from}`) : null),
        h("td", {}, h("div.row-actions", {},
          h("button.small", { type: "button", onclick: () => (v.active ? showDiff(v.version - 1, v.version) : showDiff(v.version, last)) },
            v.active ? "Changes" : "Diff with active"),
          isAdmin && !v.active ? h("button.small.danger", { type: "button", onclick: () => rollback(v) }, "Rollback…") : null)))))));
  }

  async function load() {
    try {
      [active, versions] = await Promise.all([api("/api/policy"), api("/api/policy/versions")]);
    } catch (err) {
      fill(historyBox, notice("error", `Cannot load the policy: ${err.message}`));
      return;
    }
    editor.value = active.text;
    fill(activeBadge, active.version === 0 ? "default policy (nothing saved)" : `version ${active.version} active`);
    activeBadge.className = `badge ${active.version === 0 ? "muted" : "ok"}`;
    drawHistory();
  }

  await load();
}
