// The explorer's shell: sign-in, the hash routes (#/map, #/galaxy, #/selection, #/jobs),
// the alert banner, and sign-out when the session cannot be refreshed.

import "./style.css";
import { currentSession, onSignedOut, signIn, signOut, type SessionInfo } from "./api";
import { startAlerts } from "./alerts";
import { h, errorText } from "./dom";
import { galaxyView } from "./galaxy";
import { closeJobSockets, jobsView, selectionView } from "./jobs";
import { mapView } from "./mapview";
import { type ReconnectingSocket } from "./socket";

const main = document.getElementById("main")!;
const nav = document.getElementById("nav")!;
const who = document.getElementById("who")!;
const signoutBtn = document.getElementById("signout") as HTMLButtonElement;
const alertBox = document.getElementById("alerts")!;
let session: SessionInfo | null = null;
let alerts: ReconnectingSocket | null = null;

function signInView(message = ""): void {
  nav.hidden = true;
  signoutBtn.hidden = true;
  who.textContent = "";
  alerts?.close();
  alerts = null;
  const user = h("input", { id: "username", name: "username", autocomplete: "username", required: true });
  const pass = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const err = h("p", { role: "alert", id: "signin-error", class: "error" }, message);
  const btn = h("button", { type: "submit" }, "Sign in");
  const form = h("form", { class: "signin", id: "signin", "aria-labelledby": "signin-title" },
    h("h2", { id: "signin-title" }, "Sign in"),
    h("label", { for: "username" }, "User name"), user,
    h("label", { for: "password" }, "Password"), pass, btn, err,
    h("p", { class: "hint" }, "Accounts are made by an administrator with acie admin user add."));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    btn.disabled = true;
    err.textContent = "";
    try {
      session = await signIn(user.value, pass.value);
      pass.value = "";
      if (!location.hash || location.hash === "#/signin") location.hash = "#/map";
      await route();
    } catch (e) {
      err.textContent = `Sign-in failed: ${errorText(e)}`;
    } finally {
      btn.disabled = false;
    }
  });
  main.replaceChildren(form);
  user.focus();
}

async function route(): Promise<void> {
  if (!session) {
    signInView();
    return;
  }
  nav.hidden = false;
  signoutBtn.hidden = false;
  who.textContent = `${session.username} (${session.role})`;
  alerts ??= startAlerts(alertBox);
  closeJobSockets();
  const [path, query] = (location.hash.slice(1) || "/map").split("?");
  const params = new URLSearchParams(query ?? "");
  for (const a of nav.querySelectorAll("a")) {
    if (a.getAttribute("href") === `#${path}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  try {
    if (path === "/galaxy") await galaxyView(main, session, params);
    else if (path === "/selection") await selectionView(main, params);
    else if (path === "/jobs") await jobsView(main);
    else await mapView(main, session, params);
  } catch (e) {
    main.replaceChildren(h("p", { role: "alert" }, errorText(e)));
  }
}

let lastPath = "";
window.addEventListener("hashchange", () => {
  // the map rewrites its own query (the catalogue) without a new view
  const path = location.hash.split("?")[0];
  if (path === "#/map" && lastPath === "#/map" && document.getElementById("map")) return;
  lastPath = path;
  void route();
});
signoutBtn.addEventListener("click", async () => {
  await signOut();
  session = null;
  signInView("Signed out.");
});
onSignedOut(() => {
  session = null;
  signInView("Your session ended; sign in again.");
});

void (async () => {
  session = await currentSession();
  lastPath = location.hash.split("?")[0];
  await route();
})();
