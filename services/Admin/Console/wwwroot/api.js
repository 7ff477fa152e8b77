// The admin JSON twin as the console uses it: same origin, the session cookie (HttpOnly, sent by the browser), and
// for every change the CSRF header copied from the readable wc_console_csrf cookie (docs/console.md, "Security").
// The page never sees the token.

export const base = '/admin/webhook-connect';

/** An answer other than 2xx: `status` is the HTTP status, `code` the gRPC name from the twin's error body. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function csrf() {
  const entry = document.cookie.split(';').map(c => c.trim()).find(c => c.startsWith('wc_console_csrf='));
  return entry ? decodeURIComponent(entry.slice('wc_console_csrf='.length)) : '';
}

/** Sends a request to the twin (or another same-origin path) and returns its JSON body (null for 204). */
export async function call(method, path, body, { signal } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') {
    headers['X-CSRF-Token'] = csrf();
  }
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
  }
  const response = await fetch(path.startsWith('/') ? path : `${base}/${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
    signal,
  });
  if (response.status === 204) {
    return null;
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) {
    const error = json && json.error ? json.error : {};
    throw new ApiError(response.status, error.code || String(response.status), error.message || `HTTP ${response.status}`);
  }
  return json;
}

export const get = (path, options) => call('GET', path, undefined, options);
export const post = (path, body) => call('POST', path, body ?? {});

/** Path segment, encoded (channel names and ids are plain, but never trust that). */
export const seg = value => encodeURIComponent(value);

/**
 * Follows an NDJSON stream (the twin's TailChannel) with fetch streaming, calling onEvent for each line's object
 * until the stream ends or `signal` aborts. Resolves when the stream ends; rejects with ApiError when refused.
 */
export async function follow(path, onEvent, signal) {
  const response = await fetch(`${base}/${path}`, {
    headers: { Accept: 'application/x-ndjson' },
    credentials: 'same-origin',
    cache: 'no-store',
    signal,
  });
  if (!response.ok) {
    let error = {};
    try {
      error = (await response.json()).error || {};
    } catch {
      error = {};
    }
    throw new ApiError(response.status, error.code || String(response.status), error.message || `HTTP ${response.status}`);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) {
      break;
    }
    pending += value;
    let newline;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line) {
        onEvent(JSON.parse(line));
      }
    }
  }
  if (pending.trim()) {
    onEvent(JSON.parse(pending));
  }
}

/** Protobuf JSON bytes (base64) as text: UTF-8, or Latin-1 when the bytes are not UTF-8 (as admin.proto says). */
export function bytesText(base64) {
  if (!base64) {
    return '';
  }
  const binary = atob(base64);
  const bytes = Uint8Array.from(binary, c => c.charCodeAt(0));
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return binary;
  }
}
