// The API client: same origin, signed in by the session cookie. Unsafe requests repeat
// the bs_csrf cookie in X-CSRF-Token (the API refuses them otherwise). A failure is an
// ApiError with the API's message and the fields it names.

export class ApiError extends Error {
  constructor(status, message, fields = [], body = {}) {
    super(message);
    this.status = status;
    this.fields = fields; // [{field, message}]
    this.body = body; // the API's error object (code, message, details)
  }
}

function csrf() {
  const found = document.cookie.split('; ').find((c) => c.startsWith('bs_csrf='));
  return found ? decodeURIComponent(found.slice('bs_csrf='.length)) : '';
}

export async function api(method, path, body, { query } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf();
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const url = query ? `${path}?${new URLSearchParams(query)}` : path;
  let answer;
  try {
    answer = await fetch(url, {
      method, headers, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, `cannot reach the API: ${err.message}`);
  }
  const text = await answer.text();
  const data = text ? JSON.parse(text) : null;
  if (!answer.ok) {
    const error = (data && data.error) || {};
    if (answer.status === 401 && !path.startsWith('/v1/auth/')) {
      window.dispatchEvent(new CustomEvent('signed-out'));
    }
    throw new ApiError(answer.status, error.message || `${answer.status} ${answer.statusText}`,
      error.fields || [], error);
  }
  return data;
}

export const get = (path, query) => api('GET', path, undefined, { query });
export const post = (path, body) => api('POST', path, body ?? {});
export const patch = (path, body) => api('PATCH', path, body);
export const put = (path, body) => api('PUT', path, body);
export const del = (path) => api('DELETE', path);
