// The server, as the page talks to it: session cookies (HttpOnly, set by the server),
// the double-submit CSRF token on every state-changing call, and silent refresh — a
// refresh shortly before the access cookie expires, and one retry after a 401.

export interface SessionInfo {
  username: string;
  role: string;
  csrf_token?: string | null;
  access_expires_in_s?: number | null;
  actions: string[];
}

/** An error answer of the API: HTTP status, the gRPC code name and a message safe to show. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly traceId: string | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

const CSRF_COOKIE = "acie_csrf";
let refreshTimer: number | undefined;
let refreshing: Promise<boolean> | null = null;
const signedOutListeners: Array<() => void> = [];

export function onSignedOut(listener: () => void): void {
  signedOutListeners.push(listener);
}

export function csrfToken(): string | null {
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === CSRF_COOKIE) return decodeURIComponent(v.join("="));
  }
  return null;
}

async function errorOf(res: Response): Promise<ApiError> {
  let code = `HTTP_${res.status}`;
  let message = res.statusText || "request failed";
  let trace: string | null = null;
  try {
    const body = await res.json();
    if (body && body.error) {
      code = body.error.code ?? code;
      message = body.error.message ?? message;
      trace = body.error.trace_id ?? null;
    } else if (body && body.detail) {
      message = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, code, message, trace);
}

function withCsrf(init: RequestInit): RequestInit {
  const method = (init.method ?? "GET").toUpperCase();
  const headers = new Headers(init.headers);
  if (method !== "GET" && method !== "HEAD") {
    const token = csrfToken();
    if (token) headers.set("X-CSRF-Token", token);
  }
  return { ...init, headers, credentials: "same-origin" };
}

function scheduleRefresh(ttlS: number | null | undefined): void {
  window.clearTimeout(refreshTimer);
  if (!ttlS || ttlS <= 0) return;
  // refresh at 80% of the access cookie's life, at least 5 s from now
  const ms = Math.max(5_000, ttlS * 800);
  refreshTimer = window.setTimeout(() => void refresh(), ms);
}

/** One silent refresh (concurrent callers share it); false when the session is gone. */
export function refresh(): Promise<boolean> {
  if (refreshing) return refreshing;
  refreshing = (async () => {
    try {
      const res = await fetch("/v1/session/refresh", withCsrf({ method: "POST" }));
      if (!res.ok) return false;
      const info = (await res.json()) as SessionInfo;
      scheduleRefresh(info.access_expires_in_s);
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** A call to the API; a 401 is retried once after a silent refresh, then signs the page out. */
export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  let res = await fetch(path, withCsrf(init));
  if (res.status === 401 && !path.startsWith("/v1/session/login")) {
    if (await refresh()) {
      res = await fetch(path, withCsrf(init));
    } else {
      // the session cannot be renewed: back to the sign-in form
      window.clearTimeout(refreshTimer);
      for (const l of signedOutListeners) l();
    }
  }
  if (!res.ok) throw await errorOf(res);
  return res;
}

export async function getJSON<T>(path: string): Promise<T> {
  return (await (await request(path)).json()) as T;
}

export async function postJSON<T>(path: string, body: unknown): Promise<T> {
  const res = await request(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return (await res.json()) as T;
}

export async function getBinary(path: string): Promise<ArrayBuffer> {
  return (await request(path)).arrayBuffer();
}

export async function signIn(username: string, password: string): Promise<SessionInfo> {
  const info = await postJSON<SessionInfo>("/v1/session/login", { username, password });
  scheduleRefresh(info.access_expires_in_s);
  return info;
}

/** Who is signed in, or null (no session, or one that cannot be refreshed). */
export async function currentSession(): Promise<SessionInfo | null> {
  let res = await fetch("/v1/session", { credentials: "same-origin" });
  if (res.status === 401 && csrfToken() && (await refresh())) {
    res = await fetch("/v1/session", { credentials: "same-origin" });
  }
  if (!res.ok) return null;
  const info = (await res.json()) as SessionInfo;
  if (!refreshTimer) scheduleRefresh(60 * 10);
  return info;
}

export async function signOut(): Promise<void> {
  window.clearTimeout(refreshTimer);
  try {
    await request("/v1/session/logout", { method: "POST" });
  } catch {
    // already signed out
  }
}

/** The ws:// or wss:// URL of a path on this server. */
export function socketURL(path: string): string {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}${path}`;
}
