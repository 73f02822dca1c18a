// The admin UI: one page for every path; this script renders the view of location.pathname.
// No build step, no framework: ES modules under ui/, hls.js from vendor/ (loaded by the page).

import { api, allows, ApiError } from "./ui/api.js";
import { h, fill, notice } from "./ui/dom.js";
import { renderLogin } from "./ui/login.js";
import { renderLive } from "./ui/live.js";
import { renderRecordings, renderRecording } from "./ui/recordings.js";
import { renderReplay, renderShared } from "./ui/replay.js";
import { renderSearch } from "./ui/search.js";
import { renderShares } from "./ui/shares.js";
import { renderAudit } from "./ui/audit.js";
import { renderUsers } from "./ui/users.js";
import { renderPolicy } from "./ui/policy.js";

const VIEWS = [
  [/^\/(live)?$/, renderLive, "Live sessions"],
  [/^\/recordings$/, renderRecordings, "Recordings"],
  [/^\/recordings\/(.+)$/, renderRecording, "Recording"],
  [/^\/replay\/(.+)$/, renderReplay, "Replay"],
  [/^\/search$/, renderSearch, "Search"],
  [/^\/shares$/, renderShares, "Share links"],
  [/^\/audit$/, renderAudit, "Audit log"],
  [/^\/users$/, renderUsers, "Users and API tokens"],
  [/^\/policy$/, renderPolicy, "Recording policy"],
];

function nav(user) {
  const here = location.pathname;
  const items = [["/live", "Live", "viewer"], ["/recordings", "Recordings", "viewer"], ["/search", "Search", "viewer"], ["/shares", "Share links", "auditor"],
    ["/policy", "Policy", "auditor"], ["/audit", "Audit log", "admin"], ["/users", allows(user, "admin") ? "Users" : "API tokens", "viewer"]];
  return items.filter(([, , role]) => allows(user, role)).map(([href, label]) => {
    const current = here === href || (href === "/recordings" && here.startsWith("/recordings/")) ||
      (href === "/live" && here === "/") || (href === "/recordings" && here.startsWith("/replay/"));
    return h("a", { href, "aria-current": current ? "page" : null }, label);
  });
}

async function signOut() {
  try {
    await api("/api/auth/logout", { method: "POST", auth: false });
  } finally {
    location.assign("/login");
  }
}

function who(user) {
  return [h("span.user", { title: `role: ${user.role}` }, user.name, " ", h("span.role", {}, user.role)),
    h("button.signout", { type: "button", onclick: signOut }, "Sign out")];
}

async function main() {
  const root = document.getElementById("main");
  const path = location.pathname;
  if (document.body.dataset.mode === "shared") {
    document.getElementById("nav").remove();
    document.getElementById("who").remove();
    document.querySelector(".brand").removeAttribute("href");
    await renderShared(root);
    return;
  }
  if (path === "/login") {
    document.title = "Sign in · fastrec";
    renderLogin(root);
    return;
  }
  const match = VIEWS.map(([re, view, title]) => [path.match(re), view, title]).find(([m]) => m);
  fill(root, notice("loading", "Loading…"));
  let me;
  try {
    me = await api("/api/auth/me");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return; // on the way to the login page
    fill(root, notice("error", `Cannot load the page: ${err.message}`));
    return;
  }
  fill(document.getElementById("nav"), nav(me.user));
  fill(document.getElementById("who"), who(me.user));
  if (!match) {
    fill(root, notice("error", "There is no such page."));
    return;
  }
  const [m, view, title] = match;
  document.title = `${title} · fastrec`;
  const ctx = { user: me.user, param: m[1] && m[1] !== "live" ? decodeURIComponent(m[1]) : null };
  try {
    await view(root, ctx);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;
    fill(root, notice("error", `Something went wrong: ${err.message}`));
    console.error(err);
  }
}

main();
