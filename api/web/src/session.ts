// Who is signed in, as far as the header needs to know. The session cookie is HttpOnly, so pages
// that must know for sure ask GET /api/v1/account; the public pages read a hint kept in
// localStorage instead, so a signed-out visitor costs no 401 (and no console error).
import { type Account, ApiError, api } from "./api";
import { h } from "./dom";

const HINT_KEY = "coderun.email";

export function rememberSignedIn(email: string): void {
  try {
    localStorage.setItem(HINT_KEY, email);
  } catch {
    /* storage disabled: the header just shows the signed-out links */
  }
}

function forgetSignedIn(): void {
  try {
    localStorage.removeItem(HINT_KEY);
  } catch {
    /* nothing to forget */
  }
}

function signedInHint(): string | null {
  try {
    return localStorage.getItem(HINT_KEY);
  } catch {
    return null;
  }
}

/** Fill the header's account area: the email and a sign-out button, or the sign-in links. */
export function renderHeader(email: string | null): void {
  const slot = document.getElementById("account-slot");
  if (!slot) return;
  if (email) {
    const signOut = h("button", { type: "button", class: "btn btn-ghost", id: "signout" }, "Sign out");
    signOut.addEventListener("click", () => void signOutAndLeave(signOut));
    slot.replaceChildren(h("span", { class: "who", title: email }, email), signOut);
  } else {
    slot.replaceChildren(
      h("a", { href: "/signin", class: "btn btn-ghost" }, "Sign in"),
      h("a", { href: "/signup", class: "btn btn-primary" }, "Sign up"),
    );
  }
  const here = location.pathname.replace(/\.html$/, "").replace(/\/index$/, "/") || "/";
  for (const link of document.querySelectorAll<HTMLAnchorElement>(".site-nav a")) {
    if (link.getAttribute("href") === here) link.setAttribute("aria-current", "page");
  }
}

async function signOutAndLeave(button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  try {
    await api.signout();
  } catch {
    // Even if the server already forgot the session, the user wants to be signed out here.
  }
  forgetSignedIn();
  location.assign("/signin?signedout=1");
}

/** For the public pages: header from the hint, no request. */
export function initPublicPage(): void {
  renderHeader(signedInHint());
}

/**
 * For pages that need an account: ask the API; when not signed in, go to the sign-in page and
 * come back here afterwards. Resolves only when signed in.
 */
export async function requireAccount(): Promise<Account> {
  try {
    const account = await api.account();
    rememberSignedIn(account.email);
    renderHeader(account.email);
    return account;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      forgetSignedIn();
      const next = location.pathname + location.search;
      location.replace(`/signin?next=${encodeURIComponent(next)}`);
      return new Promise<Account>(() => {
        /* the page is going away */
      });
    }
    throw err;
  }
}

/** Show an error where the page has its alert region. */
export function showPageError(message: string): void {
  const region = document.getElementById("page-error");
  if (!region) return;
  region.textContent = message;
  region.hidden = false;
}

export function hidePageError(): void {
  const region = document.getElementById("page-error");
  if (region) region.hidden = true;
}
