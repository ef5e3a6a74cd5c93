// Sign in with email and password, and the two-factor code when the account has one.

import { ApiError, post } from '../api.js';
import { field, form, h, showErrors } from '../ui.js';

export async function render(main, _params, ctx) {
  const code = field('Two-factor code', 'totp', {
    autocomplete: 'one-time-code', inputmode: 'numeric', maxlength: 32,
    hint: 'From your authenticator app, or a recovery code' });
  code.hidden = true;
  const next = ctx.query.get('next') || '/';
  const signIn = form({ class: 'card narrow', 'aria-label': 'Sign in' }, [
    field('Email', 'email', { type: 'email', autocomplete: 'username', required: true,
      maxlength: 254, autofocus: true }),
    field('Password', 'password', { type: 'password', autocomplete: 'current-password',
      required: true, maxlength: 1024 }),
    code,
  ], async (values, el) => {
    const body = { email: values.email, password: values.password };
    if (values.totp) body.totp = values.totp;
    try {
      await post('/v1/auth/login', body);
    } catch (err) {
      if (err instanceof ApiError && err.body.totp_required && code.hidden) {
        code.hidden = false;
        code.querySelector('input').focus();
        return;
      }
      if (err instanceof ApiError && err.status === 401) {
        showErrors(el, new ApiError(401, err.message, [{ field: values.totp ? 'totp' : 'password',
          message: err.message }]));
        return;
      }
      throw err;
    }
    location.hash = next.startsWith('/') ? next : '/';
  }, 'Sign in');
  main.append(h('h1', {}, 'Sign in'), signIn,
    h('p', { class: 'muted' }, 'Invited? Open the link in your invitation to sign up.'));
}
