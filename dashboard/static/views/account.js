// The signed-in user's account: their email, and two-factor sign-in: set up with an
// authenticator app (the secret key to type in, or its otpauth:// URI), turned on with a
// code from the app (the recovery codes are shown then, once), and turned off with a code.

import { post } from '../api.js';
import { copyable, field, form, h, heading, section, toast } from '../ui.js';

const CODE = { autocomplete: 'one-time-code', inputmode: 'numeric', required: true,
  maxlength: 32, spellcheck: 'false' };

// Groups of four, as authenticator apps show and accept them.
function grouped(secret) {
  return secret.match(/.{1,4}/g).join(' ');
}

function turnedOff(box) {
  return [
    h('p', {}, 'Two-factor sign-in is ', h('strong', {}, 'off'), '. With it on, signing in ',
      'asks for a code from an authenticator app on your phone as well as your password.'),
    h('button', { type: 'button', onclick: async (event) => {
      event.target.disabled = true;
      try {
        box.replaceChildren(...enrolment(box, await post('/v1/auth/totp')));
        box.querySelector('input[name=code]').focus();
      } catch (err) {
        event.target.disabled = false;
        toast(err.message, true);
      }
    } }, 'Set up two-factor sign-in'),
  ];
}

function enrolment(box, setup) {
  const confirm = form({ class: 'card narrow', 'aria-label': 'Turn on two-factor sign-in' }, [
    field('Code from the app', 'code', { ...CODE, hint: 'The six digits it shows now' }),
  ], async (values) => {
    const { recovery_codes: codes } = await post('/v1/auth/totp/confirm', { code: values.code });
    box.replaceChildren(...recovery(codes), ...turnedOn(box));
    box.querySelector('.recovery').focus();
  }, 'Turn on');
  return [
    h('ol', { class: 'steps' },
      h('li', {}, 'In your authenticator app, add an account with this key:',
        h('p', { class: 'secret' }, h('code', {}, grouped(setup.secret)))),
      h('li', {}, 'Or, on this device, open the setup link with the app:',
        copyable('Setup link', setup.otpauth_uri, { name: 'otpauth_uri' })),
      h('li', {}, 'Type the code the app shows to turn two-factor sign-in on.')),
    confirm,
    h('button', { type: 'button', class: 'secondary',
      onclick: () => box.replaceChildren(...turnedOff(box)) }, 'Cancel'),
  ];
}

function recovery(codes) {
  return [h('div', { class: 'card recovery notice', tabindex: '-1', role: 'group',
    'aria-label': 'Recovery codes' },
  h('h3', {}, 'Your recovery codes'),
  h('p', {}, h('strong', {}, 'Save these now: they are not shown again. '),
    'Each signs you in once if you lose your phone.'),
  h('ul', { class: 'codes' }, codes.map((c) => h('li', {}, h('code', {}, c)))))];
}

function turnedOn(box) {
  const off = form({ class: 'card narrow', 'aria-label': 'Turn off two-factor sign-in' }, [
    field('Code from the app, or a recovery code', 'code', CODE),
  ], async (values) => {
    await post('/v1/auth/totp/disable', { code: values.code });
    toast('Two-factor sign-in is off');
    box.replaceChildren(...turnedOff(box));
  }, 'Turn off');
  return [
    h('p', {}, 'Two-factor sign-in is ', h('strong', {}, 'on'),
      ': signing in asks for a code from your authenticator app.'),
    h('h3', {}, 'Turn it off'), off,
  ];
}

export async function render(main, _params, ctx) {
  const box = h('div', { class: 'two-factor' });
  box.append(...(ctx.me.totp_enabled ? turnedOn(box) : turnedOff(box)));
  const team = ctx.teams[0];
  main.append(heading('Account'),
    h('dl', { class: 'facts' }, h('dt', {}, 'Email'), h('dd', {}, ctx.me.email)),
    section('Two-factor sign-in', box),
    section('Access tokens', h('p', {}, 'Personal access tokens for the API and the CLI are ',
      'made and revoked on ', team ? h('a', { href: `#/teams/${team.id}` }, 'your team page')
        : 'your team page', '.')));
}
