// DOM building and formatting.  Every piece of data reaches the page as text
// (textContent, attribute values), never as HTML: recording metadata is untrusted.

/** h("a.link", {href: "/x", onclick: fn}, "text", child...) -> Element. */
export function h(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = [el.className, value].filter(Boolean).join(" ");
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "value" || key === "checked" || key === "selected" || key === "disabled") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's content. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A state line: kind is "loading", "empty" or "error". */
export function notice(kind, text, ...extra) {
  return h(`div.notice.${kind}`, { role: kind === "error" ? "alert" : "status" }, text, ...extra);
}

export function pad(n, width = 2) {
  return String(n).padStart(width, "0");
}

/** Local date and time: 2026-01-12 14:03:27 (tooltip elsewhere carries the ISO form). */
export function fmtTime(value, { ms = false } = {}) {
  if (value === null || value === undefined || value === "") return "—";
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return "—";
  const base = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return ms ? `${base}.${pad(d.getMilliseconds(), 3)}` : base;
}

/** The browser's UTC offset, e.g. "UTC+01:00". */
export function zoneLabel(d = new Date()) {
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  return `UTC${sign}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
}

/** A time element with the local time shown and the ISO time in its tooltip. */
export function timeEl(value, opts) {
  const d = value ? new Date(value) : null;
  return h("time", d && !Number.isNaN(d.getTime()) ? { datetime: d.toISOString(), title: d.toISOString() } : {},
    fmtTime(value, opts));
}

/** Seconds as 1:02:03 or 2:03. */
export function fmtClock(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) seconds = 0;
  const s = Math.floor(seconds);
  const hours = Math.floor(s / 3600);
  const mins = Math.floor((s % 3600) / 60);
  return hours ? `${hours}:${pad(mins)}:${pad(s % 60)}` : `${mins}:${pad(s % 60)}`;
}

/** Seconds as "1 h 02 min", "3 min 04 s", "12 s". */
export function fmtDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "—";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`;
}

export function fmtBytes(n) {
  if (!Number.isFinite(n) || n < 0) return "—";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i += 1; }
  return `${n >= 100 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

export function text(value) {
  return value === null || value === undefined || value === "" ? "—" : String(value);
}

/** A toast at the bottom of the page that goes away by itself. */
export function toast(message, kind = "info") {
  let box = document.getElementById("toasts");
  if (!box) {
    box = h("div", { id: "toasts", "aria-live": "polite" });
    document.body.append(box);
  }
  const item = h(`div.toast.${kind}`, {}, message);
  box.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 3500);
  return item;
}

/** A modal dialog (<dialog>); resolves with the value the form's submit gives, or null. */
export function modal(title, body, { submitLabel = "OK", danger = false, onSubmit } = {}) {
  return new Promise((resolve) => {
    const error = h("p.form-error", { role: "alert", hidden: true });
    const submit = h(`button.${danger ? "danger" : "primary"}`, { type: "submit" }, submitLabel);
    const cancel = h("button.cancel", { type: "button" }, "Cancel");
    const form = h("form.dialog-form", { method: "dialog" },
      h("h2", {}, title), body, error, h("div.dialog-buttons", {}, cancel, submit));
    const dialog = h("dialog", {}, form);
    let result = null;
    cancel.addEventListener("click", () => dialog.close());
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!onSubmit) { result = true; dialog.close(); return; }
      submit.disabled = true;
      error.hidden = true;
      try {
        const value = await onSubmit(form);
        if (value !== undefined) { result = value; dialog.close(); }
      } catch (err) {
        error.textContent = err.message || String(err);
        error.hidden = false;
      } finally {
        submit.disabled = false;
      }
    });
    dialog.addEventListener("close", () => { dialog.remove(); resolve(result); });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** Copy text to the clipboard; false when the browser refuses (the caller shows it). */
export async function copyText(value) {
  try {
    await navigator.clipboard.writeText(value);
    return true;
  } catch {
    return false;
  }
}

/** A read-only text field with a Copy button (URLs, API token secrets). */
export function copyField(value, label = "Copy") {
  const input = h("input.copy-value", { type: "text", readonly: true, value, "aria-label": "value to copy" });
  const button = h("button", { type: "button", onclick: async () => {
    input.select();
    const ok = await copyText(value);
    toast(ok ? "Copied to the clipboard" : "Select the text and copy it (Ctrl+C)", ok ? "info" : "error");
  } }, label);
  input.addEventListener("focus", () => input.select());
  return h("div.copy-field", {}, input, button);
}
