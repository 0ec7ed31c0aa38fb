// live.js: the one WebSocket client every screen uses (issue 3).
//
//   const live = new Live({topics: ["office"], token, onSnapshot, onEvent, onTicket, onError, onState});
//   live.start();
//
// - subscribes to `topics` on /ws (after an `auth` message when a device or staff token is given;
//   staff pages send their session cookie instead);
// - keeps the sequence number: on the complete streams ("office", "staff") an event or heartbeat
//   that skips a number is a gap, and the page gets a fresh snapshot;
// - a new connection resumes: it subscribes with `since` = the last sequence number seen, and the
//   server sends exactly the events missed (then each queue's current status, which reaches the
//   page's onEvent as a status-only event: {type: "event", event: {type: "queue.status"}, queues:
//   [status], counters: []}); when those events are no longer in the server's history (or the
//   server's numbering is behind ours: another database) the server sends a fresh snapshot
//   instead, so a page never shows stale data and a blip costs no snapshot;
// - reconnects by itself with back-off (0.25 s doubling to 4 s, with jitter);
// - state "online" | "connecting" | "lost": "lost" after LOST_AFTER_MS without hearing the server
//   (the server sends a heartbeat every 2 s on an idle connection), shown in the page's #conn
//   banner, and hidden again on recovery, without a reload.

export const LOST_AFTER_MS = 5000;
const STALE_AFTER_MS = 4500;   // no message this long on an open socket: assume it is dead

export class Live {
  constructor({ topics, token = null, onSnapshot = () => {}, onEvent = () => {}, onTicket = () => {},
                onError = () => {}, onState = () => {}, onOpen = () => {} }) {
    this.topics = topics;
    this.token = token;
    this.handlers = { onSnapshot, onEvent, onTicket, onError, onState, onOpen };
    this.complete = topics.some((t) => t === "office" || t === "staff");
    this.seq = null;
    this.ws = null;
    this.attempt = 0;
    this.lastHeard = Date.now();
    this.state = "connecting";
    this.nextId = 1;
    this.timer = null;
  }

  start() {
    this.connect();
    setInterval(() => this.watch(), 500);
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/ws`;
  }

  connect() {
    clearTimeout(this.timer);
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch (e) {
      this.retry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.heard();
      if (this.token) this.send({ type: "auth", token: this.token });
      this.subscribe(this.seq);
      this.handlers.onOpen();
    };
    ws.onmessage = (e) => {
      this.heard();
      let m;
      try { m = JSON.parse(e.data); } catch { return; }
      this.receive(m);
    };
    ws.onclose = () => {
      if (this.ws === ws) { this.ws = null; this.retry(); }
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  retry() {
    const delay = Math.min(4000, 250 * 2 ** this.attempt) * (0.8 + Math.random() * 0.4);
    this.attempt += 1;
    this.setState(Date.now() - this.lastHeard >= LOST_AFTER_MS ? "lost" : "connecting");
    this.timer = setTimeout(() => this.connect(), delay);
  }

  send(obj) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ id: this.nextId++, ...obj }));
      return true;
    }
    return false;
  }

  // Subscribe to this.topics: from a fresh snapshot (since = null), or resuming after `since`.
  subscribe(since = null) {
    this.seq = since;
    this.send(since === null ? { type: "subscribe", topics: this.topics } : { type: "subscribe", topics: this.topics, since });
  }

  // A gap on a complete stream: drop what we have and ask for a fresh snapshot.
  resync() {
    this.send({ type: "unsubscribe", topics: this.topics });
    this.subscribe();
  }

  heard() {
    this.lastHeard = Date.now();
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.setState("online");
  }

  watch() {
    const silent = Date.now() - this.lastHeard;
    if (this.ws && this.ws.readyState === WebSocket.OPEN && silent > STALE_AFTER_MS) {
      const ws = this.ws;
      this.ws = null;
      ws.close();
      this.retry();
    }
    if (silent >= LOST_AFTER_MS) this.setState("lost");
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    const banner = document.getElementById("conn");
    if (banner) banner.hidden = state !== "lost";
    document.documentElement.dataset.connection = state;
    this.handlers.onState(state);
  }

  receive(m) {
    switch (m.type) {
      case "snapshot":
        this.seq = m.seq;
        this.handlers.onSnapshot(m.topic, m.data, m.seq);
        break;
      case "event":
        if (this.seq === null) return;             // before the snapshot: it is in there
        if (m.seq <= this.seq) return;             // already seen
        if (this.complete && m.seq !== this.seq + 1) { this.resync(); return; }
        this.seq = m.seq;
        this.handlers.onEvent(m);
        break;
      case "queue_status": {                       // after a resume: a queue's status now
        const { type, seq, ...status } = m;
        this.handlers.onEvent({ type: "event", seq, event: { type: "queue.status", queue: status.queue }, queues: [status], counters: [] });
        break;
      }
      case "heartbeat":
        if (this.seq === null) break;
        // Everything up to the heartbeat's number has been sent before it: on a complete stream a
        // higher number is a gap; on the others it is where a resume starts.
        if (this.complete && m.seq > this.seq) this.resync();
        else if (!this.complete && m.seq > this.seq) this.seq = m.seq;
        break;
      case "ticket_status":
        this.handlers.onTicket(m.ticket, m.seq);
        break;
      case "error":
        this.handlers.onError(m.error);
        break;
      default:
        break;
    }
  }
}

// The office as a screen sees it: the snapshot, kept current by the events' embedded queue and
// counter status (the server sends the new status of whatever an event touched), plus the list of
// recent calls. No floor logic here.
export class OfficeView {
  constructor() {
    this.data = null;
    this.queues = new Map();
    this.counters = new Map();
  }

  snapshot(data) {
    this.data = data;
    this.queues = new Map(data.queues.map((q) => [q.id, q]));
    this.counters = new Map(data.counters.map((c) => [c.id, c]));
  }

  // Apply an event message; returns the call ({display, counter_number, queue, recall}) it made, if any.
  event(m) {
    if (!this.data) return null;
    for (const q of m.queues || []) {
      const known = this.queues.get(q.queue);
      if (known) Object.assign(known, q);
    }
    for (const c of m.counters || []) {
      const known = this.counters.get(c.id);
      if (known) Object.assign(known, c);
    }
    this.data.handover_ready = this.data.queues.filter((q) => Array.isArray(q.ready)).flatMap((q) => q.ready);
    const e = m.event;
    if (e.type === "ticket.called" || e.type === "ticket.recalled") {
      const call = { display: e.display, queue: e.queue, counter: e.counter, counter_number: e.counter_number,
                     at: e.at, recall: e.type === "ticket.recalled" };
      this.data.recent_calls.unshift(call);
      this.data.recent_calls.length = Math.min(this.data.recent_calls.length, 20);
      return call;
    }
    return null;
  }

  flowQueues(flowId) {
    return this.data.queues.filter((q) => q.flow === flowId);
  }
}

// Seconds → whole minutes, rounded up, for times already waited (counter terminal, staff display).
// Expected waits come from the server in minutes (`wait_min`): show those with minutesHtml.
export function minutes(seconds) {
  return seconds == null ? null : Math.max(0, Math.ceil(seconds / 60));
}

// An expected wait as the server gives it in whole minutes (`wait_min`, rounded up there: the one
// rule, server/views.py wait_minutes) as bilingual HTML: 「約N分 about N min」, 「まもなく soon」, "—".
export function minutesHtml(m) {
  if (m == null) return "—";
  return m === 0 ? `まもなく <span lang="en" class="en">soon</span>` : `約${m}分 <span lang="en" class="en">about ${m} min</span>`;
}

// Why a queue issues no ticket now (its `closed_reason`, decided by the server's core), bilingual.
const CLOSED = {
  office_closed: ["受付時間外", "Outside opening hours"],
  queue_not_ready: ["準備中", "Opening soon"],
  queue_closed: ["受付終了", "No longer accepting"],
  numbers_exhausted: ["発券の上限に達しました", "No numbers left"],
};
export function closedHtml(q) {
  const [ja, en] = CLOSED[q.closed_reason] || ["ただいま発券できません", "Not issuing now"];
  return `${esc(ja)} <span lang="en" class="en">${esc(en)}</span>`;
}

// Japanese line breaks at phrase (文節) boundaries only: the text cut after a particle or an
// okurigana (hiragana followed by anything else), after punctuation or a space, and before an
// opening bracket. 「戸籍届出と証明発行の受付」 → 「戸籍届出と」「証明発行の」「受付」; 「証明発行」 and
// 「4番窓口」 stay whole. A simple rule for the short labels of an office file (names of flows,
// procedures, counters), not a morphological analyser.
const HIRAGANA = /[\u3041-\u309f]/u;
const CLOSING = /[、。，．・）」』】〕！？!?,.:：;；)\]]/u;
const OPENING = /[（「『【〔(\[]/u;
export function phrases(text) {
  const out = [];
  let current = "";
  let prev = "";
  for (const ch of String(text ?? "")) {
    const follows = HIRAGANA.test(ch) || CLOSING.test(ch) || /\s/u.test(ch);
    const boundary = current !== "" && (
      OPENING.test(ch) || /\s/u.test(prev) || ((HIRAGANA.test(prev) || CLOSING.test(prev)) && !follows));
    if (boundary) { out.push(current); current = ""; }
    current += ch;
    prev = ch;
  }
  if (current) out.push(current);
  return out;
}

// `text` as HTML whose lines may break only between phrases: each phrase a <span class="ph">
// (white-space: nowrap, in base.css) with a <wbr> between them.
export function phrased(text) {
  return phrases(text).map((p) => `<span class="ph">${esc(p)}</span>`).join("<wbr>");
}

// Escape text for innerHTML templates.
// A JSON call with the session cookie; an error response throws an Error with `code` and `status`.
export async function api(method, path, body) {
  const response = await fetch(path, {
    method, headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin",
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const err = new Error(data.error?.message || `HTTP ${response.status}`);
    err.code = data.error?.code;
    err.status = response.status;
    throw err;
  }
  return data;
}

export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[ch]));
}

// A device token given once in the URL fragment (#token=…) is kept in localStorage and the fragment
// removed, so it never reaches a server log or a Referer.
export function deviceToken(storageKey) {
  const match = location.hash.match(/token=([A-Za-z0-9_-]{16,200})/);
  if (match) {
    localStorage.setItem(storageKey, match[1]);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return localStorage.getItem(storageKey);
}

// Trade a one-time pairing code (from an admin, POST /api/devices) for this device's token and keep
// it; the token, or null when the code is wrong or is for another kind of device.
export async function pairDevice(code, kind, storageKey) {
  const response = await fetch("/api/devices/pair", {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ code: code.trim(), kind }),
  }).catch(() => null);
  const body = response ? await response.json().catch(() => ({})) : {};
  if (!response || !response.ok || body.device?.kind !== kind) return null;
  localStorage.setItem(storageKey, body.token);
  return body.token;
}

// A short tone from Web Audio (no audio file): the call chime of the guidance display.
let audio = null;
export function chime() {
  try {
    audio = audio || new AudioContext();
    const now = audio.currentTime;
    [[880, 0], [660, 0.35]].forEach(([freq, start]) => {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, now + start);
      gain.gain.exponentialRampToValueAtTime(0.3, now + start + 0.03);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + start + 0.6);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + start);
      osc.stop(now + start + 0.65);
    });
  } catch { /* no audio device: the highlight still shows */ }
}

// Flow colours come from the office file; the Content-Security-Policy forbids inline style
// attributes, so templates write data-colour="#rrggbb" and this sets the CSS variable --flow.
export function paint(root = document) {
  root.querySelectorAll("[data-colour]").forEach((el) => el.style.setProperty("--flow", el.dataset.colour));
}
