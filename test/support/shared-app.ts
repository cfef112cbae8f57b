/**
 * One app for all the tests of a describe, where they need no fresh state of
 * their own: no counters, lists, rate limits, keys or metrics that one test
 * changes and another reads. Built in beforeAll, closed in afterAll; a test
 * that needs a clean app still builds its own with testApp().
 */
import { afterAll, beforeAll } from 'vitest';
import { testApp, type TestApp } from './app.js';

/** Call in a describe's body; the answer gives the app inside its tests. */
export function appPerDescribe(...args: Parameters<typeof testApp>): () => TestApp {
  let t: TestApp | undefined;
  beforeAll(async () => {
    t = await testApp(...args);
  });
  afterAll(async () => {
    await t?.close();
    t = undefined;
  });
  return () => {
    if (!t) throw new Error("the describe's app is not there: its beforeAll failed or has not run");
    return t;
  };
}
