// The admin API over fetch: JSON in and out, the CSRF header on state-changing requests,
// one error type whose message is the server's "detail", and 401 -> the login page.

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return "";
}

/** Where the login page sends the user back to: a path of this site, nothing else. */
export function safeNext(value) {
  if (typeof value !== "string" || !value.startsWith("/") || value.startsWith("//") || value.startsWith("/\\")) {
    return "/live";
  }
  return value.startsWith("/login") ? "/live" : value;
}

export function toLogin() {
  const here = location.pathname + location.search;
  location.assign(`/login?next=${encodeURIComponent(safeNext(here))}`);
}

function detail(body, status) {
  if (body && typeof body === "object" && "detail" in body) {
    const d = body.detail;
    if (typeof d === "string") return d;
    // FastAPI's validation errors: [{loc: [...], msg: "..."}]
    if (Array.isArray(d)) return d.map((e) => `${(e.loc || []).slice(1).join(".")}: ${e.msg}`).join("; ");
  }
  return `the server answered ${status}`;
}

/** Query string of the non-empty values of ``params``. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") q.set(key, String(value));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

/**
 * api("/api/x", {method, body, params, auth}) -> parsed JSON (or null for 204).
 * auth=false: a 401 is an error for the caller (the login form), not a redirect.
 */
export async function api(path, { method = "GET", body, params, auth = true } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!["GET", "HEAD"].includes(method)) headers["X-CSRF-Token"] = cookie("fastrec_csrf");
  let response;
  try {
    response = await fetch(path + query(params), {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, `cannot reach the server (${err.message})`, null);
  }
  let data = null;
  const type = response.headers.get("content-type") || "";
  if (response.status !== 204 && type.includes("json")) {
    try { data = await response.json(); } catch { data = null; }
  }
  if (response.status === 401 && auth) {
    toLogin();
    throw new ApiError(401, "signed out: opening the login page", data);
  }
  if (!response.ok) throw new ApiError(response.status, detail(data, response.status), data);
  return data;
}

const RANKS = { viewer: 0, auditor: 1, admin: 2 };

/** May ``user`` (the /api/auth/me user) act as ``role``? */
export function allows(user, role) {
  return Boolean(user) && (RANKS[user.role] ?? -1) >= RANKS[role];
}
