// Where keyboard focus goes after a chat action, so typing never falls to <body>.
import { tick } from 'svelte';

export const COMPOSER_ID = 'chat-input';

/** The message box, after the DOM has caught up with the action that led here. */
export async function focusComposer(): Promise<void> {
  await tick();
  document.getElementById(COMPOSER_ID)?.focus();
}

/** Focuses the first element matching `selector` inside `root`, once the DOM has updated. */
export async function focusWithin(
  root: ParentNode | undefined,
  selector: string,
): Promise<boolean> {
  await tick();
  const target = root?.querySelector<HTMLElement>(selector);
  target?.focus();
  return !!target;
}
