// The Timeline JSON (server/replay.py) as the player uses it: timeline seconds <-> wall clock.
// Timeline seconds run from 0 at the first frame through all parts with no dead time, so a
// part boundary is never visible; within a part, wall = wall_start + (t - offset).

export function partAt(timeline, t) {
  const parts = timeline.parts || [];
  let found = parts[0] || null;
  for (const part of parts) {
    if (part.offset <= t + 1e-6) found = part; else break;
  }
  return found;
}

/** Epoch milliseconds of the frame shown at timeline second ``t`` (NaN without parts). */
export function wallAt(timeline, t) {
  const part = partAt(timeline, t);
  if (!part) return NaN;
  // the last part of a live session grows past the duration the timeline was fetched with
  const growing = timeline.live && part === timeline.parts.at(-1);
  const into = Math.max(0, growing ? t - part.offset : Math.min(t - part.offset, part.duration));
  return Date.parse(part.wall_start) + into * 1000;
}

/** Timeline second showing the wall-clock moment ``ms`` (epoch ms): the nearest shown time. */
export function timeAtWall(timeline, ms) {
  const parts = timeline.parts || [];
  if (!parts.length || !Number.isFinite(ms)) return 0;
  for (const part of parts) {
    const start = Date.parse(part.wall_start);
    if (ms < start) return part.offset; // before this part (or in a gap before it): its start
    if (ms <= start + part.duration * 1000 || part === parts.at(-1)) {
      return part.offset + Math.min((ms - start) / 1000, timeline.live && part === parts.at(-1) ? Infinity : part.duration);
    }
  }
  return timeline.duration;
}

/** The idle stretch playback has just entered between ``before`` and ``now``, if any. */
export function idleEntered(timeline, before, now) {
  for (const stretch of timeline.idle || []) {
    if (before < stretch.start + 0.05 && now >= stretch.start && now < stretch.end - 0.25) return stretch;
  }
  return null;
}
