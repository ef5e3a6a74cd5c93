// Sign up with an invitation: the link a team's admin copies from the team page
// (#/signup?invitation=bsi_…&email=…). The API makes the account and joins the team; the
// browser then signs in for its session cookie and goes to the projects.

import { ApiError, post } from '../api.js';
import { field, form, h, toast } from '../ui.js';
import { go } from '../app.js';

// The sign-up answers a session token for API clients; the browser has no use for it
// (its session is the cookie sign-in sets), so it is revoked rather than left live.
function drop(token) {
  fetch('/v1/auth/logout', { method: 'POST', credentials: 'omit',
    headers: { Authorization: `Bearer ${token}` } }).catch(() => {});
}

async function signIn(email, password) {
  try {
    await post('/v1/auth/login', { email, password });
  } catch (err) {
    if (!(err instanceof ApiError && err.body.totp_required)) throw err;
    toast('You joined the team. Sign in with your two-factor code.');
    go('/login?next=/');
    return false;
  }
  return true;
}

export async function render(main, _params, ctx) {
  const invitation = ctx.query.get('invitation') || '';
  const email = ctx.query.get('email') || '';
  const signUp = form({ class: 'card narrow', 'aria-label': 'Sign up' }, [
    field('Email', 'email', { type: 'email', autocomplete: 'username', required: true,
      maxlength: 254, value: email, autofocus: !email }),
    field('Password', 'password', { type: 'password', autocomplete: 'new-password',
      required: true, minlength: 10, maxlength: 1024, autofocus: Boolean(email),
      hint: 'At least 10 characters. Have an account already? Its password joins you to '
        + 'the team.' }),
    invitation ? null : field('Invitation', 'invitation', { required: true, maxlength: 200,
      autocomplete: 'off', hint: 'The code from your invitation (bsi_…)' }),
  ], async (values) => {
    const body = { email: values.email, password: values.password,
      invitation: invitation || values.invitation || undefined };
    const made = await post('/v1/auth/signup', body);
    drop(made.token);
    if (await signIn(values.email, values.password)) go('/');
  }, 'Sign up');
  main.append(h('h1', {}, 'Sign up'),
    h('p', {}, 'You were invited to a team on Buildspace. Choose a password to join.'),
    signUp,
    h('p', { class: 'muted' }, 'Have an account and no invitation? ',
      h('a', { href: '#/login' }, 'Sign in')));
}
