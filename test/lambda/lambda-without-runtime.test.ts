import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('Lambda adapter outside the Lambda runtime', () => {
  const g = globalThis as { awslambda?: unknown };
  const saved = g.awslambda;
  beforeAll(() => {
    delete g.awslambda;
  });
  afterAll(() => {
    if (saved) g.awslambda = saved;
  });

  it('imports and builds a handler without the awslambda global, and says why it cannot run', async () => {
    const { createLambdaHandler } = await import('../../lambda/adapters/lambda');
    const handler = createLambdaHandler(async () => async () => ({ status: 200, headers: {} }));
    await expect(handler({} as never, {}, {} as never)).rejects.toThrow('awslambda runtime global missing');
  });

  it('builds a handler when the AWS SDK already made an empty awslambda global (lambda-invoke-store does)', async () => {
    // @aws-sdk/core imports @aws/lambda-invoke-store, which sets `globalThis.awslambda ||= {}` at load.
    g.awslambda = {};
    const { createLambdaHandler } = await import('../../lambda/adapters/lambda');
    const handler = createLambdaHandler(async () => async () => ({ status: 200, headers: {} }));
    await expect(handler({} as never, {}, {} as never)).rejects.toThrow('awslambda runtime global missing');
    delete g.awslambda;
  });
});
