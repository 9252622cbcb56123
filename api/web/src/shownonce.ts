// A card that makes a secret the server shows only once (the API key, the webhook secret):
// its button asks for confirmation when one exists already (making a new one retires it),
// then shows the new value selected, with a copy button.
import { wireCopyButton } from "./dom";

export interface ShownOnceCard {
  /** The button that makes a new one. */
  make: HTMLButtonElement;
  /** The confirmation box: its .btn-danger button confirms, its other button cancels. */
  confirm: HTMLElement;
  /** The hidden panel that shows the value: its input, the copy button, a role=status line. */
  panel: HTMLElement;
  /** What the copy status calls the value ("key", "secret"). */
  noun: string;
  /** Whether one exists already, so that making another needs a confirmation. */
  exists: () => boolean;
  /** Asks the server for a new one; resolves to the value to show. */
  create: () => Promise<string>;
  /** After the value is shown (refresh what depends on it). */
  shown?: () => Promise<void> | void;
  clearError: () => void;
  showError: (err: unknown) => void;
}

function part<T extends Element>(root: HTMLElement, selector: string): T {
  const found = root.querySelector<T>(selector);
  if (!found) throw new Error(`#${root.id} has no ${selector}`);
  return found;
}

export function wireShownOnce(card: ShownOnceCard): void {
  const yes = part<HTMLButtonElement>(card.confirm, "button.btn-danger");
  const no = part<HTMLButtonElement>(card.confirm, "button:not(.btn-danger)");
  const value = part<HTMLInputElement>(card.panel, "input");
  const copy = part<HTMLButtonElement>(card.panel, "button");
  const copyStatus = part<HTMLElement>(card.panel, '[role="status"]');

  const make = async () => {
    card.make.disabled = true;
    yes.disabled = true;
    card.clearError();
    try {
      const made = await card.create();
      card.confirm.hidden = true;
      value.value = made;
      copyStatus.textContent = "";
      card.panel.hidden = false;
      value.focus();
      value.select();
      await card.shown?.();
    } catch (err) {
      card.showError(err);
    } finally {
      card.make.disabled = false;
      yes.disabled = false;
    }
  };

  card.make.addEventListener("click", () => {
    if (card.exists()) {
      card.confirm.hidden = false;
      yes.focus();
    } else {
      void make();
    }
  });
  yes.addEventListener("click", () => void make());
  no.addEventListener("click", () => {
    card.confirm.hidden = true;
    card.make.focus();
  });
  wireCopyButton(copy, value, copyStatus, card.noun);
}
