// The residents' API client: the bearer token, JSON in and out, errors as {error, detail, message}.
//
// Where the token is kept: installed on the home screen (display-mode standalone) the app runs on
// the resident's own phone and stays signed in across launches (localStorage); in a browser tab,
// which may be a shared computer at the community centre, the sign-in ends with the tab
// (sessionStorage). Either way 退出登录 revokes it on the server, and any 401 takes the resident
// back to the sign-in screen. Nothing else personal is stored in the browser.
//
// Every endpoint is written out in full ("/api/v1/r/requests/${id}/rate") so that
// tests/test_resident_app.py can check each one against the OpenAPI.

const TOKEN_KEY = "sanshe.r.token";

export const installed = () =>
  window.matchMedia("(display-mode: standalone)").matches || navigator.standalone === true;

/** A refused request: HTTP status, the stable code, and the server's Chinese message (`zh`). */
export class ApiError extends Error {
  constructor(status, code, zh, body = {}) {
    super(code || `HTTP ${status}`);
    this.status = status;
    this.code = code || "error";
    this.zh = zh;
    this.body = body;
  }
}

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY) || localStorage.getItem(TOKEN_KEY);
  },
  set token(value) {
    sessionStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(TOKEN_KEY);
    if (value) (installed() ? localStorage : sessionStorage).setItem(TOKEN_KEY, value);
  },
};

let onSignedOut = () => {};

/** `handler()` runs when the server says the sign-in is over (401 on anything but signing in). */
export function whenSignedOut(handler) {
  onSignedOut = handler;
}

const SIGN_IN_PATHS = ["/api/v1/r/auth/code", "/api/v1/r/auth/token"];

/**
 * fetch() an API path. Options: query (object), body (JSON), file (FormData), key
 * (Idempotency-Key), blob (answer as a Blob). Throws ApiError for anything but 2xx; a network
 * failure is an ApiError with status 0 and code "network".
 */
export async function api(path, { method, query, body, file, key, blob = false } = {}) {
  const headers = {};
  const init = { method: method || (body !== undefined || file ? "POST" : "GET"), headers };
  const token = session.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (key) headers["Idempotency-Key"] = key;
  if (file) init.body = file;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const qs = new URLSearchParams(Object.entries(query || {}).filter(([, v]) => v !== "" && v != null)).toString();
  let response;
  try {
    response = await fetch(qs ? `${path}?${qs}` : path, init);
  } catch {
    throw new ApiError(0, "network", "无法连接服务器，请检查网络后再试");
  }
  if (response.status === 401 && !SIGN_IN_PATHS.includes(path)) {
    session.token = null;
    onSignedOut();
  }
  if (!response.ok) throw await refusal(response);
  if (blob) return response.blob();
  return response.status === 204 ? null : response.json();
}

async function refusal(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    // not JSON (a proxy's error page): the status alone says enough
  }
  let zh = typeof body.message === "string" ? body.message : "";
  if (!zh) zh = response.status >= 500 ? "服务器暂时出了问题，请稍后再试" : "操作没有成功，请稍后再试";
  const error = new ApiError(response.status, body.error, zh, body);
  error.retryAfter = Number(response.headers.get("Retry-After")) || 0;
  return error;
}
