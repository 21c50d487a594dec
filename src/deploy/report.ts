/** How deploy and destroy describe themselves to a person: progress lines, the plan, the summary. */
import type { DeployResult } from './deploy.js';
import type { DestroyResult } from './destroy.js';
import type { PlanItem } from './types.js';

type Paint = (s: string) => string;
type Colors = { dim: Paint; green: Paint; yellow: Paint; red: Paint };

const label = (kind: PlanItem['kind']) => kind.replace(/-/g, ' ');
const PAST: Record<PlanItem['action'], string> = { create: 'created', update: 'updated', unchanged: 'unchanged', delete: 'deleted' };

/** A clock for progress lines: `[  1.2s] ` since `start`, so a slow step shows as one. */
export function elapsed(start: number, c: Pick<Colors, 'dim'>): () => string {
  return () => c.dim(`[${((Date.now() - start) / 1000).toFixed(1).padStart(5)}s]`) + ' ';
}

export function progressLine(item: PlanItem, c: Colors): string {
  const mark = item.action === 'unchanged' ? c.dim('·') : c.green('✓');
  const detail = item.changes.length ? c.dim(` (${item.changes.join('; ')})`) : '';
  return `${mark} ${label(item.kind)} ${item.resource} ${PAST[item.action]}${detail}`;
}

export function planText(result: DeployResult, c: Colors): string {
  const sign = { create: c.green('+'), update: c.yellow('~'), unchanged: c.dim('='), delete: c.red('-') };
  const kindWidth = Math.max(...result.plan.map((i) => label(i.kind).length));
  const nameWidth = Math.max(...result.plan.map((i) => i.resource.length));
  const lines = result.plan.map(
    (i) =>
      `  ${sign[i.action]} ${label(i.kind).padEnd(kindWidth)}  ${i.resource.padEnd(nameWidth)}  ${i.action}${i.changes.length ? `: ${i.changes.join('; ')}` : ''}`,
  );
  const s = result.summary;
  return [
    `Plan for stage ${result.stage} in ${result.region} (dry run: nothing was changed):`,
    ...lines,
    `${s.create} to create, ${s.update} to update, ${s.unchanged} unchanged.`,
  ].join('\n');
}

export function deployText(result: DeployResult, recordFile: string): string {
  const s = result.summary;
  const o = result.outputs!;
  const head = result.changed
    ? `Deployed stage ${result.stage} to ${result.region}: ${s.create} created, ${s.update} updated, ${s.unchanged} unchanged.`
    : `Stage ${result.stage} in ${result.region} is up to date: nothing changed, no changes were made.`;
  return [
    head,
    `WebSocket URL:        ${o.websocketUrl}`,
    `Management endpoint:  ${o.managementEndpoint}`,
    `Queue URL:            ${o.queueUrl}`,
    `Dead-letter queue:    ${o.dlqUrl}`,
    `Signing keys:         ${o.secretLocation}`,
    `Recorded in ${recordFile}; other commands find the stage with --stage ${result.stage}.`,
  ].join('\n');
}

export function destroyText(result: DestroyResult): string {
  const lines = [
    result.deleted.length
      ? `Destroyed stage ${result.stage} in ${result.region}: ${result.deleted.length} resources deleted.`
      : `Nothing to destroy: stage ${result.stage} has no hermes resources in ${result.region}.`,
  ];
  for (const s of result.skipped) lines.push(`Left alone: ${label(s.kind)} ${s.resource} (${s.changes.join('; ')}).`);
  if (result.keptLogs) {
    lines.push(`CloudWatch log groups /aws/lambda/hermes-${result.stage}-* are kept (--keep-logs); \`hermes destroy --stage ${result.stage} --yes\` again without it deletes them.`);
  }
  return lines.join('\n');
}
