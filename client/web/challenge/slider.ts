/**
 * The slider puzzle: the background, the piece drawn at `piece_y`, and a rail
 * with a handle under it. Dragging the handle (mouse, pen or touch, one code
 * path through Pointer Events) moves the piece; on release the drop point and
 * the recorded track go to the server, which checks both.
 */
import type { ChallengeAnswerResponse, SliderPuzzleView } from '../../../shared/schemas.js';
import type { Answer } from '../../core/challenge/contract.js';
import type { Dialog } from './dialog.js';
import { h, icon, ICONS } from './dom.js';
import type { Texts } from '../../core/challenge/texts.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { solvePow, type PowSolution } from '../../core/challenge/pow.js';
import { downsample, MAX_TRACK_POINTS, TrackRecorder, type Sample } from '../../core/challenge/track.js';

export interface SliderHooks {
  submit(answer: { x: number; track: Sample[]; pow?: PowSolution }): Promise<Answer<ChallengeAnswerResponse>>;
  /** The answer was not a retry: pass, or end the challenge. */
  settle(answer: Answer<ChallengeAnswerResponse>): void;
}

/** Keyboard steps in image pixels (Shift: coarse). */
const KEY_STEP = 2;
const KEY_STEP_COARSE = 10;

const pct = (value: number, of: number) => `${(value / of) * 100}%`;

export function mountSlider(win: Window & typeof globalThis, dialog: Dialog, texts: Texts, first: SliderPuzzleView, hooks: SliderHooks): void {
  const { doc } = dialog;
  const bg = h(doc, 'img', { class: 'bg', alt: '', draggable: 'false' });
  const piece = h(doc, 'img', { class: 'piece', alt: '', draggable: 'false' });
  const puzzle = h(doc, 'div', { class: 'puzzle' }, bg, piece);
  const fill = h(doc, 'div', { class: 'fill' });
  const arrow = icon(doc, ICONS.arrow);
  // A keyboard can move the handle (arrows, Home/End; Enter or Space submits),
  // but its track is a staircase without the drift and speed profile of a hand,
  // so the server's human checks will usually refuse it. That is accepted: the
  // slider is a bot filter; keyboard-only users need another path (an SMS challenge
  // started by the backend, or your support flow).
  const knob = h(doc, 'div', { class: 'knob', role: 'slider', tabindex: '0', 'aria-label': texts.knobLabel, 'aria-valuemin': 0, 'aria-orientation': 'horizontal' }, arrow);
  const rail = h(doc, 'div', { class: 'rail' }, fill, h(doc, 'span', { class: 'hint', 'aria-hidden': 'true' }, texts.sliderHint), knob);
  const view = h(doc, 'div', { class: 'slider' }, puzzle, rail);
  dialog.content.replaceChildren(view);

  let current = first;
  // The puzzle's proof of work, solved while the person drags.
  let pow: Promise<PowSolution | undefined> = Promise.resolve(undefined);
  let maxX = 0;
  let x = 0;
  let busy = false;
  let drag: { id: number; recorder: TrackRecorder } | undefined;
  let keys: { t0: number; samples: Sample[] } | undefined;

  const place = (value: number) => {
    x = Math.min(maxX, Math.max(0, value));
    piece.style.left = pct(x, current.width);
    knob.style.left = pct(x, current.width);
    fill.style.width = pct(x + current.piece_size / 2, current.width);
    const now = Math.round(x);
    knob.setAttribute('aria-valuenow', String(now));
    knob.setAttribute('aria-valuetext', texts.knobValue(now, maxX));
  };

  const show = (next: SliderPuzzleView) => {
    current = next;
    maxX = next.width - next.piece_size;
    puzzle.style.aspectRatio = `${next.width} / ${next.height}`;
    piece.style.top = pct(next.piece_y, next.height);
    piece.style.width = pct(next.piece_size, next.width);
    knob.style.width = pct(next.piece_size, next.width);
    knob.setAttribute('aria-valuemax', String(maxX));
    bg.src = next.background;
    piece.src = next.piece;
    pow = solvePow(next.pow, sha256, (step) => win.setTimeout(step, 0));
    view.className = 'slider';
    place(0);
  };

  const setBusy = (on: boolean) => {
    busy = on;
    view.classList.toggle('busy', on);
    knob.setAttribute('aria-disabled', String(on));
  };

  const submit = async (track: Sample[]) => {
    setBusy(true);
    dialog.setStatus(texts.checking);
    const solution = await pow;
    const answer = await hooks.submit({ x: Math.round(x * 100) / 100, track, ...(solution ? { pow: solution } : {}) });
    const body = answer.body;
    if (answer.status === 200 && body.success === false && body.failure === 'failed' && body.slider) {
      view.classList.add('bad');
      dialog.setStatus(texts.retry(body.attempts_left ?? 0), 'error');
      const next = body.slider;
      win.setTimeout(() => {
        show(next);
        setBusy(false);
        knob.focus();
      }, 700);
      return;
    }
    if (answer.status === 200 && body.success) {
      view.classList.add('ok');
      arrow.replaceWith(icon(doc, ICONS.check));
    } else {
      view.classList.add('bad');
    }
    hooks.settle(answer);
  };

  // ------------------------------------------------------------ pointer

  knob.addEventListener('pointerdown', (event) => {
    if (busy || drag || !event.isPrimary || (event.pointerType === 'mouse' && event.button !== 0)) return;
    event.preventDefault();
    try {
      knob.setPointerCapture(event.pointerId);
    } catch {
      // An already released pointer: the move and up listeners still follow it on the handle.
    }
    const width = puzzle.getBoundingClientRect().width || current.width;
    drag = { id: event.pointerId, recorder: new TrackRecorder(event, current.width / width) };
    keys = undefined;
    view.classList.add('drag');
    knob.focus({ preventScroll: true });
  });
  knob.addEventListener('pointermove', (event) => {
    if (!drag || event.pointerId !== drag.id) return;
    event.preventDefault();
    place(drag.recorder.addMove(event));
  });
  const end = (event: PointerEvent) => {
    if (!drag || event.pointerId !== drag.id) return;
    const { recorder } = drag;
    drag = undefined;
    view.classList.remove('drag');
    if (event.type === 'pointercancel') return place(0);
    place(recorder.add(event));
    if (x < 1) return place(0); // A tap, not a drag: nothing to check.
    view.classList.add('moved');
    void submit(recorder.track());
  };
  knob.addEventListener('pointerup', end);
  knob.addEventListener('pointercancel', end);
  // Capture taken away mid-drag (the pointerup already ended a normal drag): start over.
  knob.addEventListener('lostpointercapture', (event) => {
    if (drag && event.pointerId === drag.id) {
      drag = undefined;
      view.classList.remove('drag');
      place(0);
    }
  });
  // The handle must not start a text selection, a native drag or a scroll on touch.
  rail.addEventListener('touchstart', (event) => event.preventDefault(), { passive: false });
  puzzle.addEventListener('dragstart', (event) => event.preventDefault());

  // ------------------------------------------------------------ keyboard

  knob.addEventListener('keydown', (event) => {
    if (busy || drag) return;
    const step = event.shiftKey ? KEY_STEP_COARSE : KEY_STEP;
    let next: number;
    switch (event.key) {
      case 'ArrowRight':
      case 'ArrowUp':
        next = x + step;
        break;
      case 'ArrowLeft':
      case 'ArrowDown':
        next = x - step;
        break;
      case 'Home':
        next = 0;
        break;
      case 'End':
        next = maxX;
        break;
      case 'Enter':
      case ' ':
        event.preventDefault();
        if (keys && x > 0) {
          const { samples } = keys;
          keys = undefined;
          view.classList.add('moved');
          void submit(downsample(samples, MAX_TRACK_POINTS));
        }
        return;
      default:
        return;
    }
    event.preventDefault();
    keys ??= { t0: event.timeStamp, samples: [[0, 0, 0]] };
    const last = keys.samples[keys.samples.length - 1]!;
    place(next);
    view.classList.toggle('moved', x > 0);
    keys.samples.push([Math.max(last[0], Math.round((event.timeStamp - keys.t0) * 1000) / 1000), x, 0]);
  });

  show(first);
}
