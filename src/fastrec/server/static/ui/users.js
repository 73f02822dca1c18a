// Users (admin: create, change role, disable/enable, delete) and API tokens (everyone:
// their own; an admin sees all).  A token's secret is shown once, when it is created.

import { api, allows } from "./api.js";
import { h, fill, notice, timeEl, modal, toast, copyField } from "./dom.js";

const ROLES = ["viewer", "auditor", "admin"];

export async function renderUsers(root, ctx) {
  const isAdmin = allows(ctx.user, "admin");
  const usersBox = h("div.table-wrap", { id: "users" });
  const tokensBox = h("div.table-wrap", { id: "tokens" });
  const secretBox = h("div.secret", { id: "token-secret" });
  fill(root,
    h("div.page-head", {}, h("h1", {}, isAdmin ? "Users and API tokens" : "API tokens")),
    isAdmin ? h("section.card", {}, h("h2", {}, "Users"), createUserForm(), usersBox) : null,
    h("section.card", {}, h("h2", {}, isAdmin ? "API tokens (all users)" : "Your API tokens"),
      h("p.muted", {}, "Scripts send a token as “Authorization: Bearer …”. It acts with its owner's role."),
      createTokenForm(), secretBox, tokensBox));

  function createUserForm() {
    const name = h("input", { name: "name", placeholder: "Username", required: true, maxlength: 64, "aria-label": "new user's name" });
    const password = h("input", { name: "password", type: "password", placeholder: "Password (8+ characters)", required: true, minlength: 8, autocomplete: "new-password", "aria-label": "new user's password" });
    const role = h("select", { name: "role", "aria-label": "new user's role" }, ROLES.map((r) => h("option", { value: r }, r)));
    const form = h("form.filters", { id: "create-user" }, name, password, role, h("button.primary", { type: "submit" }, "Create user"));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        await api("/api/users", { method: "POST", body: { name: name.value.trim(), password: password.value, role: role.value } });
        toast(`User ${name.value.trim()} created`);
        form.reset();
        await loadUsers();
      } catch (err) {
        toast(`Cannot create the user: ${err.message}`, "error");
      }
    });
    return form;
  }

  async function update(name, body, what) {
    try {
      await api(`/api/users/${encodeURIComponent(name)}`, { method: "PATCH", body });
      toast(`${name}: ${what}`);
    } catch (err) {
      toast(`Cannot change ${name}: ${err.message}`, "error");
    }
    await loadUsers();
  }

  async function loadUsers() {
    if (!isAdmin) return;
    let users;
    try {
      users = await api("/api/users");
    } catch (err) {
      fill(usersBox, notice("error", `Cannot load the users: ${err.message}`));
      return;
    }
    fill(usersBox, h("table.data.users", {}, h("thead", {}, h("tr", {}, ["Name", "Role", "Created", "State", ""].map((c) => h("th", {}, c)))),
      h("tbody", {}, users.map((u) => {
        const self = u.name === ctx.user.name;
        const role = h("select", { "aria-label": `role of ${u.name}`, onchange: () => update(u.name, { role: role.value }, `role is now ${role.value}`) },
          ROLES.map((r) => h("option", { value: r, selected: r === u.role }, r)));
        return h("tr", { dataset: { user: u.name } },
          h("td", {}, u.name, self ? h("span.sub", {}, " (you)") : null), h("td", {}, role), h("td", {}, timeEl(u.created_at)),
          h("td", {}, h(`span.badge.${u.disabled ? "bad" : "ok"}`, {}, u.disabled ? "disabled" : "active")),
          h("td", {}, h("div.row-actions", {},
            h("button.small", { type: "button", disabled: self, onclick: () => update(u.name, { disabled: !u.disabled }, u.disabled ? "enabled" : "disabled") },
              u.disabled ? "Enable" : "Disable"),
            h("button.small", { type: "button", onclick: () => resetPassword(u.name) }, "Set password…"),
            h("button.small.danger", { type: "button", disabled: self, onclick: async () => {
              const ok = await modal(`Delete user ${u.name}?`, h("p", {}, "Their sessions and API tokens stop working at once. The audit log keeps their actions."),
                { submitLabel: "Delete user", danger: true, onSubmit: () => api(`/api/users/${encodeURIComponent(u.name)}`, { method: "DELETE" }).then(() => true) });
              if (ok) { toast(`User ${u.name} deleted`); await loadUsers(); }
            } }, "Delete"))));
      }))));
  }

  async function resetPassword(name) {
    const password = h("input", { type: "password", id: "new-password", minlength: 8, required: true, autocomplete: "new-password" });
    const ok = await modal(`New password for ${name}`, h("div", {}, h("label", { for: "new-password" }, "Password (8+ characters)"), password),
      { submitLabel: "Set password", onSubmit: () => api(`/api/users/${encodeURIComponent(name)}`, { method: "PATCH", body: { password: password.value } }).then(() => true) });
    if (ok) toast(`Password of ${name} changed`);
  }

  function createTokenForm() {
    const label = h("input", { name: "label", placeholder: "What the token is for", required: true, maxlength: 100, "aria-label": "token label", id: "token-label" });
    const form = h("form.filters", { id: "create-token" }, label, h("button.primary", { type: "submit" }, "Create token"));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const created = await api("/api/tokens", { method: "POST", body: { label: label.value.trim() } });
        fill(secretBox, h("p.ok", {}, `Token “${created.label}” created. Copy the secret now: it is never shown again.`), copyField(created.token));
        form.reset();
        await loadTokens();
      } catch (err) {
        toast(`Cannot create the token: ${err.message}`, "error");
      }
    });
    return form;
  }

  async function loadTokens() {
    let tokens;
    try {
      tokens = await api("/api/tokens");
    } catch (err) {
      fill(tokensBox, notice("error", `Cannot load the tokens: ${err.message}`));
      return;
    }
    fill(tokensBox, tokens.length ? h("table.data", {}, h("thead", {}, h("tr", {}, [isAdmin ? "User" : null, "Label", "Created", "Last used", "State", ""]
      .filter(Boolean).map((c) => h("th", {}, c)))),
    h("tbody", {}, tokens.map((t) => h("tr", { dataset: { tokenId: t.id } },
      isAdmin ? h("td", {}, t.user) : null, h("td", {}, t.label), h("td", {}, timeEl(t.created_at)),
      h("td", {}, t.last_used_at ? timeEl(t.last_used_at) : "never"),
      h("td", {}, t.revoked_at ? h("span.badge.bad", { title: t.revoked_at }, "revoked") : h("span.badge.ok", {}, "active")),
      h("td", {}, t.revoked_at ? null : h("button.small.danger", { type: "button", onclick: async () => {
        try {
          await api(`/api/tokens/${encodeURIComponent(t.id)}`, { method: "DELETE" });
          toast(`Token “${t.label}” revoked`);
        } catch (err) {
          toast(`Cannot revoke: ${err.message}`, "error");
        }
        await loadTokens();
      } }, "Revoke"))))))
      : notice("empty", "No API tokens yet."));
  }

  await Promise.all([loadUsers(), loadTokens()]);
}
