/**
 * The key of a hot-state entry, as parts: which app, which entity, and what is
 * kept about it. Callers name the parts; the adapters lay them out
 * (adapters/hot-state/keys.ts), and the Redis one alone makes the entity's
 * part a Redis Cluster hash tag, so that every key of one entity sits on one
 * slot and one script can touch them all. Nobody else writes `{` or `}`.
 *
 * Ids are never raw phone numbers or emails: identifiers come as keyed hashes
 * (engine/identifiers), devices by their key's thumbprint, challenges and
 * sessions by random ids.
 */
import type { ListDimension } from '../../../shared/constants.js';

/** What a key is about. */
export type StateEntity =
  | ListDimension // the request's identifiers: ip, device, account, mobile, email
  | 'visitor' // the fingerprint's visitor and template keys (engine/features/fingerprint.ts)
  | 'template'
  | 'network' // an IP prefix (/24, /64): a keyed hash of it (enrollment), or as text (slider tries)
  | 'app' // an app as a whole (its SMS budget)
  | 'token' // a black_box, by its app and jti (the replay claim)
  | 'challenge_token' // what an evaluation advised, redeemed once
  | 'challenge' // a running challenge
  | 'session' // a passed challenge's session
  | 'puzzle'; // an enrollment puzzle, by its nonce

export interface StateKey {
  /**
   * The app the entry belongs to. Absent for entries that are no app's view of
   * an entity: rate limits every app shares (an address's challenge starts, a
   * number's SMS), an app's own budget (entity `app`), and records found by an
   * unguessable id (tokens, challenges, sessions, puzzles).
   */
  app?: string;
  entity: StateEntity;
  /** The entity's id. */
  id: string;
  /**
   * What is kept about the entity, unique among the keys of one entity: the
   * event counted (`login`), the members of a set (`accounts`), a challenge
   * outcome (`passed`), `seen`, `used` (a claim), a rate limit
   * (`sms_hour`) …; absent for the entity's own record (a challenge, a
   * session).
   */
  facet?: string;
}
