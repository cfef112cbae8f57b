/** JSON over real HTTP, for tests of built servers (`fetch`, never `inject`). */

/** A parsed JSON body; tests read fields loosely and check them with expect. */
export type Json = Record<string, any>;

/**
 * `method path` on the server at `base`, with `body` as JSON if given; the
 * status and the parsed body (a body that is not JSON as `{ unparsed: text }`).
 * A server that does not answer within `timeoutMs` fails the call.
 */
export async function fetchJson(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ status: number; json: Json }> {
  const headers = options.headers ?? {};
  const response = await fetch(`${base}${path}`, {
    method,
    headers: options.body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
  });
  const text = await response.text();
  let json: Json;
  try {
    json = JSON.parse(text) as Json;
  } catch {
    json = { unparsed: text };
  }
  return { status: response.status, json };
}
