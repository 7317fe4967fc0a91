/**
 * The core pipeline: authenticate → route → authorize → serve → observe, as one
 * transport-agnostic function. Every dependency is passed in.
 */
import type { Authorizer } from '../access/authorizer';
import type { Authenticator } from '../auth/authenticator';
import type { Observer, RequestEvent } from '../core/observer';
import { ANONYMOUS, type Principal } from '../core/principal';
import { newRequestId } from '../core/request-id';
import { S3Error } from '../core/s3-error';
import type { TableMap } from '../core/table-mount';
import type { Clock, Headers, ProxyHandler, ProxyRequest, ProxyResponse } from '../core/types';
import { headObject } from '../s3/get-object';
import { listObjectsResponse, parseListQuery } from '../s3/list-objects';
import { routeRequest, type S3Route } from '../s3/route';
import { getBucketLocation, headBucket, listBuckets } from '../s3/service-ops';
import { assertSafeKey, resolveKey, VIRTUAL_BUCKET } from '../s3/virtual-key';
import { listVirtual, touchesPrefix, type VisibleTable } from '../s3/virtual-listing';
import type { StorageBackend } from '../storage/storage-backend';
import { asS3Error, errorResponse } from './error-response';
import { type GetModeOptions, serveGet } from './get-mode';
import { observeBody } from './observe';

export interface AppOptions extends GetModeOptions {
  readOnly: boolean;
  /** Region reported by HeadBucket / GetBucketLocation. */
  region: string;
}

export interface AppDeps {
  options: AppOptions;
  tables: TableMap;
  storage: StorageBackend;
  authenticator: Authenticator;
  authorizer: Authorizer;
  clock: Clock;
  observer: Observer;
  requestId?: () => string;
}

/** What the serve stage needs to know about the request, filled in as stages run. */
interface RequestContext {
  requestId: string;
  started: number;
  principal: Principal;
  route?: S3Route;
  table?: string;
  key?: string;
  reason?: string;
  proxied: boolean;
}

export function createApp(deps: AppDeps): ProxyHandler {
  const nextId = deps.requestId ?? newRequestId;

  return async function handle(req: ProxyRequest): Promise<ProxyResponse> {
    const ctx: RequestContext = {
      requestId: nextId(),
      started: deps.clock.now(),
      principal: ANONYMOUS,
      proxied: false,
    };
    const base: Headers = {
      'x-amz-request-id': ctx.requestId,
      'x-amz-id-2': ctx.requestId,
      server: 'DeltaLakeS3Proxy',
    };
    let res: ProxyResponse;
    let error: S3Error | undefined;
    try {
      ctx.principal = await deps.authenticator.authenticate(req);
      ctx.route = routeRequest(req, { readOnly: deps.options.readOnly });
      res = await serve(deps, req, ctx, base);
    } catch (err) {
      error = asS3Error(err);
      ctx.reason = error.reason ?? (error.status >= 500 ? String(err) : undefined);
      const resource = ctx.key !== undefined ? `/${VIRTUAL_BUCKET}/${ctx.key}` : undefined;
      res = errorResponse(error, ctx.requestId, base, resource, req.method.toUpperCase() === 'HEAD');
    }
    const body = observeBody(res.body, (bytes, failure) =>
      deps.observer.record(eventOf(deps, req, ctx, res, error, bytes, failure)),
    );
    return { ...res, body };
  };
}

async function serve(
  deps: AppDeps,
  req: ProxyRequest,
  ctx: RequestContext,
  base: Headers,
): Promise<ProxyResponse> {
  const route = ctx.route!;
  switch (route.op) {
    case 'ListBuckets':
      return listBuckets(base);
    case 'HeadBucket':
      return headBucket(base, deps.options.region);
    case 'GetBucketLocation':
      return getBucketLocation(base, deps.options.region);
    case 'ListObjects':
    case 'ListObjectsV2': {
      const q = parseListQuery(route.query, route.op === 'ListObjectsV2' ? 2 : 1);
      if (q.prefix) assertSafeKey(q.prefix, 'prefix');
      const visible = await visibleTablesFor(deps, ctx.principal, q.prefix, req.signal);
      const listing =
        q.maxKeys === 0
          ? { entries: [], isTruncated: false }
          : await listVirtual(deps.storage, visible, { ...q, signal: req.signal });
      return listObjectsResponse(q, listing, base);
    }
    case 'GetObject':
    case 'HeadObject': {
      const key = route.key!;
      ctx.key = key;
      const resolved = resolveKey(deps.tables, key);
      if (resolved) ctx.table = resolved.mount.alias;
      // An unmapped alias, the alias itself and folder-like keys answer like a missing key.
      if (!resolved || resolved.relKey === '' || resolved.relKey.endsWith('/')) {
        throw new S3Error(
          'NoSuchKey',
          'The specified key does not exist.',
          { Key: key },
          'not a file of a mapped table',
        );
      }
      const decision = await deps.authorizer.authorizeObject(
        ctx.principal,
        resolved.mount,
        resolved.relKey,
        req.signal,
      );
      if (!decision.allow) {
        const code = decision.answer === 'not-found' ? 'NoSuchKey' : 'AccessDenied';
        throw new S3Error(code, decision.message, code === 'NoSuchKey' ? { Key: key } : {}, decision.reason);
      }
      const objectReq = {
        ref: { bucket: resolved.mount.bucket, key: resolved.backendKey },
        virtualKey: key,
        headers: req.headers,
        query: route.query,
        signal: req.signal,
      };
      if (route.op === 'HeadObject') return headObject(deps.storage, objectReq, base);
      const got = await serveGet(deps.storage, deps.options, deps.clock, req, objectReq, ctx.requestId, base);
      ctx.proxied = got.proxied;
      ctx.reason = got.reason;
      return got.response;
    }
  }
}

/** Tables relevant to a listing prefix that the principal may see, each with its filter. */
async function visibleTablesFor(
  deps: AppDeps,
  principal: Principal,
  prefix: string,
  signal?: AbortSignal,
): Promise<VisibleTable[]> {
  const candidates = deps.tables.mounts.filter((m) => touchesPrefix(m, prefix));
  const visible = await deps.authorizer.visibleTables(principal, candidates);
  const out: VisibleTable[] = [];
  for (const mount of visible) {
    const filter = await deps.authorizer.listingFilter(principal, mount, signal);
    if (filter) out.push({ mount, filter });
  }
  return out;
}

function eventOf(
  deps: AppDeps,
  req: ProxyRequest,
  ctx: RequestContext,
  res: ProxyResponse,
  error: S3Error | undefined,
  bytes: number,
  failure: unknown,
): RequestEvent {
  const status = res.status;
  return {
    time: new Date(ctx.started).toISOString(),
    requestId: ctx.requestId,
    principal: ctx.principal.name,
    accessKeyId: ctx.principal.accessKeyId,
    method: req.method.slice(0, 16),
    userAgent: req.headers['user-agent']?.slice(0, 160),
    op: ctx.route?.op ?? 'Unknown',
    table: ctx.table,
    key: ctx.key,
    status,
    code: error?.code,
    reason: failure ? `body stream failed: ${(failure as Error)?.name ?? 'error'}` : ctx.reason,
    decision: error ? (status >= 500 ? 'error' : 'deny') : failure ? 'error' : 'allow',
    bytes,
    durationMs: deps.clock.now() - ctx.started,
    proxied: ctx.proxied,
    redirected: status === 307,
  };
}
