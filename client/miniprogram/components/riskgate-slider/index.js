/**
 * <riskgate-slider>: the slider puzzle of a RiskGate challenge.
 *
 *   <riskgate-slider token="{{challengeToken}}" bind:success="onVerified" bind:fail="onFailed" />
 *
 * Setting `token` (a challenge_token from evaluate) starts it; or leave `token`
 * empty and call `rg.challenge(token)` / `rg.slider()`, which find the component
 * on the page. Events: `success` {session_id}, `fail` {code}: challenge_failed,
 * challenge_expired, challenge_unavailable or challenge_cancelled.
 *
 * The drag is recorded as the server's track checks expect it: every touch
 * event at its native rate, `[t, x, y]` relative to the touchstart, t from the
 * events' timeStamp, x and y in puzzle-image pixels.
 */
const { sdk, challengeComponent } = require('../base.js');

/** Room the component leaves around the puzzle, in px. */
const MARGIN_PX = 48;
/** How long a wrong answer's message stays before the next puzzle. */
const RETRY_DELAY_MS = 700;

function windowWidth() {
  try {
    const info = wx.getWindowInfo ? wx.getWindowInfo() : wx.getSystemInfoSync();
    return (info && info.windowWidth) || 375;
  } catch (error) {
    return 375;
  }
}

/** The touch as the track recorder reads a pointer event. */
function sampleOf(event, touch) {
  return {
    timeStamp: event.timeStamp,
    clientX: typeof touch.clientX === 'number' ? touch.clientX : touch.pageX,
    clientY: typeof touch.clientY === 'number' ? touch.clientY : touch.pageY,
  };
}

const round2 = (value) => Math.round(value * 100) / 100;

Component(
  challengeComponent('slider', {
    texts: ['sliderTitle', 'sliderDesc', 'sliderHint'],
    data: { background: '', piece: '', width: 0, height: 0, pieceSize: 0, pieceTop: 0, left: 0, attemptsLeft: 0 },
    open(session) {
      this.setData({ attemptsLeft: session.attemptsLeft, message: '', tone: '' });
      this._show(session.slider);
    },
    close() {
      this._drag = undefined;
      if (this._retryTimer) clearTimeout(this._retryTimer);
      this._retryTimer = undefined;
    },
    methods: {
      _show(puzzle) {
        const width = Math.min(puzzle.width, Math.floor(windowWidth() - MARGIN_PX));
        this._puzzle = puzzle;
        // Image pixels per displayed pixel: the track is sent in image pixels.
        this._scale = puzzle.width / width;
        this._x = 0;
        this.setData({
          state: 'ready',
          background: puzzle.background,
          piece: puzzle.piece,
          width,
          height: round2(puzzle.height / this._scale),
          pieceSize: round2(puzzle.piece_size / this._scale),
          pieceTop: round2(puzzle.piece_y / this._scale),
          left: 0,
        });
      },
      /** Moves the piece and the handle to `x` image pixels (clamped to the puzzle). */
      _place(x) {
        const max = this._puzzle.width - this._puzzle.piece_size;
        this._x = Math.min(max, Math.max(0, x));
        this.setData({ left: round2(this._x / this._scale) });
      },
      onTouchStart(event) {
        const touch = event.touches && event.touches[0];
        if (this.data.state !== 'ready' || this._drag || !touch) return;
        this._drag = new sdk.TrackRecorder(sampleOf(event, touch), this._scale);
      },
      onTouchMove(event) {
        const touch = event.touches && event.touches[0];
        if (!this._drag || !touch) return;
        this._place(this._drag.add(sampleOf(event, touch)));
      },
      onTouchEnd(event) {
        const drag = this._drag;
        if (!drag) return;
        this._drag = undefined;
        const touch = event.changedTouches && event.changedTouches[0];
        if (touch) this._place(drag.add(sampleOf(event, touch)));
        // A tap, not a drag: nothing to check.
        if (this._x < 1) return this._place(0);
        this._submit(drag.track());
      },
      onTouchCancel() {
        this._drag = undefined;
        if (this.data.state === 'ready') this._place(0);
      },
      _submit(track) {
        const session = this._session;
        if (!session) return;
        this.setData({ state: 'checking', message: '', tone: '' });
        session.answerSlider({ x: round2(this._x), track }).then((outcome) => {
          if (this._session !== session) return;
          switch (outcome.kind) {
            case 'passed':
              return this._pass(outcome.session_id);
            case 'retry':
              this.setData({ message: this._texts.retry(outcome.attempts_left), tone: 'bad', attemptsLeft: outcome.attempts_left });
              this._retryTimer = setTimeout(() => {
                this._retryTimer = undefined;
                if (this._session === session) this._show(session.slider);
              }, RETRY_DELAY_MS);
              return undefined;
            case 'offline':
              // Nothing was decided: the same puzzle can be tried again.
              this.setData({ state: 'ready', message: this._texts.unavailable, tone: 'bad' });
              return this._place(0);
            default:
              return this._end(outcome.error);
          }
        });
      },
    },
  }),
);
