// The reference OpenID Provider for `make bench`: oidc-provider 9.x in one node process,
// in-memory adapter (its default), one confidential client (client_secret_basic,
// client_credentials) and one resource indicator whose access tokens are RS256 JWTs.
// Configuration comes from the environment (see bench/harness.py):
//   REF_PORT, REF_CLIENT_ID, REF_CLIENT_SECRET, REF_RESOURCE, REF_SCOPE.
import { generateKeyPairSync } from 'node:crypto';

import Provider from 'oidc-provider';

const port = Number(process.env.REF_PORT || 3000);
const issuer = `http://127.0.0.1:${port}`;
const resource = process.env.REF_RESOURCE || 'https://api.bench.example';
const scope = process.env.REF_SCOPE || 'api:read';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-rs256', alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: process.env.REF_CLIENT_ID || 'bench-client',
      client_secret: process.env.REF_CLIENT_SECRET || 'bench-secret-0123456789abcdef',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope,
    },
  ],
  jwks: { keys: [signingKey] },
  scopes: [scope],
  ttl: { ClientCredentials: 300 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== resource) {
          throw new Error(`unknown resource ${indicator}`);
        }
        return {
          scope,
          audience: resource,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
});
provider.proxy = false;

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`reference provider listening on ${issuer}`);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
