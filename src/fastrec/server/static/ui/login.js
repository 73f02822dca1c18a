// The sign-in form: POST /api/auth/login, then back to where the user was going.

import { api, safeNext } from "./api.js";
import { h, fill } from "./dom.js";

export function renderLogin(root) {
  const next = safeNext(new URLSearchParams(location.search).get("next") || "/live");
  const error = h("p.form-error", { role: "alert", id: "login-error", hidden: true });
  const username = h("input", { name: "username", id: "username", autocomplete: "username", required: true, maxlength: 64, autofocus: true });
  const password = h("input", { name: "password", id: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button.primary", { type: "submit" }, "Sign in");
  const form = h("form.login", {},
    h("h1", {}, "Sign in"),
    h("label", { for: "username" }, "Username"), username,
    h("label", { for: "password" }, "Password"), password,
    error, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    submit.textContent = "Signing in…";
    error.hidden = true;
    try {
      await api("/api/auth/login", { method: "POST", body: { username: username.value, password: password.value }, auth: false });
      location.assign(next);
    } catch (err) {
      error.textContent = err.status === 401 ? "Wrong username or password." : err.message;
      error.hidden = false;
      password.value = "";
      password.focus();
      submit.disabled = false;
      submit.textContent = "Sign in";
    }
  });
  fill(root, h("div.login-page", {}, form));
}
