/**
 * Prometheus metrics. Each app instance has its own registry so tests (and
 * embedders) can run several side by side.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class RiskMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'riskgate_http_requests_total',
    help: 'HTTP requests by route, method and status.',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly decisions = new Counter({
    name: 'riskgate_decisions_total',
    help: 'Decisions by event and decision.',
    labelNames: ['event', 'decision'] as const,
    registers: [this.registry],
  });
  readonly evaluateLatency = new Histogram({
    name: 'riskgate_evaluate_duration_seconds',
    help: 'Time to answer an evaluation, from request start to reply.',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly tokenFailures = new Counter({
    name: 'riskgate_token_failures_total',
    help: 'black_box tokens that failed to decode, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly degraded = new Counter({
    name: 'riskgate_dependency_failures_total',
    help: 'Store calls skipped on the request path (timeout or error), by dependency.',
    labelNames: ['dependency'] as const,
    registers: [this.registry],
  });
  readonly decodeWorkerFailures = new Counter({
    name: 'riskgate_decode_worker_failures_total',
    help: 'Token decode worker threads replaced, by cause (exit: crashed; hang: answered nothing in time, terminated).',
    labelNames: ['cause'] as const,
    registers: [this.registry],
  });
  readonly ruleErrors = new Counter({
    name: 'riskgate_rule_errors_total',
    help: 'Rule conditions that failed at run time (counted as not hit), by rule.',
    labelNames: ['rule'] as const,
    registers: [this.registry],
  });
  readonly hotStateEvictions = new Counter({
    name: 'riskgate_hot_state_evictions_total',
    help: 'Memory mode: entries evicted before their TTL to make room, by space (only evaluation traffic is ever evicted).',
    labelNames: ['space'] as const,
    registers: [this.registry],
  });
  readonly hotStateFull = new Counter({
    name: 'riskgate_hot_state_full_total',
    help: 'Memory mode: new entries refused for want of room, by space (claims: answered degraded; kept: STORE_UNAVAILABLE).',
    labelNames: ['space'] as const,
    registers: [this.registry],
  });
  readonly ruleReloads = new Counter({
    name: 'riskgate_rule_reloads_total',
    help: 'Rules file reloads by result.',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly challengeOutcomes = new Counter({
    name: 'riskgate_challenge_outcomes_total',
    help: 'Challenges started, passed, failed (per wrong answer) and exhausted, by type.',
    labelNames: ['type', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly smsSent = new Counter({ name: 'riskgate_sms_sent_total', help: 'SMS codes handed to the provider.', registers: [this.registry] });
  readonly smsRefused = new Counter({
    name: 'riskgate_sms_refused_total',
    help: 'SMS sends refused: rate limits, and SMS-pumping signs (refused silently to the browser).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
