// pkg-router browser client: one dependency-free ES module (no build step).
//
// The wire protocol is pkg_router::protocol (docs/protocol.md in the crate): the first frame is
// {"type":"auth","token":"Bearer ..."}, the server answers {"type":"auth_ok"}, then every request
// is {"pkg_id","req_id","data"} and every answer carries the same req_id; a push has the nil
// req_id. Types: pkg-router.d.ts, served next to this file.
//
//   import { Client } from "/pkg-router.js";
//   const client = new Client("ws://127.0.0.1:8000/web", { token: () => getToken() });
//   await client.connect();
//   const { data, meta } = await client.call(4, { per_page: 10 });
//   const off = client.on(100, (data) => console.log("created", data));

/** The req_id of a push (protocol §2). */
export const PUSH_REQ_ID = "00000000-0000-0000-0000-000000000000";

/** Status codes of an answer (protocol §3). */
export const Status = Object.freeze({
  OK: 0,
  ERROR: 1,
  INVALID_DATA: 2,
  PERMISSION_DENIED: 3,
});

/** Close codes the server uses (protocol §6), by name. */
export const CloseCode = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  ABNORMAL: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  TRY_AGAIN_LATER: 1013,
  AUTH_FAILED: 4001,
  AUTH_TIMEOUT: 4002,
});

const CLOSE_NAMES = Object.freeze({
  1000: "NormalClosure",
  1001: "GoingAway",
  1002: "ProtocolError",
  1003: "UnsupportedData",
  1005: "NoStatus",
  1006: "AbnormalClosure",
  1007: "InvalidPayload",
  1008: "PolicyViolation",
  1009: "MessageTooBig",
  1011: "InternalError",
  1013: "TryAgainLater",
  4001: "AuthenticationFailed",
  4002: "AuthenticationTimeout",
});

/** An error answer: `status` (1-3), the error body's `code`, `message` and `details`. */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.msg) || `request failed with status ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = (body && body.code) || "";
    this.details = body ? body.details ?? null : null;
  }

  /** The field violations of a validation error: [{ path, message }]. */
  get violations() {
    return this.code === "validation_error" && Array.isArray(this.details) ? this.details : [];
  }
}

/**
 * The connection closed (or never opened). `code` is the WebSocket close code; `name` is its
 * name ("AuthenticationFailed" for 4001, "GoingAway" for 1001, ...).
 */
export class ConnectionClosed extends Error {
  constructor(code, reason) {
    const name = CLOSE_NAMES[code] || "ConnectionClosed";
    super(`${name} (${code})${reason ? `: ${reason}` : ""}`);
    this.name = name;
    this.code = code;
    this.reason = reason || "";
  }

  /** Whether the server refused the token (4001) or it was not sent in time (4002). */
  get isAuthError() {
    return this.code === CloseCode.AUTH_FAILED || this.code === CloseCode.AUTH_TIMEOUT;
  }
}

/** A call got no answer within its timeout; the request may have run. */
export class TimeoutError extends Error {
  constructor(ms) {
    super(`no answer within ${ms} ms`);
    this.name = "TimeoutError";
    this.ms = ms;
  }
}

/** A call was made while the client was not connected; it was not sent. */
export class NotConnectedError extends Error {
  constructor() {
    super("not connected: the request was not sent");
    this.name = "NotConnectedError";
  }
}

function newReqId() {
  if (globalThis.crypto && typeof globalThis.crypto.randomUUID === "function") {
    return globalThis.crypto.randomUUID();
  }
  // randomUUID needs a secure context (https or localhost); any other origin gets this.
  const b = globalThis.crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const DEFAULTS = Object.freeze({
  callTimeout: 15000,
  reconnect: { initial: 250, max: 10000 },
});

/**
 * One authenticated WebSocket to a pkg-router server, with calls, pushes and reconnects.
 *
 * States (see `onState`): "connecting", "open", "reconnecting" (after a drop, waiting
 * `info.delay` ms), "closed" (for good: `close()`, or a refusal that retrying cannot fix).
 */
export class Client {
  /**
   * @param {string} url ws:// or wss:// URL of the endpoint (e.g. "ws://host/web").
   * @param {object} options { token: string | () => string | Promise<string>,
   *   callTimeout?: ms (15000), reconnect?: false | { initial?: ms, max?: ms } (on by default) }
   */
  constructor(url, options = {}) {
    if (options.token === undefined) throw new TypeError("options.token is required");
    this.url = url;
    this._token = options.token;
    this._callTimeout = options.callTimeout ?? DEFAULTS.callTimeout;
    this._reconnect =
      options.reconnect === false ? null : { ...DEFAULTS.reconnect, ...(options.reconnect || {}) };
    this._socket = null;
    this._open = false;
    this._closed = false;
    this._pending = new Map(); // req_id -> { resolve, reject, timer }
    this._handlers = new Map(); // pkg_id or "*" -> Set of handlers
    this._stateHandlers = new Set();
    this._retryTimer = null;
    this._attempt = 0;
    this._state = "closed";
  }

  /** The current state: "connecting" | "open" | "reconnecting" | "closed". */
  get state() {
    return this._state;
  }

  /**
   * Opens the connection and authenticates. Resolves once the server said auth_ok; rejects with
   * ConnectionClosed (e.g. `AuthenticationFailed`, 4001) when the first attempt fails. Later
   * drops reconnect by themselves (unless `reconnect: false`).
   */
  connect() {
    this._closed = false;
    return this._open ? Promise.resolve() : this._attemptConnect(true);
  }

  /**
   * Calls `pkgId` with `data` (an object). Resolves with `{ data, meta }` on status 0; rejects
   * with ApiError (an error answer), TimeoutError, ConnectionClosed (the connection dropped
   * before the answer: the request may have run) or NotConnectedError (not sent). Calls are
   * never retried: writes are not idempotent.
   */
  call(pkgId, data = {}, { timeout } = {}) {
    return new Promise((resolve, reject) => {
      if (!this._open || !this._socket) {
        reject(new NotConnectedError());
        return;
      }
      const reqId = newReqId();
      const ms = timeout ?? this._callTimeout;
      const timer = setTimeout(() => {
        // A late answer finds no entry and is dropped.
        this._pending.delete(reqId);
        reject(new TimeoutError(ms));
      }, ms);
      this._pending.set(reqId, { resolve, reject, timer });
      this._socket.send(JSON.stringify({ pkg_id: pkgId, req_id: reqId, data }));
    });
  }

  /**
   * Calls `handler(data, pkgId)` for every push of `pkgId` ("*": every push). Returns a
   * function that removes the handler. A throwing handler is logged and does not stop others.
   */
  on(pkgId, handler) {
    const key = pkgId === "*" ? "*" : Number(pkgId);
    if (!this._handlers.has(key)) this._handlers.set(key, new Set());
    this._handlers.get(key).add(handler);
    return () => {
      const set = this._handlers.get(key);
      if (set) set.delete(handler);
    };
  }

  /**
   * Calls `handler(state, info)` on every state change; info is { code, reason, error } when
   * a connection ended, { delay, attempt } while reconnecting, { reconnected } once open.
   * Returns a function that removes the handler.
   */
  onState(handler) {
    this._stateHandlers.add(handler);
    return () => this._stateHandlers.delete(handler);
  }

  /** Closes the connection (1000) and stops reconnecting; pending calls fail. */
  close() {
    this._closed = true;
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    const socket = this._socket;
    this._socket = null;
    this._open = false;
    this._failPending(new ConnectionClosed(CloseCode.NORMAL, "closed by the client"));
    if (socket) socket.close(CloseCode.NORMAL);
    this._setState("closed", { code: CloseCode.NORMAL, reason: "closed by the client" });
  }

  // ---- internals --------------------------------------------------------------------------

  _setState(state, info = {}) {
    this._state = state;
    for (const handler of [...this._stateHandlers]) {
      try {
        handler(state, info);
      } catch (err) {
        console.error("pkg-router: a state handler threw", err);
      }
    }
  }

  async _tokenText() {
    const token = typeof this._token === "function" ? await this._token() : this._token;
    const text = String(token || "").trim();
    return /^bearer\s/i.test(text) ? text : `Bearer ${text}`;
  }

  _attemptConnect(first) {
    return new Promise((resolve, reject) => {
      // A retry stays in "reconnecting", announced when it was scheduled.
      if (first) this._setState("connecting", {});
      this._tokenText().then(
        (token) => this._openSocket(token, first, resolve, reject),
        (err) => {
          const closed = new ConnectionClosed(CloseCode.AUTH_FAILED, `no token: ${err}`);
          this._ended(closed, first, false);
          reject(closed);
        },
      );
    });
  }

  _openSocket(token, first, resolve, reject) {
    if (this._closed) {
      reject(new ConnectionClosed(CloseCode.NORMAL, "closed by the client"));
      return;
    }
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      // A malformed URL: retrying cannot help.
      const closed = new ConnectionClosed(CloseCode.ABNORMAL, String(err));
      this._ended(closed, first, false);
      reject(closed);
      return;
    }
    this._socket = ws;
    let authed = false;
    ws.addEventListener("open", () => {
      if (this._socket === ws) ws.send(JSON.stringify({ type: "auth", token }));
    });
    ws.addEventListener("message", (event) => {
      if (this._socket !== ws) return;
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        console.warn("pkg-router: ignoring a frame that is not JSON");
        return;
      }
      if (!authed) {
        if (msg && msg.type === "auth_ok") {
          authed = true;
          this._open = true;
          const reconnected = this._attempt > 0 || !first;
          this._attempt = 0;
          this._setState("open", { reconnected });
          resolve();
        }
        return;
      }
      this._onFrame(msg);
    });
    ws.addEventListener("close", (event) => {
      if (this._socket !== ws) return;
      this._socket = null;
      this._open = false;
      const closed = new ConnectionClosed(event.code, event.reason);
      this._failPending(closed);
      // A refused token is final unless a callback can give a fresh one.
      const retry = !(closed.isAuthError && typeof this._token !== "function");
      this._ended(closed, first && !authed, retry);
      if (!authed) reject(closed);
    });
  }

  /** A connection (or an attempt) ended: reconnect with backoff, or stay closed. */
  _ended(closed, firstAttempt, retry) {
    if (this._closed) return;
    // The first connect() reports its failure to the caller instead of retrying.
    if (!this._reconnect || !retry || firstAttempt || closed.code === CloseCode.NORMAL) {
      this._setState("closed", { code: closed.code, reason: closed.reason, error: closed });
      return;
    }
    const { initial, max } = this._reconnect;
    const base = Math.min(max, initial * 2 ** Math.min(this._attempt, 20));
    // Full jitter in the upper half: clients dropped together do not return together.
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this._attempt += 1;
    this._setState("reconnecting", {
      code: closed.code,
      reason: closed.reason,
      error: closed,
      delay,
      attempt: this._attempt,
    });
    clearTimeout(this._retryTimer);
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      if (!this._closed) this._attemptConnect(false).catch(() => {});
    }, delay);
  }

  _failPending(error) {
    for (const [, pending] of this._pending) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this._pending.clear();
  }

  _onFrame(msg) {
    if (!msg || typeof msg !== "object") return;
    if (msg.req_id === PUSH_REQ_ID) {
      this._dispatchPush(msg.pkg_id, msg.data);
      return;
    }
    const pending = this._pending.get(msg.req_id);
    if (!pending) return; // timed out: the late answer is dropped
    this._pending.delete(msg.req_id);
    clearTimeout(pending.timer);
    if (msg.status_code === Status.OK) pending.resolve({ data: msg.data, meta: msg.meta ?? null });
    else pending.reject(new ApiError(msg.status_code, msg.data));
  }

  _dispatchPush(pkgId, data) {
    for (const key of [pkgId, "*"]) {
      const set = this._handlers.get(key);
      if (!set) continue;
      for (const handler of [...set]) {
        try {
          handler(data, pkgId);
        } catch (err) {
          console.error(`pkg-router: a push handler for ${pkgId} threw`, err);
        }
      }
    }
  }
}
