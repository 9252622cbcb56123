// The dashboard's webhook parts: the account's signing secret (created or rotated here, shown
// once) and a job's delivery log (each attempt, its status code, the next try).
import { type Delivery, type WebhookSecretState, api, errorText } from "./api";
import { byId, h } from "./dom";
import { dateTime, ms } from "./format";
import { wireShownOnce } from "./shownonce";

function renderSecretState(state: WebhookSecretState): void {
  const status = byId("webhook-status");
  const button = byId<HTMLButtonElement>("webhook-rotate");
  if (state.configured) {
    status.replaceChildren(
      "Your webhook secret was made on ",
      h("span", { "data-testid": "webhook-created" }, dateTime(state.createdAt)),
      ". Deliveries to a job's callbackUrl are signed with it.",
    );
    button.textContent = "Rotate webhook secret";
  } else {
    status.textContent =
      "You have no webhook secret yet. Create one to verify the deliveries sent to a job's callbackUrl.";
    button.textContent = "Create webhook secret";
  }
  const grace = byId("webhook-grace");
  const until = state.previousValidUntil;
  const graceOpen = !!until && Date.parse(until) > Date.now();
  grace.hidden = !graceOpen;
  if (graceOpen) {
    grace.replaceChildren(
      "Your previous secret stays valid until ",
      h("strong", { "data-testid": "webhook-grace-until" }, dateTime(until)),
      ": until then each delivery carries a signature with both secrets.",
    );
  }
}

/** The webhook secret card; loads its state (never the secret itself) and wires its buttons. */
export async function initWebhookSecret(): Promise<void> {
  const failure = byId("webhook-error");
  let state: WebhookSecretState = { configured: false, createdAt: null, previousValidUntil: null };

  const fail = (what: string, err: unknown) => {
    failure.textContent = `${what}: ${errorText(err)}`;
    failure.hidden = false;
  };

  wireShownOnce({
    make: byId<HTMLButtonElement>("webhook-rotate"),
    confirm: byId("webhook-confirm"),
    panel: byId("new-webhook-secret"),
    noun: "secret",
    exists: () => state.configured,
    create: async () => {
      const made = await api.rotateWebhookSecret();
      state = { configured: true, createdAt: made.createdAt, previousValidUntil: made.previousValidUntil };
      return made.secret;
    },
    shown: () => renderSecretState(state),
    clearError: () => {
      failure.hidden = true;
    },
    showError: (err) => fail("Could not make a webhook secret", err),
  });

  try {
    state = await api.webhookSecret();
    renderSecretState(state);
  } catch (err) {
    byId("webhook-status").textContent = "The webhook secret could not be loaded.";
    fail("Could not load the webhook secret", err);
  }
}

const STATE_TONE: Record<Delivery["state"], string> = {
  delivered: "ok",
  failed: "bad",
  pending: "pending",
};

const STATE_TEXT: Record<Delivery["state"], string> = {
  delivered: "Delivered",
  failed: "Gave up",
  pending: "Pending",
};

function renderDelivery(d: Delivery): HTMLElement {
  const rows = d.attempts.map((a) =>
    h(
      "tr",
      { "data-attempt": a.attempt },
      h("td", { class: "num", "data-label": "Attempt" }, String(a.attempt)),
      h("td", { "data-label": "When" }, dateTime(a.attemptedAt)),
      h(
        "td",
        { class: "num", "data-label": "Status code", "data-testid": "attempt-status" },
        a.statusCode === null ? "–" : String(a.statusCode),
      ),
      h("td", { "data-label": "Error" }, a.error ?? ""),
      h("td", { class: "num", "data-label": "Took" }, ms(a.durationMs)),
    ),
  );
  return h(
    "li",
    { class: "delivery", "data-delivery-id": d.deliveryId, "data-state": d.state },
    h(
      "div",
      { class: "delivery-head" },
      h("span", { class: `badge badge-${STATE_TONE[d.state]}`, "data-testid": "delivery-state" }, STATE_TEXT[d.state]),
      h("code", { class: "delivery-url" }, d.url),
    ),
    d.nextAttemptAt
      ? h("p", { class: "hint", "data-testid": "next-attempt" }, `Next try: ${dateTime(d.nextAttemptAt)}`)
      : null,
    rows.length
      ? h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "attempts" },
            h("caption", { class: "sr-only" }, `Attempts to deliver to ${d.url}`),
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                h("th", { scope: "col", class: "num" }, "#"),
                h("th", { scope: "col" }, "When"),
                h("th", { scope: "col", class: "num" }, "Code"),
                h("th", { scope: "col" }, "Error"),
                h("th", { scope: "col", class: "num" }, "Took"),
              ),
            ),
            h("tbody", {}, ...rows),
          ),
        )
      : h("p", { class: "muted" }, "Not tried yet."),
    h("p", { class: "hint" }, "Delivery id ", h("code", {}, d.deliveryId)),
  );
}

/** A job's webhook deliveries, or nothing at all when the job had no callbackUrl. */
export function renderDeliveries(deliveries: Delivery[]): HTMLElement | null {
  if (!deliveries.length) return null;
  return h(
    "section",
    { class: "deliveries", "aria-labelledby": "deliveries-h", "data-testid": "deliveries" },
    h("h3", { id: "deliveries-h" }, "Webhook deliveries"),
    h("ul", { class: "case-list" }, ...deliveries.map(renderDelivery)),
  );
}

/** Whether the log may still change: a delivery still pending is tried again later. */
export function deliveriesPending(deliveries: Delivery[]): boolean {
  return deliveries.some((d) => d.state === "pending");
}
