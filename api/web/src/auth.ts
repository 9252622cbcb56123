// Sign-in and sign-up pages: one form each, same behaviour. On success the session cookie is set
// by the API; we remember the email for the header and go where the user was heading.
import "./styles.css";
import { ApiError, api } from "./api";
import { byId } from "./dom";
import { hidePageError, initPublicPage, rememberSignedIn, showPageError } from "./session";

const MIN_PASSWORD = 8;

/**
 * Only same-origin paths: an open redirect through ?next= would be a phishing aid. The value is
 * resolved the way the browser will resolve it (the URL parser drops tabs and newlines and reads
 * "\\" as "/", so "/\t/evil.example" is "//evil.example"), and followed only if it stays here.
 */
function nextPath(): string {
  const next = new URLSearchParams(location.search).get("next");
  if (!next?.startsWith("/")) return "/dashboard";
  let target: URL;
  try {
    target = new URL(next, location.origin);
  } catch {
    return "/dashboard";
  }
  if (target.origin !== location.origin) return "/dashboard";
  return target.pathname + target.search + target.hash;
}

function init(): void {
  initPublicPage();
  const form = byId<HTMLFormElement>("auth-form");
  const mode = form.dataset.mode === "signup" ? "signup" : "signin";
  const email = byId<HTMLInputElement>("email");
  const password = byId<HTMLInputElement>("password");
  const submit = byId<HTMLButtonElement>("auth-submit");
  const params = new URLSearchParams(location.search);
  const notice = document.getElementById("page-notice");
  if (notice && (params.has("signedout") || params.has("next"))) {
    notice.textContent = params.has("signedout")
      ? "You are signed out."
      : "Sign in to continue. You will come back to the page you asked for.";
    notice.hidden = false;
  }
  // Carry ?next= across the "no account yet? sign up" and "have one? sign in" links.
  if (params.has("next")) {
    for (const link of document.querySelectorAll<HTMLAnchorElement>("a[data-keep-next]")) {
      link.href = `${link.pathname}?next=${encodeURIComponent(nextPath())}`;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    hidePageError();
    if (!form.reportValidity()) return;
    if (mode === "signup" && password.value.length < MIN_PASSWORD) {
      showPageError(`Use a password of at least ${MIN_PASSWORD} characters.`);
      password.focus();
      return;
    }
    submit.disabled = true;
    submit.setAttribute("aria-busy", "true");
    const call =
      mode === "signup"
        ? api.signup(email.value.trim(), password.value)
        : api.signin(email.value.trim(), password.value);
    call
      .then((data) => {
        rememberSignedIn(data.email ?? email.value.trim());
        location.assign(nextPath());
      })
      .catch((err: unknown) => {
        let message = "Something went wrong. Please try again.";
        if (err instanceof ApiError) {
          if (mode === "signin" && err.status === 401) message = "Wrong email or password.";
          else if (mode === "signup" && err.status === 409)
            message = "An account with this email already exists. Sign in instead.";
          else if (err.status === 429)
            message = "Too many attempts. Wait a minute, then try again.";
          else message = err.message;
        }
        showPageError(message);
        submit.disabled = false;
        submit.removeAttribute("aria-busy");
        (mode === "signin" ? password : email).focus();
      });
  });
}

init();
