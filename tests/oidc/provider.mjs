// A real OpenID Provider for the tests: oidc-provider (an OpenID Certified implementation)
// on loopback, with one confidential client (the console) and the accounts given in
// OIDC_ACCOUNTS ({"kari": {"groups": [...]}}). Its development login form takes any of those
// account names. Started by tests/test_sso.py: node provider.mjs PORT CLIENT_ID SECRET REDIRECT
import Provider from "oidc-provider";

const [port, clientId, clientSecret, redirectUri, logoutUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const accounts = JSON.parse(process.env.OIDC_ACCOUNTS || "{}");

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      post_logout_redirect_uris: [logoutUri],
      response_types: ["code"],
      grant_types: ["authorization_code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  pkce: { required: () => true },
  scopes: ["openid", "profile", "email", "groups"],
  claims: {
    openid: ["sub"],
    profile: ["name", "preferred_username"],
    email: ["email"],
    groups: ["groups"],
  },
  conformIdTokenClaims: false, // the claims asked for by scope go into the ID token too
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ["oidc-test-cookie-key"] },
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          name: account.name || id,
          preferred_username: id,
          email: `${id}@kommune.example`,
          groups: account.groups || [],
        };
      },
    };
  },
});

provider.listen(Number(port), "127.0.0.1", () => {
  console.log(`oidc-provider klar på ${issuer}`);
});
