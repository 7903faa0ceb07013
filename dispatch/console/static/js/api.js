// The HTTP API client: bearer token, JSON, errors as {error, detail, message}, the live event stream.
//
// Convention: every endpoint is written out in full as a literal ("/api/v1/orders/${id}/accept"),
// never assembled from a prefix, so tests/test_console.py can check each one against the OpenAPI.

const TOKEN_KEY = "sanshe.token";

/**
 * A refused request: status, the stable code, the English detail (for logs and tooltips) and the
 * server's Chinese message for people (`zh`). `message` is what to show: the Chinese one when the
 * server gave it, else the detail.
 */
export class ApiError extends Error {
  constructor(status, code, detail, zh = "") {
    super(zh || detail || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || "error";
    this.detail = detail || "";
    this.zh = zh || "";
  }
}

export const auth = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
};

let unauthorized = () => {};

/** Called (once per burst) when any request answers 401: the token has expired or was revoked. */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

export function queryString(params = {}) {
  const qs = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "" || value === false) continue;
    qs.append(key, String(value));
  }
  const text = qs.toString();
  return text ? `?${text}` : "";
}

async function errorFrom(response) {
  let code = "";
  let detail = "";
  let zh = "";
  try {
    const body = await response.json();
    code = body.error || "";
    detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail ?? body);
    zh = typeof body.message === "string" ? body.message : "";
  } catch {
    detail = response.statusText;
  }
  if (response.status >= 500 && !zh) zh = "服务器出错，请稍后重试";
  return new ApiError(response.status, code, detail, zh);
}

/**
 * fetch() an API path. Options: query (object), body (JSON), form (URLSearchParams),
 * headers, raw (return the Response), signal. Throws ApiError for anything but 2xx.
 */
export async function api(path, { method, query, body, form, headers = {}, raw = false, signal } = {}) {
  const init = { method: method || (body !== undefined || form ? "POST" : "GET"), headers: { ...headers }, signal };
  const token = auth.token;
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (form) {
    init.body = form;
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path + queryString(query), init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "network", "network error", "无法连接服务器，请检查网络后重试");
  }
  // A 401 to anything but the sign-in itself means the session is over (expired, revoked, or the
  // token is gone from the tab): back to sign-in, where a half-typed order's draft waits.
  if (response.status === 401 && path !== "/api/v1/auth/token") {
    auth.token = null;
    unauthorized();
  }
  if (!response.ok) throw await errorFrom(response);
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

export async function signIn(username, password) {
  const form = new URLSearchParams({ username, password });
  const out = await api("/api/v1/auth/token", { form });
  auth.token = out.access_token;
  return out;
}

/**
 * The signed-in user's server-sent events. EventSource cannot send the bearer token, and a token
 * in a URL ends up in logs, so every (re)connect first asks for a single-use ticket
 * (POST /api/v1/events/ticket) and opens the stream with it. A spent ticket cannot reopen a
 * stream, so EventSource's own reconnect is not used: on any error the stream is closed and
 * opened afresh with a new ticket and `since` (the last message id seen, so nothing is missed),
 * with backoff. `bye` means the server ended the stream because the sign-in ended or the account
 * was deactivated: the ticket request of the next attempt answers 401 and unauthorized() takes
 * the user to sign-in.
 */
export function connectEvents({ onEvent, onState }) {
  let source = null;
  let timer = null;
  let delay = 1000;
  let stopped = false;
  let lastId = "";

  const retry = (state) => {
    if (source) source.close();
    source = null;
    if (stopped) return;
    onState(state);
    clearTimeout(timer);
    timer = setTimeout(open, delay);
    delay = Math.min(delay * 2, 30000);
  };

  const open = async () => {
    if (stopped || !auth.token) return;
    let ticket;
    try {
      ({ ticket } = await api("/api/v1/events/ticket", { method: "POST" }));
    } catch (err) {
      if (err.status === 401) stopped = true; // unauthorized() already took the user to sign-in
      else retry("down");
      return;
    }
    if (stopped) return;
    const mine = new EventSource(`/api/v1/events${queryString({ ticket, since: lastId })}`);
    source = mine;
    mine.addEventListener("hello", () => {
      delay = 1000;
      onState("open");
    });
    for (const name of ["screen_pop", "call", "notification", "order", "callback"]) {
      mine.addEventListener(name, (e) => {
        if (e.lastEventId) lastId = e.lastEventId;
        let data;
        try {
          data = JSON.parse(e.data);
        } catch {
          return;
        }
        onEvent(name, data);
      });
    }
    mine.addEventListener("bye", () => {
      if (source === mine) retry("down");
    });
    mine.onerror = () => {
      if (source === mine) retry("reconnecting");
    };
  };

  open();
  return {
    close() {
      stopped = true;
      clearTimeout(timer);
      if (source) source.close();
      source = null;
    },
  };
}
