/**
 * Changes an SDK command's HTTP request after it is serialized and before it is signed (a build
 * step): for what the command's input cannot say as we need it (checksum mode without the SDK's
 * body validation; a `response-expires` that is not a date).
 */
import type { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';

export interface SerializedRequest {
  headers?: Record<string, string>;
  query?: Record<string, string>;
}

export function editRequest<C extends GetObjectCommand | HeadObjectCommand>(
  command: C,
  name: string,
  edit: (request: SerializedRequest) => void,
): C {
  type Args = { request: unknown };
  const stack = command.middlewareStack as unknown as {
    add(
      middleware: (next: (args: Args) => Promise<unknown>) => (args: Args) => Promise<unknown>,
      options: { step: 'build'; name: string },
    ): void;
  };
  stack.add(
    (next) => (args) => {
      if (args.request) edit(args.request as SerializedRequest);
      return next(args);
    },
    { step: 'build', name },
  );
  return command;
}
