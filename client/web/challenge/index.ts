/**
 * The challenge UI chunk, `riskgate-challenge.min.js`: loaded by the web SDK
 * on the first `challenge()` or `slider()` call, it registers its runner on a
 * private global (a registered symbol) that the SDK reads. It touches nothing
 * else on the page until a challenge runs.
 */
import { CHALLENGE_GLOBAL, type ChallengeRunner } from './contract.js';
import { runChallenge } from './run.js';

(globalThis as unknown as Record<symbol, ChallengeRunner>)[Symbol.for(CHALLENGE_GLOBAL)] = runChallenge;
