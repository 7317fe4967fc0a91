/**
 * PLACEHOLDER: the real bootstrap (config → storage, stores, caches in module scope → core)
 * is written on another branch and replaces this file at merge.
 */
import type { ProxyHandler } from './core/types';

export async function createProxyFromEnv(): Promise<ProxyHandler> {
  throw new Error('not wired yet');
}
