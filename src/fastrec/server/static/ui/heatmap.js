// A recording's heatmaps on its detail page: the picture (GET .../heatmap.png?kind=) and its
// numbers (GET .../heatmap): clicks (total, points, max and average per point) and scroll depth.

import { api } from "./api.js";
import { h, fill, notice } from "./dom.js";

export function heatmapPanel(id) {
  const base = `/api/recordings/${encodeURIComponent(id)}`;
  const stats = h("div.heatmap-stats", { id: "heatmap-stats" }, notice("loading", "Counting clicks…"));
  const picture = h("div.heatmap-picture");
  const kinds = ["clicks", "scroll"].map((kind) => h("button.small", { type: "button", "data-kind": kind, onclick: () => show(kind) },
    kind === "clicks" ? "Clicks" : "Scroll depth"));

  function show(kind) {
    for (const b of kinds) b.setAttribute("aria-pressed", String(b.dataset.kind === kind));
    const img = h("img.heatmap", { id: "heatmap-image", alt: `${kind} heatmap`, src: `${base}/heatmap.png?kind=${kind}` });
    img.addEventListener("load", () => { img.dataset.state = "loaded"; });
    img.addEventListener("error", () => fill(picture, notice("error", "The heatmap cannot be drawn.")));
    fill(picture, img);
  }

  (async () => {
    let numbers;
    try {
      numbers = await api(`${base}/heatmap`);
    } catch (err) {
      fill(stats, notice("error", `Cannot load the heatmap: ${err.message}`));
      return;
    }
    const c = numbers.clicks;
    const s = numbers.scroll;
    fill(stats, h("dl.numbers", {},
      h("dt", {}, "Clicks"), h("dd", { id: "heatmap-clicks" }, String(c.total)),
      h("dt", {}, "Points clicked"), h("dd", {}, String(c.points)),
      h("dt", {}, "Max per point"), h("dd", { id: "heatmap-max" }, String(c.max_per_point)),
      h("dt", {}, "Average per point"), h("dd", {}, c.average_per_point.toFixed(2)),
      h("dt", {}, "Wheel notches"), h("dd", {}, String(s.notches)),
      h("dt", {}, "Average scroll depth"), h("dd", {}, s.average_depth === null ? "—" : `${s.average_depth.toFixed(1)} %`)),
      numbers.problems.length ? h("ul.problems", {}, numbers.problems.map((p) => h("li.bad", {}, p))) : null);
    if (c.total || s.notches) show(c.total ? "clicks" : "scroll");
    else fill(picture, notice("empty", "No clicks or wheel notches were recorded."));
  })();
  return h("div.heatmap-panel", { id: "heatmap" }, h("div.actions", {}, kinds), stats, picture);
}
