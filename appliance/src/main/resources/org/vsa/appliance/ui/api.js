// The management API from the browser: the credential kept in sessionStorage (gone when the
// tab closes) and sent as HTTP Basic on every call; an error reply becomes an ApiError with the
// server's text.
const KEY = 'vsa.credential';
const BASE = '/api/v1';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function basic(user, password) {
  const bytes = new TextEncoder().encode(user + ':' + password);
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return 'Basic ' + btoa(s);
}

export function loggedIn() {
  return sessionStorage.getItem(KEY) !== null;
}

export function forget() {
  sessionStorage.removeItem(KEY);
}

/** Checks user and password against the API; keeps them only if they work. */
export async function login(user, password) {
  const auth = basic(user, password);
  await request('GET', '', undefined, auth);
  sessionStorage.setItem(KEY, auth);
}

/** Calls the API with the kept credential: the parsed JSON body, or null for 204. */
export function call(method, path, body) {
  const auth = sessionStorage.getItem(KEY);
  if (auth === null) return Promise.reject(new ApiError(401, 'not logged in'));
  return request(method, path, body, auth);
}

async function request(method, path, body, auth) {
  const init = {method, headers: {Authorization: auth, Accept: 'application/json', 'X-Requested-With': 'vsa-dashboard'}, cache: 'no-store'};
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(BASE + path, init);
  } catch (e) {
    throw new ApiError(0, 'the appliance cannot be reached: ' + e.message);
  }
  const text = await r.text();
  let json = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch (e) {
      json = null;
    }
  }
  if (!r.ok) {
    const why = json && json.error ? json.error : (r.status + ' ' + r.statusText);
    throw new ApiError(r.status, why);
  }
  return json;
}
