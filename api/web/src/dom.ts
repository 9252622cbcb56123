// Tiny DOM helpers. Everything a job produced (stdout, stderr, messages) is untrusted, so the pages
// build nodes and set textContent; nothing user- or program-supplied goes through innerHTML.

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = String(value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** The element with this id; a missing one is a bug in the page, so fail loudly. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el as T;
}

export function clear(el: Element): void {
  el.replaceChildren();
}

export function show(el: HTMLElement, visible: boolean): void {
  el.hidden = !visible;
}

/** A copy button for a secret shown once in `value`: the clipboard when the browser offers
 * it, else the text selected (and the legacy copy command); `status` says which happened. */
export function wireCopyButton(
  copy: HTMLElement,
  value: HTMLInputElement,
  status: HTMLElement,
  noun: string,
): void {
  copy.addEventListener("click", () => {
    const done = (ok: boolean) => {
      status.textContent = ok ? "Copied to the clipboard." : `Select the ${noun} and copy it.`;
      if (!ok) value.select();
    };
    if (navigator.clipboard?.writeText) {
      navigator.clipboard.writeText(value.value).then(
        () => done(true),
        () => done(false),
      );
    } else {
      value.select();
      done(document.execCommand("copy"));
    }
  });
}
