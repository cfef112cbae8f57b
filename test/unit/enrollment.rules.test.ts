/**
 * The default rules on the `enrollment` features alone: a clean web or
 * mini-program token with each enrollment status, and a farm's prefix.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NO_ENROLLMENT, type EnrollmentFeatures } from '../../server/engine/enrollment/certificate.js';
import type { Features } from '../../server/engine/features/features.js';
import { compileRuleSet } from '../../server/engine/rules/compile.js';
import { quietFeatures } from '../support/features.js';

const FILE = fileURLToPath(new URL('../../server/engine/rules/default-rules.yaml', import.meta.url));
const rules = compileRuleSet(readFileSync(FILE, 'utf8'), FILE);

const features = (platform: Features['platform'], enrollment: Partial<EnrollmentFeatures>): Features =>
  quietFeatures({ platform, enrollment: { ...NO_ENROLLMENT, ...enrollment } });

function score(platform: Features['platform'], enrollment: Partial<EnrollmentFeatures>) {
  const evaluation = rules.evaluate(features(platform, enrollment));
  expect(evaluation.errors).toEqual([]);
  const online = evaluation.hits.filter((h) => h.state === 'online');
  return { score: Math.min(100, online.reduce((sum, h) => sum + h.score, 0)), ids: online.map((h) => h.id), tags: online.flatMap((h) => h.tags) };
}

const OK: Partial<EnrollmentFeatures> = { status: 'ok', age_s: 3600, difficulty: 48_000, prefix_match: true, prefix_enrollments_5m: 1, prefix_enrollments_1h: 1, prefix_enrollments_24h: 1 };

describe('default rules on enrollment', () => {
  it('a valid certificate adds nothing', () => {
    expect(score('web', OK)).toEqual({ score: 0, ids: [], tags: [] });
    expect(score('wechat', OK).score).toBe(0);
  });

  it('no certificate (or a failed enrollment) is level 1 on its own, for web and mini-program tokens only', () => {
    for (const platform of ['web', 'wechat'] as const) {
      for (const status of ['missing', 'failed'] as const) {
        const { score: s, ids } = score(platform, { status });
        expect(ids).toEqual(['device_not_enrolled']);
        expect(s).toBeGreaterThanOrEqual(20);
        expect(s).toBeLessThan(35);
      }
    }
    // A server-only call (no token, platform unknown) is not an SDK token without a certificate.
    expect(score('unknown', { status: 'missing' }).ids).toEqual([]);
  });

  it('enrolling is level 1 (a slider), never a decline on its own', () => {
    const { score: s, ids } = score('web', { status: 'enrolling' });
    expect(ids).toEqual(['device_enrolling']);
    expect(s).toBeGreaterThanOrEqual(20);
    expect(s).toBeLessThan(35);
  });

  it('an invalid certificate (forged, another device\'s or app\'s) scores 70 or more', () => {
    const { score: s, tags } = score('web', { status: 'invalid' });
    expect(s).toBeGreaterThanOrEqual(70);
    expect(tags).toContain('tampered');
  });

  it('many enrollments from the prefix add weight, even to a valid certificate', () => {
    expect(score('web', { ...OK, prefix_enrollments_1h: 25, prefix_enrollments_24h: 25 }).ids).toEqual(['enroll_prefix_burst']);
    const farm = score('web', { ...OK, prefix_enrollments_1h: 150, prefix_enrollments_24h: 900 });
    expect(farm.ids.sort()).toEqual(['enroll_prefix_burst', 'enroll_prefix_farm']);
    expect(farm.tags).toContain('gang');
    expect(farm.score).toBeGreaterThanOrEqual(35);
  });
});
