/**
 * Realistic POST /v1/risk/evaluate traffic: an event mix of login, register
 * and get_coupon; client IPs from a pool with a few busy NAT addresses;
 * returning accounts for logins and coupons, new ones for registrations;
 * mobiles and emails where a real backend would send them; and the user agent
 * the token's device reported (now and then another one).
 *
 * Devices: most requests come from a pool of returning devices, the rest from
 * brand-new ones, each with its own token.
 */
import { deviceProfile, prng } from './device-profile.js';
import type { TokenSpec } from './token-factory.js';

export interface WorkloadOptions {
  count: number;
  seed: number;
  appKey: string;
  /** Size of the pool of returning devices (pool indexes 0..poolSize-1). */
  devicePool: number;
  /** Share of requests from brand-new devices. */
  newDeviceShare: number;
}

export interface Workload {
  specs: TokenSpec[];
  /** The request bodies without black_box, parallel to specs. */
  bodies: Record<string, unknown>[];
}

const CN_FIRST_OCTETS = [36, 39, 42, 49, 58, 59, 60, 61, 101, 106, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 140, 175, 180, 182, 183, 202, 211, 218, 219, 220, 221, 222, 223];
const MOBILE_PREFIXES = ['138', '139', '186', '135', '150', '188', '158', '137', '177', '133', '199', '187', '170', '171'];
const EMAIL_DOMAINS = ['qq.com', '163.com', 'gmail.com', '126.com', 'outlook.com', 'foxmail.com', 'sina.com', 'mailinator.com'];

let registrations = 0;

export function makeWorkload(options: WorkloadOptions): Workload {
  const random = prng(options.seed);
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const digits = (n: number) => {
    let s = '';
    for (let i = 0; i < n; i++) s += int(10);
    return s;
  };

  // The same IPs in every phase, whatever the seed, so velocity builds up as in real traffic.
  const ipRandom = prng(12345);
  const ipInt = (n: number) => Math.floor(ipRandom() * n);
  const ipPool = Array.from({ length: 3000 }, (_, i) =>
    i % 12 === 0
      ? `240e:${(0x300 + ipInt(0x100)).toString(16)}:${ipInt(0xffff).toString(16)}:${ipInt(0xffff).toString(16)}::${(1 + ipInt(0xfffe)).toString(16)}`
      : `${CN_FIRST_OCTETS[ipInt(CN_FIRST_OCTETS.length)]}.${ipInt(256)}.${ipInt(256)}.${1 + ipInt(254)}`,
  );
  const hotIps = ipPool.slice(0, 30);
  const mobileOf = (account: number) => {
    const r = prng(account * 7919 + 17);
    return `${MOBILE_PREFIXES[Math.floor(r() * MOBILE_PREFIXES.length)]}${String(Math.floor(r() * 1e8)).padStart(8, '0')}`;
  };

  const specs: TokenSpec[] = [];
  const bodies: Record<string, unknown>[] = [];
  for (let i = 0; i < options.count; i++) {
    const fresh = random() < options.newDeviceShare;
    const device = fresh ? -1 : int(options.devicePool);
    // Pool devices keep their profile; new devices get a random one.
    const profileSeed = fresh ? 1_000_000 + int(1e9) : device + 1;
    specs.push({ device, profile: profileSeed });

    const roll = random();
    const event = roll < 0.6 ? 'login' : roll < 0.85 ? 'register' : 'get_coupon';
    const ip = random() < 0.15 ? pick(hotIps) : pick(ipPool);
    const userAgent = random() < 0.97 ? deviceProfile(profileSeed, options.appKey).userAgent : 'okhttp/4.12.0';
    const body: Record<string, unknown> = { event, ip, user_agent: userAgent, session_id: `s_${digits(8)}${int(1e6)}` };
    if (event === 'register') {
      const n = ++registrations;
      body.account_id = `u_new_${options.seed}_${n}`;
      if (random() < 0.7) body.mobile = `${MOBILE_PREFIXES[int(MOBILE_PREFIXES.length)]}${digits(8)}`;
      else body.email = `user${n}_${digits(4)}@${pick(EMAIL_DOMAINS)}`;
      body.nickname = `nick${int(100000)}`;
    } else {
      const account = int(50_000);
      body.account_id = `u_${account}`;
      if (random() < 0.3) body.mobile = mobileOf(account);
      if (event === 'get_coupon') body.event_detail = { coupon_id: `cp_2024_${int(20)}`, amount: pick([5, 10, 20, 50]) };
      if (random() < 0.1) body.referer = 'https://shop.example/promo/summer';
    }
    bodies.push(body);
  }
  return { specs, bodies };
}

/** Hands out one pre-made body per request and notices when it runs out. */
export class BodySource {
  private index = 0;
  /** Bodies asked for after the supply ran out. */
  missed = 0;
  /** performance.now() when the supply ran out. */
  exhaustedAt: number | undefined;
  /** Called once, when the first body past the end is asked for. */
  onExhausted: () => void = () => {};

  constructor(private readonly bodies: readonly string[]) {}

  get size(): number {
    return this.bodies.length;
  }

  get used(): number {
    return this.index;
  }

  /** Mean size in bytes of the first `limit` bodies. */
  averageBytes(limit = 2000): number {
    const some = this.bodies.slice(0, limit);
    return some.reduce((a, b) => a + Buffer.byteLength(b), 0) / Math.max(1, some.length);
  }

  /** The next unused body, or undefined once they are all used (never a body twice: that would replay its token). */
  take(): string | undefined {
    if (this.index < this.bodies.length) return this.bodies[this.index++]!;
    if (this.missed++ === 0) {
      this.exhaustedAt = performance.now();
      this.onExhausted();
    }
    return undefined;
  }
}
