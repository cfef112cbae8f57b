/**
 * HTTP through `wx.request`, with a timeout of our own on top of the request's
 * `timeout` option (which base libraries before 2.10.0 ignore). Never rejects:
 * a network failure or timeout is `status: 0`, as in the web SDK's challenge API.
 *
 * wx.request sends no Origin header, so the server's origin check (for pages)
 * does not apply; the app is named by `app_key` in every body.
 */
import type { Answer } from '../../core/challenge/contract.js';
import type { Wx } from './wx.js';

export type { Answer };

/** A failed request: no status, the reason in `message`. */
const failed = <T>(message: string): Answer<T> => ({ status: 0, body: { message } as Answer<T>['body'] });

export function wxRequest<T>(wx: Wx, method: 'GET' | 'POST', url: string, body: object | undefined, timeoutMs: number): Promise<Answer<T>> {
  return new Promise<Answer<T>>((resolve) => {
    let done = false;
    const finish = (answer: Answer<T>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(answer);
    };
    const timer = setTimeout(() => {
      try {
        task?.abort?.();
      } catch {
        // Already finished.
      }
      finish(failed(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    let task: ReturnType<NonNullable<Wx['request']>>;
    try {
      if (typeof wx.request !== 'function') {
        finish(failed('wx.request is not available'));
        return;
      }
      task = wx.request({
        url,
        method,
        timeout: timeoutMs,
        dataType: 'json',
        header: body === undefined ? { accept: 'application/json' } : { 'content-type': 'application/json', accept: 'application/json' },
        ...(body === undefined ? {} : { data: body }),
        success: (response) => {
          const data = response.data;
          // dataType json parses a JSON body; anything else (a proxy's HTML page) stays a string.
          const parsed = data !== null && typeof data === 'object' ? (data as Answer<T>['body']) : {};
          finish({ status: typeof response.statusCode === 'number' ? response.statusCode : 0, body: parsed });
        },
        fail: (error) => finish(failed(error?.errMsg ?? 'request failed')),
      });
    } catch (error) {
      finish(failed(error instanceof Error ? error.message : String(error)));
    }
  });
}
