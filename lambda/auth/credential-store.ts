/** An access key as the proxy stores it: the secret is needed to recompute SigV4 signatures. */
export interface AccessKey {
  accessKeyId: string;
  secretAccessKey: string;
  principal: string;
  /** Disabled/revoked keys are kept for audit but never authenticate. */
  status?: 'active' | 'revoked';
}

/** What a store holds under an id: a key, or 'inactive' for one kept that cannot sign (revoked). */
export type HeldKey = AccessKey | 'inactive';

/**
 * Where access keys come from (config, DynamoDB). `undefined` means "no such key"; a store
 * that cannot answer (network, throttling) must throw, so the caller fails closed.
 */
export interface CredentialStore {
  lookup(accessKeyId: string): Promise<AccessKey | undefined>;
}

/** Keys held in config.json: a map lookup, no I/O. */
export class StaticCredentialStore implements CredentialStore {
  private readonly byId: Map<string, AccessKey>;
  constructor(keys: readonly AccessKey[]) {
    this.byId = new Map(keys.map((k) => [k.accessKeyId, k]));
  }
  async lookup(accessKeyId: string): Promise<AccessKey | undefined> {
    const key = this.byId.get(accessKeyId);
    return key && key.status !== 'revoked' ? key : undefined;
  }
}
