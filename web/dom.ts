/** Small DOM helpers both pages use. */

/** The element with this id; the page is broken without it, so a missing one throws. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return element as T;
}

/** A new element with a class and text (text is always text, never markup). */
export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className = '',
  text = '',
): HTMLElementTagNameMap[K] {
  const made = document.createElement(tag);
  if (className !== '') made.className = className;
  if (text !== '') made.textContent = text;
  return made;
}

/** 2:05 PM in the reader's locale; with seconds, 14:05:09 (a log's time, compact). */
export function clockTime(ms: number, withSeconds = false): string {
  const options: Intl.DateTimeFormatOptions = withSeconds
    ? { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }
    : { hour: 'numeric', minute: '2-digit' };
  return new Date(ms).toLocaleTimeString([], options);
}
