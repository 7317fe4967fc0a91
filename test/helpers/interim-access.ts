// Stand-ins used only until the SigV4 and Delta authorizer branches are merged.
import type { Authorizer } from '../../lambda/access/authorizer';
import type { Authenticator } from '../../lambda/auth/authenticator';
import { ANONYMOUS } from '../../lambda/core/principal';

export const anonymousAuthenticator: Authenticator = { authenticate: async () => ANONYMOUS };

export const allowAllAuthorizer: Authorizer = {
  visibleTables: async (_p, mounts) => mounts,
  authorizeObject: async () => ({ allow: true, kind: 'data' }),
  listingFilter: async () => ({ allowObject: () => true, allowPrefix: () => true }),
};
