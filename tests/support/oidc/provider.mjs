// A real OpenID Connect provider (node-oidc-provider) for the sign-in tests: one
// confidential client, PKCE, and the library's development login and consent forms,
// where any account name signs in as <name>@sso.test with a verified email.
import Provider from 'oidc-provider';

const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@sso.test`, email_verified: true };
      },
    };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['buildspace-test-only'] },
});
provider.listen(Number(port), '127.0.0.1', () => console.log(`listening ${port}`));
