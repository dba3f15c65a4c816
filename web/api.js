// Access to the Dossier HTTP API (/api/v1): credentials, the CSRF header,
// error decoding into readable sentences, and job polling.
//
// The session lives in an HttpOnly cookie set by the server at login; this
// module only keeps the CSRF token that must accompany every state-changing
// request.

const API_ROOT = '/api/v1';
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const FINAL_JOB_STATES = new Set(['done', 'failed', 'cancelled']);

let csrfToken = '';
let sessionEndedHandler = () => {};

/** Remembers the CSRF token from login or GET /auth/session ('' forgets it). */
export function setCsrfToken(token) {
  csrfToken = typeof token === 'string' ? token : '';
}

/** Called whenever a request is refused with 401: the session is over. */
export function onSessionEnded(handler) {
  sessionEndedHandler = handler;
}

/** An API path from raw segments, each percent-encoded: apiPath('cases', id, 'grants'). */
export function apiPath(...segments) {
  return `${API_ROOT}/${segments.map((s) => encodeURIComponent(String(s))).join('/')}`;
}

/** A refused or failed request: HTTP status, the server's error code and a sentence. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter; // seconds, from Retry-After, when given
    this.position = null; // of a malformed query: its 1-based character, when the server names it
    this.sessionEnded = false; // true once the login page has been shown for it
  }
}

/**
 * Sends one request and returns the decoded answer: parsed JSON, text for
 * other types, or null for 204. Throws ApiError for any non-2xx answer and
 * for network failures; an AbortError passes through untouched.
 *
 * options: json (a body to send as JSON), body + contentType (raw bytes),
 * query (an object; undefined/null values are left out), signal, and
 * sessionCheck (default true: a 401 ends the session and shows the login).
 */
export async function request(method, path, options = {}) {
  const { json, body, contentType, query, signal, sessionCheck = true } = options;
  const headers = {};
  let payload;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(json);
  } else if (body !== undefined) {
    headers['Content-Type'] = contentType || 'application/octet-stream';
    payload = body;
  }
  if (UNSAFE_METHODS.has(method) && csrfToken) headers['X-CSRF-Token'] = csrfToken;

  let response;
  try {
    response = await fetch(withQuery(path, query), {
      method,
      headers,
      body: payload,
      signal,
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', 'Could not reach the server. Check the connection and try again.');
  }

  if (!response.ok) {
    const error = await decodeError(response);
    if (response.status === 401 && sessionCheck) {
      error.sessionEnded = true;
      sessionEndedHandler();
    }
    throw error;
  }
  if (response.status === 204) return null;
  const type = response.headers.get('Content-Type') || '';
  try {
    return type.includes('json') ? await response.json() : await response.text();
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(response.status, 'bad_response', 'The server sent an answer that could not be read.');
  }
}

/** The path with `query` as its query string (undefined/null values left out): also for download links. */
export function withQuery(path, query) {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null) params.set(key, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}${path.includes('?') ? '&' : '?'}${qs}` : path;
}

async function decodeError(response) {
  let code = '';
  let message = '';
  let position = null;
  try {
    const data = await response.json();
    if (data && typeof data.error === 'object' && data.error) {
      code = String(data.error.code ?? '');
      message = String(data.error.message ?? '');
      if (Number.isInteger(data.error.position) && data.error.position > 0) position = data.error.position;
    }
  } catch {
    // Not JSON (a proxy page, an empty body): a sentence chosen by status follows.
  }
  const retryAfter = parseRetryAfter(response.headers.get('Retry-After'));
  const error = new ApiError(response.status, code, message || statusMessage(response.status), retryAfter);
  error.position = position;
  return error;
}

/** Retry-After is either seconds or an HTTP date; returns seconds or null. */
function parseRetryAfter(value) {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const when = Date.parse(value);
  return Number.isNaN(when) ? null : Math.max(0, Math.round((when - Date.now()) / 1000));
}

function statusMessage(status) {
  switch (status) {
    case 400: return 'The request was not accepted; check what was entered.';
    case 401: return 'You are not signed in.';
    case 403: return 'You are not allowed to do this.';
    case 404: return 'This does not exist, or you may not see it.';
    case 409: return 'This conflicts with a change made meanwhile; reload the page and try again.';
    case 413: return 'This is too large for the server to accept.';
    case 422: return 'The server cannot carry out this request.';
    case 429: return 'Too many attempts; try again later.';
    case 503: return 'The server is busy; try again in a moment.';
    default:
      return status >= 500
        ? `The server ran into a problem (HTTP ${status}). Try again; if it keeps happening, tell an administrator.`
        : `The request failed (HTTP ${status}).`;
  }
}

/** "Too many attempts; try again in N minutes", rounded up to whole minutes. */
export function tooManyAttempts(retryAfterSeconds) {
  if (retryAfterSeconds === null || retryAfterSeconds === undefined) return 'Too many attempts; try again later.';
  const minutes = Math.max(1, Math.ceil(retryAfterSeconds / 60));
  return `Too many attempts; try again in ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}.`;
}

/** A sentence for a person, whatever was thrown. */
export function describeError(err) {
  if (err instanceof ApiError) {
    if (err.status === 429) return tooManyAttempts(err.retryAfter);
    if (err.status === 503) return 'The server is busy; try again in a moment.';
    return err.message;
  }
  return 'Something went wrong on this page. Reload it and try again.';
}

/** Errors that need no banner: a cancelled request, or a 401 already shown as the login page. */
export function isQuiet(err) {
  return Boolean(err) && (err.name === 'AbortError' || err.sessionEnded === true);
}

/**
 * Polls GET /api/v1/jobs/{id} every `interval` ms until the job is done,
 * failed or cancelled, calling onUpdate(job) with every answer; resolves
 * with the final job. A busy server (503) is waited out.
 */
export async function pollJob(jobId, { signal, onUpdate, interval = 500 } = {}) {
  const path = apiPath('jobs', jobId);
  for (;;) {
    let job;
    try {
      job = await request('GET', path, { signal });
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 503)) throw err;
      await sleep(interval * 4, signal);
      continue;
    }
    if (onUpdate) onUpdate(job);
    if (FINAL_JOB_STATES.has(job.state)) return job;
    await sleep(interval, signal);
  }
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const aborted = () => new DOMException('The wait was cancelled.', 'AbortError');
    if (signal && signal.aborted) {
      reject(aborted());
      return;
    }
    const timer = setTimeout(() => {
      if (signal) signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    function onAbort() {
      clearTimeout(timer);
      reject(aborted());
    }
    if (signal) signal.addEventListener('abort', onAbort, { once: true });
  });
}
