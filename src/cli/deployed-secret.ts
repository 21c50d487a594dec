/**
 * Where a deployed stage's JWT secret lives: in the authorizer function's environment
 * (encrypted at rest by Lambda). The CLI reads it from there when it must mint tokens, and never
 * prints it.
 */
import type { CliContext } from './context.js';
import { ENV } from '../stack/definition.js';

export async function readDeployedSecret(ctx: CliContext): Promise<string | undefined> {
  const cfg = ctx.config();
  const { LambdaClient, GetFunctionConfigurationCommand } = await import('@aws-sdk/client-lambda');
  const lambda = new LambdaClient({
    region: cfg.region.value,
    ...(cfg.endpointUrl.value ? { endpoint: cfg.endpointUrl.value } : {}),
    credentials: await ctx.credentials(),
  });
  try {
    const res = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: cfg.names.fn('authorizer') }));
    return res.Environment?.Variables?.[ENV.jwtSecret];
  } catch (err) {
    if ((err as Error).name === 'ResourceNotFoundException') return undefined;
    throw err;
  } finally {
    lambda.destroy();
  }
}
