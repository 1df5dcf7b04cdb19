// The API client: PVE's ticket login, the CSRF token on every write, the {"data": ...} envelope.
//
// A session is {username, ticket, csrf}, kept in sessionStorage (one browser tab, gone when it
// closes). The ticket cookie (PVEAuthCookie, HttpOnly) is set and cleared by the server; the
// ticket itself is kept to renew the session (PVE: a valid ticket is accepted as the password).

const BASE = '/api2/json';
const KEY = 'sdnkit.session';
export const TICKET_LIFETIME = 2 * 3600 * 1000;
export const RENEW_EVERY = 15 * 60 * 1000; // as PVE's web UI

export class ApiError extends Error {
  constructor(status, message, errors) {
    super(message);
    this.status = status;
    this.errors = errors || {};
  }
}

let session = null;
try {
  session = JSON.parse(sessionStorage.getItem(KEY) || 'null');
} catch (e) {
  session = null;
}
let onUnauthorized = () => {};

export function getSession() {
  return session;
}

export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

/** End the session as a 401 does (the login form comes back with ``err``'s reason). */
export function expire(err) {
  onUnauthorized(err);
}

function keep(data) {
  session = { username: data.username, ticket: data.ticket, csrf: data.CSRFPreventionToken, cap: data.cap };
  sessionStorage.setItem(KEY, JSON.stringify(session));
  return session;
}

export function forget() {
  session = null;
  sessionStorage.removeItem(KEY);
}

/** When the ticket was issued (ms), from its readable time stamp (PVE:<user>:<hex time>::<sig>). */
export function ticketTime(ticket) {
  const parts = String(ticket || '').split('::')[0].split(':');
  return parts.length === 3 ? parseInt(parts[2], 16) * 1000 : 0;
}

/** Form encoding as PVE's clients send it: arrays as repeated keys, booleans as 1/0. */
export function encode(params) {
  const out = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null) continue;
    for (const item of Array.isArray(value) ? value : [value]) {
      out.append(key, typeof item === 'boolean' ? (item ? '1' : '0') : String(item));
    }
  }
  return out;
}

function messageOf(body, resp) {
  const text = body && typeof body.message === 'string' ? body.message.trim() : '';
  return text || `${resp.status} ${resp.statusText || 'request failed'}`;
}

export async function request(method, path, params) {
  const options = { method, headers: {}, credentials: 'same-origin' };
  let url = BASE + path;
  const form = encode(params);
  if (method === 'GET' || method === 'DELETE') {
    const qs = form.toString();
    if (qs) url += `?${qs}`;
  } else {
    options.body = form;
    options.headers['Content-Type'] = 'application/x-www-form-urlencoded';
  }
  if (method !== 'GET' && session) options.headers.CSRFPreventionToken = session.csrf;
  let resp;
  try {
    resp = await fetch(url, options);
  } catch (err) {
    throw new ApiError(0, `the server cannot be reached (${err.message})`);
  }
  let body = null;
  try {
    body = await resp.json();
  } catch (e) {
    body = null;
  }
  if (!resp.ok) {
    const err = new ApiError(resp.status, messageOf(body, resp), body && body.errors);
    if (resp.status === 401 && path !== '/access/ticket') onUnauthorized(err);
    throw err;
  }
  return body ? body.data : null;
}

export const get = (path, params) => request('GET', path, params);
export const post = (path, params) => request('POST', path, params);
export const put = (path, params) => request('PUT', path, params);
export const del = (path, params) => request('DELETE', path, params);

export async function login(username, password, realm) {
  const params = { username, password };
  if (realm && !username.includes('@')) params.realm = realm;
  return keep(await post('/access/ticket', params));
}

/** A new ticket for the current one (refused once it has expired). */
export async function renew() {
  if (!session) throw new ApiError(401, 'not logged in');
  return keep(await post('/access/ticket', { username: session.username, password: session.ticket }));
}

export async function logout() {
  try {
    await del('/access/ticket');
  } finally {
    forget();
  }
}

/** A path with its {placeholders} filled in (each value URL-encoded). */
export function fill(path, values) {
  return path.replace(/\{([^}]+)\}/g, (_, name) => encodeURIComponent(values[name] ?? ''));
}
