// Moving between screens: every screen is an address (#/requests/12), so the phone's back button
// and a reload both work.

let afterSignIn = "";

/** Show the screen at `path` ("" is home); showing the current one again re-reads it. */
export function go(path) {
  const target = `#/${path}`;
  if (location.hash === target) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = target;
}

/** The screen the resident was going to when they had to sign in first. */
export function signInFirst(path) {
  if (path !== "signin") afterSignIn = path;
  go("signin");
}

/** After signing in: back to where the resident was going (or home). */
export function signedIn() {
  const next = afterSignIn;
  afterSignIn = "";
  go(next);
}
