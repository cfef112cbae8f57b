/**
 * The modal shell: a shadow root on a custom element at the end of <body>
 * (styles scoped both ways), `role="dialog"` with `aria-modal` and a labelled
 * title, focus moved in and trapped, restored on close, Escape to cancel, and
 * the page's scrolling paused while it is open.
 */
import { h, icon, ICONS } from './dom.js';
import { STYLES } from './styles.js';
import type { Texts } from '../../core/challenge/texts.js';

export type StatusTone = 'info' | 'error' | 'success';

export interface Dialog {
  readonly doc: Document;
  readonly root: ShadowRoot;
  /** Where a view puts its content. */
  readonly content: HTMLElement;
  setHeading(title: string, description: string): void;
  setStatus(text: string, tone?: StatusTone): void;
  /** Moves focus to `el` (or the first focusable element). */
  focus(el?: HTMLElement): void;
  /** Runs `cleanup` on close (timers, listeners). */
  onClose(cleanup: () => void): void;
  close(): void;
}

/** Open dialogs, newest last: only the top one answers Escape and keeps focus. */
const open: Dialog[] = [];
let savedOverflow = '';

const FOCUSABLE = 'button:not([disabled]),input:not([disabled]),[tabindex="0"]';

export function openDialog(win: Window & typeof globalThis, texts: Texts, onCancel: () => void): Dialog {
  const doc = win.document;
  const previous = doc.activeElement as HTMLElement | null;
  const host = doc.createElement('riskgate-challenge');
  const root = host.attachShadow({ mode: 'open' });
  const title = h(doc, 'h2', { id: 'rg-title' });
  const description = h(doc, 'p', { id: 'rg-desc', class: 'desc' });
  const status = h(doc, 'p', { id: 'rg-status', class: 'status', role: 'status', 'aria-live': 'polite' });
  const content = h(doc, 'div', { class: 'content' });
  const close = h(doc, 'button', { type: 'button', class: 'close', 'aria-label': texts.close, title: texts.close }, icon(doc, ICONS.close));
  const card = h(
    doc,
    'div',
    { class: 'card', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'rg-title', 'aria-describedby': 'rg-desc', tabindex: '-1' },
    h(doc, 'div', { class: 'head' }, h(doc, 'div', {}, title, description), close),
    content,
    status,
    h(doc, 'div', { class: 'foot' }, icon(doc, ICONS.shield), texts.brand),
  );
  const backdrop = h(doc, 'div', { class: 'backdrop' }, card);
  root.append(h(doc, 'style', {}, STYLES), backdrop);
  // A click on the backdrop or on text keeps focus where it is (inside the dialog).
  backdrop.addEventListener('mousedown', (event) => {
    if (!(event.target as Element).closest?.('input,button,[tabindex="0"]')) event.preventDefault();
  });

  const cleanups: (() => void)[] = [];
  const focusables = () => [...root.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => el.getClientRects().length > 0);
  const isTop = () => open[open.length - 1] === dialog;

  const onKey = (event: KeyboardEvent) => {
    if (!isTop()) return;
    if (event.key === 'Escape' || event.key === 'Esc') {
      event.preventDefault();
      event.stopPropagation();
      onCancel();
    } else if (event.key === 'Tab') {
      // Keep Tab inside the dialog: wrap from the last element to the first and back.
      const list = focusables();
      if (list.length === 0) return event.preventDefault();
      const index = list.indexOf(root.activeElement as HTMLElement);
      const next = event.shiftKey ? (index <= 0 ? list.length - 1 : index - 1) : index === list.length - 1 || index < 0 ? 0 : index + 1;
      event.preventDefault();
      list[next]!.focus();
    }
  };
  // Focus that lands on the page behind (a script, a click through) comes back.
  const onFocusIn = (event: FocusEvent) => {
    if (isTop() && event.target !== host) dialog.focus();
  };

  const dialog: Dialog = {
    doc,
    root,
    content,
    setHeading(text, desc) {
      title.textContent = text;
      description.textContent = desc;
    },
    setStatus(text, tone = 'info') {
      status.textContent = text;
      status.className = `status ${tone}`;
    },
    focus(el) {
      (el ?? focusables().find((candidate) => candidate !== close) ?? card).focus();
    },
    onClose(cleanup) {
      cleanups.push(cleanup);
    },
    close() {
      const at = open.indexOf(dialog);
      if (at < 0) return;
      open.splice(at, 1);
      for (const cleanup of cleanups.splice(0)) {
        try {
          cleanup();
        } catch {
          // A view's cleanup must not keep the dialog open.
        }
      }
      doc.removeEventListener('keydown', onKey, true);
      doc.removeEventListener('focusin', onFocusIn, true);
      host.remove();
      if (open.length === 0) doc.documentElement.style.overflow = savedOverflow;
      if (previous && previous.isConnected && typeof previous.focus === 'function') previous.focus();
    },
  };

  close.addEventListener('click', onCancel);
  doc.addEventListener('keydown', onKey, true);
  doc.addEventListener('focusin', onFocusIn, true);
  if (open.length === 0) {
    savedOverflow = doc.documentElement.style.overflow;
    doc.documentElement.style.overflow = 'hidden';
  }
  open.push(dialog);
  (doc.body ?? doc.documentElement).appendChild(host);
  return dialog;
}
