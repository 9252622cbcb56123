// The landing page: static content, plus the header's signed-in state.
import "./styles.css";
import { initPublicPage } from "./session";

initPublicPage();
for (const el of document.querySelectorAll("pre code")) {
  el.textContent = (el.textContent ?? "").replaceAll("$ORIGIN", location.origin);
}
