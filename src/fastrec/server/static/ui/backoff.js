// Reconnection delays: exponential backoff with full jitter (a uniformly random delay up to
// min(max, base * 2^attempt)), so clients that lost the server together do not return together.

/** The delay (ms) before reconnection attempt ``attempt`` (0 for the first). */
export function backoffDelay(attempt, baseMs, maxMs, random = Math.random) {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/**
 * A WebSocket that reconnects by itself.  ``onState(state, info)`` hears every change:
 * "connecting", "open", "waiting" (info: {attempt, delay, max}), "failed" (gave up after
 * max attempts), "closed" (info: {code, reason}; no retry: signed out or refused).
 */
export class ReconnectingSocket {
  constructor(url, { baseMs, maxMs, maxAttempts, onMessage, onState, noRetry = () => false }) {
    Object.assign(this, { url, baseMs, maxMs, maxAttempts, onMessage, onState, noRetry });
    this.attempt = 0;
    this.socket = null;
    this.timer = null;
    this.stopped = false;
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    this.stopped = false;
    if (this.socket) {
      const old = this.socket;
      this.socket = null;
      old.onclose = null;
      old.close(1000, "reconnecting");
    }
    this.onState("connecting", { attempt: this.attempt });
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this.onState("open", {});
    };
    socket.onmessage = (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      this.onMessage(message);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.stopped) return;
      if (this.noRetry(event.code)) {
        this.onState("closed", { code: event.code, reason: event.reason });
        return;
      }
      this.retry(event.code);
    };
  }

  retry(code) {
    if (this.attempt >= this.maxAttempts) {
      this.onState("failed", { attempts: this.attempt, code });
      return;
    }
    const delay = backoffDelay(this.attempt, this.baseMs, this.maxMs);
    this.attempt += 1;
    this.onState("waiting", { attempt: this.attempt, max: this.maxAttempts, delay, code, until: Date.now() + delay });
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /** The Reconnect button: a fresh series of attempts, starting now. */
  reconnectNow() {
    this.attempt = 0;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close(1000, "page left");
  }
}
