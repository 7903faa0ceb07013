// What the server can do beyond the order verbs this console was written against: photo uploads,
// the signature at completion and today's itinerary arrive in a later server. The worker's screen
// shows them only once the server serves them, so an older server shows no button that cannot work.
//
// The paths are written in the OpenAPI's form ({order_id}) and listed in COMING, which
// tests/test_console.py reads: they are the only API paths the console may name before the server
// serves them. The check-out verb is offered once an order's allowed_actions lists it.

import { api } from "./api.js";

export const COMING = {
  photos: "/api/v1/orders/{order_id}/photos",
  jobs: "/api/v1/me/jobs",
  checkOut: "/api/v1/orders/{order_id}/check-out",
};

// Where /openapi.json is not served (production turns the docs off), a GET answers the question
// without side effects: 404 with the router's "Not Found" means no such route; anything else
// (405 for a POST-only path, 200, a domain 404) means the route exists.
async function probe(path) {
  try {
    await api(path.replace("{order_id}", "1"));
    return true;
  } catch (err) {
    if (err.status === 0) return null; // offline: unknown, ask again later
    return !(err.status === 404 && err.detail === "Not Found");
  }
}

// The OpenAPI's paths; [] when it is not served; null when the server cannot be reached.
async function fromOpenApi() {
  try {
    const response = await fetch("/openapi.json");
    if (!response.ok) return [];
    return Object.keys((await response.json()).paths || {});
  } catch {
    return null;
  }
}

// Remembered for the session (and across a reload), so a screen opened offline knows too.
const STORE = "sanshe.capabilities";
let known = JSON.parse(sessionStorage.getItem(STORE) || "null");

/** {photos, signature, jobs, checkOut}: booleans; the signature comes with the photo uploads. */
export async function capabilities() {
  if (known) return known;
  const paths = await fromOpenApi();
  if (paths === null) return { photos: false, signature: false, jobs: false, checkOut: false };
  const has = {};
  for (const [name, path] of Object.entries(COMING)) {
    has[name] = paths.length ? paths.includes(path) : await probe(path);
  }
  if (Object.values(has).includes(null)) return { photos: false, signature: false, jobs: false, checkOut: false };
  known = { ...has, signature: has.photos };
  sessionStorage.setItem(STORE, JSON.stringify(known));
  return known;
}

/** The concrete URL of a coming path for one order. */
export const photosPath = (orderId) => COMING.photos.replace("{order_id}", String(orderId));
export const checkOutPath = (orderId) => COMING.checkOut.replace("{order_id}", String(orderId));
