// Types for pkg-router.js, the pkg-router browser client (an ES module with no dependencies).
// Use them from TypeScript with no build step for the module itself, e.g.
//   // @ts-check + JSDoc:  /** @type {import("./pkg-router.js").Client} */
//   // or in a .ts file:   import { Client } from "./pkg-router.js";

/** The req_id of a push (protocol §2). */
export declare const PUSH_REQ_ID: "00000000-0000-0000-0000-000000000000";

/** Status codes of an answer (protocol §3). */
export declare const Status: Readonly<{
  OK: 0;
  ERROR: 1;
  INVALID_DATA: 2;
  PERMISSION_DENIED: 3;
}>;

/** Close codes the server uses (protocol §6), by name. */
export declare const CloseCode: Readonly<{
  NORMAL: 1000;
  GOING_AWAY: 1001;
  PROTOCOL_ERROR: 1002;
  UNSUPPORTED_DATA: 1003;
  ABNORMAL: 1006;
  INVALID_PAYLOAD: 1007;
  POLICY_VIOLATION: 1008;
  MESSAGE_TOO_BIG: 1009;
  INTERNAL_ERROR: 1011;
  TRY_AGAIN_LATER: 1013;
  AUTH_FAILED: 4001;
  AUTH_TIMEOUT: 4002;
}>;

/** One field that failed validation. */
export interface Violation {
  /** JSON Pointer into `data`, e.g. "/title". */
  path: string;
  message: string;
}

/** Pagination metadata of a paginated answer (protocol §5). */
export interface PageMeta {
  page: number;
  per_page: number;
  total: number;
  pages: number;
  /** The cursor of the next page in cursor mode, else null. */
  next_cursor: string | null;
  has_more: boolean;
}

/** A successful answer. */
export interface Answer<T = unknown> {
  data: T;
  meta: PageMeta | null;
}

/** An error answer. */
export declare class ApiError extends Error {
  readonly name: "ApiError";
  /** 1 (error), 2 (invalid data) or 3 (permission denied). */
  readonly status: number;
  /** The error body's stable code, e.g. "validation_error", "not_found". */
  readonly code: string;
  readonly details: unknown;
  /** The violations of a "validation_error", else []. */
  readonly violations: Violation[];
  constructor(status: number, body: { code?: string; msg?: string; details?: unknown } | null);
}

/** The name a close code goes by in `ConnectionClosed.name`. */
export type CloseName =
  | "NormalClosure"
  | "GoingAway"
  | "ProtocolError"
  | "UnsupportedData"
  | "NoStatus"
  | "AbnormalClosure"
  | "InvalidPayload"
  | "PolicyViolation"
  | "MessageTooBig"
  | "InternalError"
  | "TryAgainLater"
  | "AuthenticationFailed"
  | "AuthenticationTimeout"
  | "ConnectionClosed";

/** The connection closed, or never opened. */
export declare class ConnectionClosed extends Error {
  readonly name: CloseName;
  /** The WebSocket close code. */
  readonly code: number;
  readonly reason: string;
  /** 4001 or 4002. */
  readonly isAuthError: boolean;
  constructor(code: number, reason?: string);
}

/** A call got no answer in time; the request may have run. */
export declare class TimeoutError extends Error {
  readonly name: "TimeoutError";
  readonly ms: number;
}

/** A call made while not connected; it was not sent. */
export declare class NotConnectedError extends Error {
  readonly name: "NotConnectedError";
}

export type State = "connecting" | "open" | "reconnecting" | "closed";

export interface StateInfo {
  /** The close code of the connection that ended. */
  code?: number;
  reason?: string;
  error?: ConnectionClosed;
  /** While reconnecting: milliseconds until the next attempt, and its number. */
  delay?: number;
  attempt?: number;
  /** Once open: whether this is a reconnection. */
  reconnected?: boolean;
}

export interface ClientOptions {
  /** The token (with or without "Bearer "), or a callback asked at every (re)connect. */
  token: string | (() => string | Promise<string>);
  /** Per-call timeout in milliseconds (default 15000). */
  callTimeout?: number;
  /** Backoff in milliseconds (default { initial: 250, max: 10000 }); false turns it off. */
  reconnect?: false | { initial?: number; max?: number };
}

export declare class Client {
  readonly url: string;
  readonly state: State;
  constructor(url: string, options: ClientOptions);
  /** Resolves on auth_ok; rejects with ConnectionClosed when the first attempt fails. */
  connect(): Promise<void>;
  /** Resolves with the answer on status 0; rejects with ApiError, TimeoutError, ConnectionClosed or NotConnectedError. */
  call<T = unknown>(pkgId: number, data?: object, options?: { timeout?: number }): Promise<Answer<T>>;
  /** Calls `handler` for each push of `pkgId` ("*": every push); returns the unsubscribe function. */
  on<T = unknown>(pkgId: number | "*", handler: (data: T, pkgId: number) => void): () => void;
  /** Calls `handler` on every state change; returns the unsubscribe function. */
  onState(handler: (state: State, info: StateInfo) => void): () => void;
  /** Closes with 1000 and stops reconnecting; pending calls fail. */
  close(): void;
}
