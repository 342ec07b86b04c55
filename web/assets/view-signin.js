/** The signed-out page: what this is, the GitHub sign-in link, and why a sign-in failed. */
import { h, notice } from './dom.js';

const AUTH_ERRORS = {
  access_denied: 'You declined access on GitHub, so we could not sign you in. Sign in again and approve the request to continue.',
  github_login_failed: 'GitHub sign-in did not complete: the sign-in link expired or was opened in another browser. Please try again.',
  github_profile_failed: 'GitHub signed you in, but we could not read your GitHub profile. Please try again in a minute.',
};

export function renderSignIn({ meta, authError, message, kind = 'error' }) {
  const problems = [];
  if (authError) {
    // The server sends only the codes above. Anything else came from a link someone made: its text,
    // echoed, would be theirs on our page ("Your account is suspended, call …"), so it is not shown.
    const known = Object.hasOwn(AUTH_ERRORS, authError);
    problems.push(notice('error',
      h('strong', null, 'Sign-in failed. '),
      known ? AUTH_ERRORS[authError] : 'Something went wrong while signing in with GitHub. Please try again.',
      known ? h('span', { class: 'muted' }, ` (code: ${authError})`) : null));
  }
  if (message) problems.push(notice(kind, message));
  return h('section', { class: 'signin', 'data-testid': 'signin' },
    h('div', { class: 'card signin__card' },
      h('h1', { tabindex: '-1' }, 'Deploy your GitHub repositories to Render'),
      ...problems,
      h('p', { class: 'lead' }, 'Sign in with GitHub, connect your own Render API key, pick a repository and watch it go live.'),
      h('ul', { class: 'signin__points' },
        h('li', null, 'Your Render key stays encrypted on the server, in your session only.'),
        h('li', null, 'Every deploy runs with your own key, on your own Render account.'),
        h('li', null, 'Build and deploy progress streams live.')),
      h('a', { class: 'btn btn--primary btn--large', href: '/api/auth/github/login', 'data-testid': 'sign-in' },
        h('span', { class: 'btn__icon', 'aria-hidden': 'true' }, '⎇'), 'Sign in with GitHub'),
      meta?.sandbox ? h('p', { class: 'muted signin__note' }, 'Sandbox: the simulated GitHub signs you in at once.') : null));
}
