/**
 * Challenges (JAQ's second half, seed 003): start a slider or SMS challenge,
 * check answers, issue single-use session_ids, and confirm them for the
 * business backend.
 *
 * All state lives in the hot state, so any instance can serve any step:
 *   challenge_token <token>  what evaluate advised (single use)  → ChallengeOrigin
 *   challenge <id>           a running challenge                 → ChallengeRecord
 *   session <id>             a passed challenge's session        → SessionRecord
 *   session <id>, used       the claim that makes a session single-use
 * A running challenge is taken (get-and-delete) by each answer and put back
 * only while attempts remain: two answers can never both pass one puzzle.
 *
 * A store failure on answer or verify fails closed (`challenge_state_unavailable`).
 * Refusals are `Refused` with a ChallengeFailure (services/failures.ts); the
 * HTTP shell decides how they look on the wire.
 */
import { createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { Challenge as PowChallenge } from 'altcha-lib';
import type { ChallengeType, RiskEvent, VerifyFailure } from '../../shared/constants.js';
import type { ChallengeAnswerResponse, ChallengeStartResponse, SliderPuzzleView, SmsSendResponse, VerifyResponse } from '../../shared/schemas.js';
import type { AppSettings, ChallengeSettings } from '../config/config.js';
import { mobileInfo } from '../engine/features/identity.js';
import { Refused } from './failures.js';
import type { IdentifierKeys } from '../engine/identifiers/identifiers.js';
import type { HotState, StateKey } from '../adapters/hot-state/hot-state.js';
import { recordOutcome, type ChallengeOutcome, type EscalationMark, type OutcomeEntity } from '../engine/challenges/outcomes.js';
import { e164 } from '../engine/identifiers/canonical.js';
import { networkPrefix, rateLimitIp } from '../engine/identifiers/ip-prefix.js';
import { Sealer } from '../engine/challenges/sealing.js';
import { PowIssuer } from '../engine/challenges/slider/pow.js';
import { generateSliderPuzzle, PIECE_SIZE, PUZZLE_HEIGHT, PUZZLE_WIDTH, type SliderPuzzle } from '../engine/challenges/slider/puzzle.js';
import { checkSliderAnswer, type SliderAnswer } from '../engine/challenges/slider/track.js';
import { SmsSendError, type SmsProvider } from '../adapters/sms/provider.js';

/** Which challenge proves more: an SMS code ties the attempt to a phone. */
const CHALLENGE_STRENGTH: Readonly<Record<ChallengeType, number>> = { slider: 1, sms: 2 };

/** What evaluate (or a backend) asked for, before a challenge starts. */
export interface ChallengeOrigin {
  appId: string;
  type: ChallengeType;
  event: RiskEvent;
  accountId?: string;
  /** The account's key under the app's identifier rules (hot-state outcome counters). */
  accountKey?: string;
  /** Sealed (encrypted): the hot state never holds a phone number in clear. */
  mobileSealed?: string;
  deviceId?: string;
  /** The evaluation that advised it (its sequence_id), so verify can bind a session to it. */
  sequenceId?: string;
}

interface ChallengeRecord extends ChallengeOrigin {
  id: string;
  expiresAt: number;
  attemptsLeft: number;
  /** The current puzzle's answer and its proof of work (signed, kept here only). */
  slider?: { answerX: number; pieceY: number; decoyXs?: number[]; pow?: PowChallenge };
  sms?: { codeHash?: string; codeExpiresAt?: number; sentAt?: number };
}

interface SessionRecord {
  appId: string;
  type: ChallengeType;
  event: RiskEvent;
  accountId: string | null;
  /** The evaluation that advised the challenge, or null (a backend's or a standalone one). */
  sequenceId: string | null;
  verifiedAt: number;
  expiresAt: number;
}

export interface ChallengeLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface ChallengeMetrics {
  outcome(type: ChallengeType, outcome: ChallengeOutcome | 'too_many_attempts'): void;
  smsSent(): void;
  smsRefused(reason: string): void;
}

export interface ChallengeServiceOptions {
  hotState: HotState;
  settings: ChallengeSettings;
  sms: SmsProvider;
  identifiers: IdentifierKeys;
  /** ≥ 32 bytes; seals phone numbers and keys code hashes. */
  secret: Buffer;
  log: ChallengeLogger;
  metrics: ChallengeMetrics;
  now?: () => number;
  /** Makes slider puzzles; tests pass a deterministic one. */
  puzzles?: () => SliderPuzzle;
}

/** Where a start, send or answer came from, for rate limits and pumping checks. */
export interface Requester {
  ip: string;
  deviceId?: string;
}

const newId = () => randomBytes(18).toString('base64url');
/** Sessions are kept past their expiry so a late verify says `expired`, not `not_found`. */
const SESSION_RECORD_EXTRA_MS = 3_600_000;
/** Likewise running challenges: a late answer says `expired` (start again), not `not_found`. */
const CHALLENGE_RECORD_EXTRA_MS = 300_000;

export class ChallengeService {
  private readonly sealer: Sealer;
  private readonly now: () => number;
  private readonly pow: PowIssuer;

  constructor(private readonly options: ChallengeServiceOptions) {
    this.sealer = new Sealer(options.secret);
    this.pow = new PowIssuer(options.secret, options.settings.slider.pow_counter_max);
    // Read the clock at each call, so a clock installed later (fake timers) is seen.
    this.now = options.now ?? (() => Date.now());
  }

  /** Called by evaluate when it advises a slider or SMS: what the SDK passes to `challenge()`. */
  async issueToken(origin: Omit<ChallengeOrigin, 'mobileSealed'> & { mobile?: string }): Promise<string> {
    const token = newId();
    const { mobile, ...rest } = origin;
    const stored: ChallengeOrigin = { ...rest, ...(mobile ? { mobileSealed: this.sealer.seal(mobile) } : {}) };
    // Made by evaluation traffic: evictable in memory mode (a lost token fails closed: NOT_FOUND at start).
    await this.options.hotState.put({ entity: 'challenge_token', id: token }, JSON.stringify(stored), this.options.settings.ttl_seconds * 1000, { evictable: true });
    return token;
  }

  /**
   * A challenge a backend starts itself (it may name the account and the phone
   * number). An SMS one needs a number of a country SMS may go to; refused
   * here, before any rate limit counts the start.
   */
  originFromBackend(app: AppSettings, body: { type: ChallengeType; event: RiskEvent; account_id?: string; mobile?: string }): ChallengeOrigin {
    if (body.type === 'sms') {
      if (!body.mobile) throw new Refused({ code: 'sms_mobile_empty' });
      const country = mobileInfo(body.mobile).country_code;
      if (!this.smsMayGoTo(country)) throw new Refused({ code: 'sms_country_not_allowed', country });
    }
    return {
      appId: app.id,
      type: body.type,
      event: body.event,
      ...(body.account_id ? { accountId: body.account_id, accountKey: this.options.identifiers.key('account', body.account_id, app.identifiers) } : {}),
      ...(body.mobile ? { mobileSealed: this.sealer.seal(body.mobile) } : {}),
    };
  }

  /**
   * Starts the challenge a challenge_token stands for; the token is spent by
   * this call. Rate limits come first, so a refused start leaves the token usable.
   */
  async startFromToken(app: AppSettings, token: string, requester: Requester): Promise<ChallengeStartResponse> {
    await this.admitStart(requester);
    return this.begin(await this.redeemToken(app, token), requester);
  }

  /** Starts a challenge whose origin the caller vouches for (a backend, or a standalone slider). */
  async start(origin: ChallengeOrigin, requester: Requester): Promise<ChallengeStartResponse> {
    await this.admitStart(requester);
    return this.begin(origin, requester);
  }

  /** Turns a challenge_token into its origin, once. Another app's token is left alone: it cannot burn it. */
  private async redeemToken(app: AppSettings, token: string): Promise<ChallengeOrigin> {
    const { hotState } = this.options;
    const key: StateKey = { entity: 'challenge_token', id: token };
    const unknown = () => new Refused({ code: 'challenge_token_unknown' });
    const peek = await this.store(() => hotState.get(key));
    if (!peek || (JSON.parse(peek) as ChallengeOrigin).appId !== app.id) throw unknown();
    // The take is the single-use claim: of concurrent starts with one token, one gets it.
    const raw = await this.store(() => hotState.take(key));
    if (!raw) throw unknown();
    return JSON.parse(raw) as ChallengeOrigin;
  }

  private async admitStart(requester: Requester): Promise<void> {
    const { settings, hotState } = this.options;
    const perMinute = await this.store(() => hotState.increment({ entity: 'ip', id: rateLimitIp(requester.ip), facet: 'challenge_starts' }, 60_000, 'rl:start'));
    if (perMinute > settings.starts_per_ip_minute) throw new Refused({ code: 'starts_rate_limited' });
    // A device or network whose slider tries are used up gets no fresh puzzles either.
    const { answers_per_device: perDevice, answers_per_network: perNetwork } = settings.slider;
    const [device, network] = await this.store(() =>
      Promise.all([requester.deviceId ? hotState.get(this.triesKey('device', requester.deviceId)) : Promise.resolve(null), hotState.get(this.triesKey('network', networkPrefix(requester.ip)))]),
    );
    if (Number(device ?? 0) >= perDevice || Number(network ?? 0) >= perNetwork) {
      throw new Refused({ code: 'slider_tries_exhausted' });
    }
  }

  /** Counter of slider answers per device or network (fixed window; `increment` keys read back with `get` in both stores). */
  private triesKey(entity: 'device' | 'network', id: string): StateKey {
    return { entity, id, facet: 'slider_answers' };
  }

  /**
   * Counts one slider answer (its proof of work done) against the device's and
   * the network's budgets; true while both hold. Counted before the drop and
   * the track are judged, so right and wrong answers cost the same and guessing
   * across fresh challenges runs out.
   */
  private async admitAnswer(record: ChallengeRecord, requester: Requester | undefined): Promise<boolean> {
    const { hotState, settings } = this.options;
    const windowMs = settings.slider.answer_window_seconds * 1000;
    const deviceId = record.deviceId ?? requester?.deviceId;
    const [device, network] = await this.store(() =>
      Promise.all([
        deviceId ? hotState.increment(this.triesKey('device', deviceId), windowMs, 'rl:slider') : Promise.resolve(0),
        requester ? hotState.increment(this.triesKey('network', networkPrefix(requester.ip)), windowMs, 'rl:slider') : Promise.resolve(0),
      ]),
    );
    return device <= settings.slider.answers_per_device && network <= settings.slider.answers_per_network;
  }

  private async begin(origin: ChallengeOrigin, requester: Requester): Promise<ChallengeStartResponse> {
    const { settings } = this.options;
    const now = this.now();
    const record: ChallengeRecord = {
      ...origin,
      ...(origin.deviceId || !requester.deviceId ? {} : { deviceId: requester.deviceId }),
      id: newId(),
      expiresAt: now + settings.ttl_seconds * 1000,
      attemptsLeft: origin.type === 'slider' ? settings.slider.max_attempts : settings.sms.max_wrong_codes,
    };
    let slider: SliderPuzzleView | undefined;
    if (origin.type === 'slider') {
      slider = await this.newPuzzle(record);
    } else {
      if (!origin.mobileSealed) throw new Refused({ code: 'sms_number_not_given' });
      record.sms = {};
    }
    await this.store(() => Promise.all([this.save(record), this.recordOutcome(record, 'started')]));
    this.options.metrics.outcome(record.type, 'started');
    return {
      code: 200,
      message: 'ok',
      challenge_id: record.id,
      type: record.type,
      expires_at: new Date(record.expiresAt).toISOString(),
      attempts_left: record.attemptsLeft,
      ...(slider ? { slider } : {}),
      ...(record.type === 'sms' ? { sms: { masked_mobile: this.maskedMobile(record), resend_after_seconds: 0 } } : {}),
    };
  }

  /**
   * Checks an answer. `requester` (the caller's address and device) counts
   * slider answers against the per-device and per-network budgets; without it
   * only the per-challenge attempts apply.
   */
  async answer(
    app: AppSettings,
    challengeId: string,
    answer: Partial<SliderAnswer> & { code?: string; pow?: unknown },
    requester?: Requester,
  ): Promise<ChallengeAnswerResponse> {
    const record = await this.take(app, challengeId);
    if (!record) return { code: 200, message: 'failed', success: false, failure: 'not_found' };
    if (record.expiresAt <= this.now()) return { code: 200, message: 'failed', success: false, failure: 'expired' };
    return record.type === 'slider' ? this.answerSlider(record, answer, requester) : this.answerSms(record, answer.code);
  }

  private async answerSlider(record: ChallengeRecord, answer: Partial<SliderAnswer> & { pow?: unknown }, requester: Requester | undefined): Promise<ChallengeAnswerResponse> {
    if (answer.x === undefined || answer.track === undefined) {
      await this.store(() => this.save(record));
      throw new Refused({ code: 'slider_answer_incomplete', missing: answer.x === undefined ? 'x' : 'track' });
    }
    const slider = record.slider!;
    // A record written before puzzles carried a proof of work has none to check.
    const powOk = slider.pow === undefined || (await this.pow.check(slider.pow, answer.pow));
    // Only answers with their work done count against the device's and network's
    // budgets: burning a shared network's budget then costs the CPU it costs a person.
    if (powOk && !(await this.admitAnswer(record, requester))) {
      // The challenge ends here (it is not put back): its device or network has used up its tries.
      this.options.log.info({ challenge_id: record.id, app_id: record.appId, failure: 'tries_exhausted' }, 'slider answer refused');
      await this.store(() => this.recordOutcome(record, 'failed'));
      this.options.metrics.outcome(record.type, 'failed');
      this.options.metrics.outcome(record.type, 'too_many_attempts');
      return { code: 200, message: 'failed', success: false, failure: 'too_many_attempts', attempts_left: 0 };
    }
    const result = powOk
      ? checkSliderAnswer({ x: answer.x, track: answer.track }, { answerX: slider.answerX, tolerance: this.options.settings.slider.tolerance_px })
      : ({ ok: false, failure: 'pow' } as const);
    if (result.ok) return this.pass(record);
    this.options.log.info({ challenge_id: record.id, app_id: record.appId, failure: result.failure }, 'slider answer refused');
    // Dropped onto a decoy: what a solver that picks among the holes does (a person
    // reads which hole the picture continues). No fresh puzzle: the challenge ends,
    // so guessing among three or four holes, retry after retry, does not pay.
    const tolerance = this.options.settings.slider.tolerance_px;
    if (powOk && this.options.settings.slider.decoy_ends_challenge && (slider.decoyXs ?? []).some((x) => Math.abs(answer.x! - x) <= tolerance)) {
      this.options.log.info({ challenge_id: record.id, app_id: record.appId, failure: 'decoy' }, 'slider answer on a decoy: challenge ended');
      record.attemptsLeft = 1;
    }
    return this.fail(record, async () => ({ slider: await this.newPuzzle(record) }));
  }

  private async answerSms(record: ChallengeRecord, code: string | undefined): Promise<ChallengeAnswerResponse> {
    if (code === undefined) {
      await this.store(() => this.save(record));
      throw new Refused({ code: 'sms_code_missing' });
    }
    const sms = record.sms ?? {};
    if (!sms.codeHash || sms.codeExpiresAt === undefined) {
      await this.store(() => this.save(record));
      return { code: 200, message: 'failed', success: false, failure: 'code_not_sent', attempts_left: record.attemptsLeft };
    }
    if (sms.codeExpiresAt <= this.now()) {
      // The challenge lives on: the user can ask for a new code.
      record.sms = { ...sms, codeHash: undefined, codeExpiresAt: undefined };
      await this.store(() => this.save(record));
      return { code: 200, message: 'failed', success: false, failure: 'expired', attempts_left: record.attemptsLeft };
    }
    const expected = Buffer.from(sms.codeHash, 'base64url');
    const given = this.codeHash(record.id, code);
    if (timingSafeEqual(expected, given)) return this.pass(record);
    return this.fail(record, async () => ({}));
  }

  private async pass(record: ChallengeRecord): Promise<ChallengeAnswerResponse> {
    const now = this.now();
    const sessionId = newId();
    const session: SessionRecord = {
      appId: record.appId,
      type: record.type,
      event: record.event,
      accountId: record.accountId ?? null,
      sequenceId: record.sequenceId ?? null,
      verifiedAt: now,
      expiresAt: now + this.options.settings.session_ttl_seconds * 1000,
    };
    const keepFor = this.options.settings.session_ttl_seconds * 1000 + SESSION_RECORD_EXTRA_MS;
    await this.store(() =>
      Promise.all([
        this.options.hotState.put({ entity: 'session', id: sessionId }, JSON.stringify(session), keepFor, { scope: 'sess' }),
        this.recordOutcome(record, ...(record.type === 'sms' ? (['passed', 'sms_passed'] as const) : (['passed'] as const))),
      ]),
    );
    this.options.metrics.outcome(record.type, 'passed');
    return { code: 200, message: 'ok', success: true, session_id: sessionId };
  }

  private async fail(record: ChallengeRecord, retry: () => Promise<Partial<ChallengeAnswerResponse>>): Promise<ChallengeAnswerResponse> {
    record.attemptsLeft -= 1;
    this.options.metrics.outcome(record.type, 'failed');
    if (record.attemptsLeft <= 0) {
      await this.store(() => this.recordOutcome(record, 'failed'));
      this.options.metrics.outcome(record.type, 'too_many_attempts');
      return { code: 200, message: 'failed', success: false, failure: 'too_many_attempts', attempts_left: 0 };
    }
    const extra = await retry();
    // The wrong answer ends one attempt and opens the next (a fresh puzzle, another
    // code): counted so, an attempt never ended is exactly an abandoned one.
    await this.store(() => Promise.all([this.save(record), this.recordOutcome(record, 'failed', 'started')]));
    return { code: 200, message: 'failed', success: false, failure: 'failed', attempts_left: record.attemptsLeft, ...extra };
  }

  /** Sends (or resends) the SMS code, within rate limits and SMS-pumping defences. */
  async sendSms(app: AppSettings, challengeId: string, requester: Requester): Promise<SmsSendResponse> {
    const { settings, hotState, log, metrics } = this.options;
    const sms = settings.sms;
    const record = await this.take(app, challengeId);
    if (!record || record.type !== 'sms' || !record.mobileSealed || record.expiresAt <= this.now()) {
      if (record) await this.store(() => this.save(record));
      throw new Refused({ code: 'sms_challenge_not_found' });
    }
    const now = this.now();
    const state = record.sms ?? {};
    const waitMs = state.sentAt === undefined ? 0 : state.sentAt + sms.resend_seconds * 1000 - now;
    if (waitMs > 0) {
      await this.store(() => this.save(record));
      throw new Refused({ code: 'sms_resend_too_soon', waitSeconds: Math.ceil(waitMs / 1000) });
    }
    const mobile = this.sealer.open(record.mobileSealed);
    const mobileKey = this.options.identifiers.key('mobile', mobile);
    const country = mobileInfo(mobile).country_code;
    const ip = rateLimitIp(requester.ip);
    const deviceId = record.deviceId ?? requester.deviceId;
    const hour = 3_600_000;
    const day = 86_400_000;

    const [perMobileHour, perMobileDay, perIp, perDevice, perApp, pumping] = await this.store(() =>
      Promise.all([
        hotState.increment({ entity: 'mobile', id: mobileKey, facet: 'sms_hour' }, hour, 'rl:sms'),
        hotState.increment({ entity: 'mobile', id: mobileKey, facet: 'sms_day' }, day, 'rl:sms'),
        hotState.increment({ entity: 'ip', id: ip, facet: 'sms_hour' }, hour, 'rl:sms'),
        deviceId ? hotState.increment({ entity: 'device', id: deviceId, facet: 'sms_hour' }, hour, 'rl:sms') : Promise.resolve(0),
        hotState.increment({ entity: 'app', id: app.id, facet: 'sms_hour' }, hour, 'rl:sms'),
        hotState.observe({
          at: now,
          keep: true,
          counters: [],
          firstSeen: [],
          distinct: [
            { app: app.id, entity: 'ip', id: ip, facet: 'sms_mobiles', member: mobileKey, windowsMs: [hour] },
            { app: app.id, entity: 'ip', id: ip, facet: 'sms_countries', member: country || 'unknown', windowsMs: [day] },
            ...(deviceId ? [{ app: app.id, entity: 'device' as const, id: deviceId, facet: 'sms_mobiles', member: mobileKey, windowsMs: [day] }] : []),
          ],
        }),
      ]),
    );
    const limited =
      perMobileHour > sms.limits.per_mobile_hour ||
      perMobileDay > sms.limits.per_mobile_day ||
      perIp > sms.limits.per_ip_hour ||
      perDevice > sms.limits.per_device_hour ||
      perApp > sms.limits.per_app_hour;
    if (limited) {
      await this.store(() => this.save(record));
      metrics.smsRefused('rate_limited');
      throw new Refused({ code: 'sms_rate_limited' });
    }

    const [mobilesPerIp, countriesPerIp, mobilesPerDevice] = pumping.distinct.map((counts) => counts[0] ?? 0);
    // Checked at the start of a backend's challenge too; an evaluation's challenge_token carries the number unchecked.
    const pumpingReason = !this.smsMayGoTo(country)
      ? 'country_not_allowed'
      : (mobilesPerIp ?? 0) > sms.pumping.mobiles_per_ip_hour
        ? 'many_mobiles_per_ip'
        : (countriesPerIp ?? 0) > sms.pumping.countries_per_ip_day
          ? 'many_countries_per_ip'
          : (mobilesPerDevice ?? 0) > sms.pumping.mobiles_per_device_day
            ? 'many_mobiles_per_device'
            : undefined;

    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    record.sms = { codeHash: this.codeHash(record.id, code).toString('base64url'), codeExpiresAt: now + sms.code_ttl_seconds * 1000, sentAt: now };
    if (pumpingReason) {
      // Silent to the browser (it looks sent), loud in the log and metrics: the
      // code is never sent, and nobody can know it.
      record.sms.codeHash = this.codeHash(record.id, newId()).toString('base64url');
      await this.store(() => this.save(record));
      log.warn({ challenge_id: record.id, app_id: app.id, reason: pumpingReason, ip_key: ip, country }, 'SMS refused: possible SMS pumping');
      metrics.smsRefused(pumpingReason);
    } else {
      try {
        await this.options.sms.send({ to: e164(mobile) ?? mobile, text: `Your verification code is ${code}, valid for ${Math.round(sms.code_ttl_seconds / 60)} minutes. 您的验证码是 ${code}。`, appId: app.id, challengeId: record.id, code });
      } catch (error) {
        record.sms = state;
        await this.store(() => this.save(record));
        log.warn({ challenge_id: record.id, app_id: app.id, err: error instanceof SmsSendError ? error.code : String(error) }, 'SMS provider failed');
        throw new Refused({ code: 'sms_send_failed' });
      }
      await this.store(() => this.save(record));
      metrics.smsSent();
    }
    return { code: 200, message: 'ok', sent: true, masked_mobile: this.maskedMobile(record), resend_after_seconds: sms.resend_seconds };
  }

  /**
   * The business backend's confirmation: single use, atomic, bound to the app, and to
   * the account, the event, the advising evaluation (`sequenceId`) and the weakest
   * acceptable challenge (`minType`) when given.
   */
  async verify(
    app: AppSettings,
    sessionId: string,
    accountId?: string,
    event?: RiskEvent,
    binding: { sequenceId?: string; minType?: ChallengeType } = {},
  ): Promise<VerifyResponse> {
    const { hotState, settings } = this.options;
    const refuse = (error: VerifyFailure): VerifyResponse => ({ code: 200, message: error, success: false, error });
    const raw = await this.store(() => hotState.get({ entity: 'session', id: sessionId }));
    if (!raw) return refuse('not_found');
    const session = JSON.parse(raw) as SessionRecord;
    if (session.appId !== app.id) return refuse('app_mismatch');
    if (session.expiresAt <= this.now()) return refuse('expired');
    // The same account in another spelling (full-width, another case where the app folds case) is the same account.
    const account = (id: string) => this.options.identifiers.normalize('account', id, app.identifiers);
    if (accountId !== undefined && (session.accountId === null || account(session.accountId) !== account(accountId))) return refuse('account_mismatch');
    if (event !== undefined && session.event !== event) return refuse('event_mismatch');
    if (binding.sequenceId !== undefined && session.sequenceId !== binding.sequenceId) return refuse('challenge_mismatch');
    if (binding.minType !== undefined && CHALLENGE_STRENGTH[session.type] < CHALLENGE_STRENGTH[binding.minType]) return refuse('challenge_mismatch');
    const keepFor = settings.session_ttl_seconds * 1000 + SESSION_RECORD_EXTRA_MS;
    if (!(await this.store(() => hotState.claimOnce({ entity: 'session', id: sessionId, facet: 'used' }, keepFor, `sessu:${app.id}`)))) return refuse('already_used');
    return {
      code: 200,
      message: 'ok',
      success: true,
      type: session.type,
      event: session.event,
      account_id: session.accountId,
      verified_at: new Date(session.verifiedAt).toISOString(),
    };
  }

  private async newPuzzle(record: ChallengeRecord): Promise<SliderPuzzleView> {
    const puzzle = (this.options.puzzles ?? generateSliderPuzzle)();
    const pow = await this.pow.issue(record.expiresAt);
    record.slider = { answerX: puzzle.answerX, pieceY: puzzle.pieceY, ...(puzzle.decoyXs ? { decoyXs: puzzle.decoyXs } : {}), pow: pow.challenge };
    return {
      background: `data:image/png;base64,${puzzle.background.toString('base64')}`,
      piece: `data:image/png;base64,${puzzle.piece.toString('base64')}`,
      width: PUZZLE_WIDTH,
      height: PUZZLE_HEIGHT,
      piece_size: PIECE_SIZE,
      piece_y: puzzle.pieceY,
      pow: pow.view,
    };
  }

  /** Whether SMS may go to numbers of this country calling code (challenges.sms.allowed_countries). */
  private smsMayGoTo(country: string): boolean {
    return this.options.settings.sms.allowed_countries.includes(country);
  }

  private maskedMobile(record: ChallengeRecord): string {
    return record.mobileSealed ? this.options.identifiers.mask('mobile', this.sealer.open(record.mobileSealed)) : '';
  }

  private codeHash(challengeId: string, code: string): Buffer {
    return createHmac('sha256', this.options.secret).update(`sms-code:${challengeId}:${code}`).digest();
  }

  private async take(app: AppSettings, challengeId: string): Promise<ChallengeRecord | undefined> {
    const raw = await this.store(() => this.options.hotState.take({ entity: 'challenge', id: challengeId }));
    if (!raw) return undefined;
    const record = JSON.parse(raw) as ChallengeRecord;
    // Another app's challenge looks like no challenge at all; it stays where it was.
    if (record.appId !== app.id) {
      await this.store(() => this.save(record));
      return undefined;
    }
    return record;
  }

  private save(record: ChallengeRecord): Promise<void> {
    return this.options.hotState.put({ entity: 'challenge', id: record.id }, JSON.stringify(record), Math.max(1, record.expiresAt + CHALLENGE_RECORD_EXTRA_MS - this.now()), { scope: 'chal' });
  }

  private async recordOutcome(record: ChallengeRecord, ...outcomes: (ChallengeOutcome | EscalationMark)[]): Promise<void> {
    const entities: Partial<Record<OutcomeEntity, string>> = {
      ...(record.deviceId ? { device: record.deviceId } : {}),
      ...(record.accountKey ? { account: record.accountKey } : {}),
    };
    const counters = outcomes.flatMap((outcome) => recordOutcome(record.appId, entities, outcome));
    if (counters.length > 0) await this.options.hotState.observe({ at: this.now(), counters, distinct: [], firstSeen: [] });
  }

  /** Store calls on this path fail closed: an outage is a 503, never a pass. */
  private async store<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof Refused) throw error;
      this.options.log.warn({ err: (error as Error).message }, 'hot state unavailable on a challenge path');
      throw new Refused({ code: 'challenge_state_unavailable' });
    }
  }
}
