/**
 * Checks and facts: what each layer's schemas checked, and the facts layers state (`machine`), which
 * must agree within a layer and with the nearest layer around it that states the same fact.
 */
import { PipelineError } from '../core/errors.js';
import type { Limits } from '../core/limits.js';
import type { Detection } from '../detect/detect.js';
import { formatValue } from '../expr/format.js';
import { rootScope } from '../expr/scope.js';
import { isInt } from '../expr/values.js';
import type { Analysis, CheckReport, LayerReport } from './analysis.js';
import { evalExpr } from './regions.js';

/** The facts every matching schema states about this layer; schemas of one layer must agree. */
export function layerFacts(detections: readonly Detection[], size: number, limits: Limits, layer: number): Record<string, { value: unknown; schema: string }> {
  const out: Record<string, { value: unknown; schema: string }> = {};
  for (const d of detections) {
    if (!d.schema.facts.size) continue;
    const scope = rootScope(d.result.value, size);
    for (const [name, e] of d.schema.facts) {
      const value = evalExpr(e, scope, limits, d.schema.id, layer);
      if (value === null) continue;
      const prior = out[name];
      if (prior && !sameValue(prior.value, value)) {
        throw new PipelineError('inconsistent-facts', `${prior.schema} and ${d.schema.id} disagree on ${name} for the same layer`, { layer, schema: d.schema.id, path: `facts.${name}` }, {
          expected: `${formatValue(prior.value, 'hex')} (from ${prior.schema})`,
          found: formatValue(value, 'hex'),
        });
      }
      out[name] ??= { value, schema: d.schema.id };
    }
  }
  return out;
}

/** Each fact a layer states must equal what the nearest layer around it stating that fact said. */
export function checkFacts(a: Analysis, layer: LayerReport): void {
  for (const [name, fact] of Object.entries(layer.facts)) {
    let outer: LayerReport | undefined;
    for (let p = layer.parent; p !== null && !outer; p = a.layers[p]!.parent) {
      if (name in a.layers[p]!.facts) outer = a.layers[p];
    }
    if (!outer) continue;
    const said = outer.facts[name]!;
    const id = `facts:${name}`;
    if (sameValue(said.value, fact.value)) {
      a.checks.push({ layer: layer.index, id, status: 'ok', message: `${name} ${formatValue(fact.value, 'hex')}, as layer ${outer.index} says` });
      continue;
    }
    const message = `layer ${outer.index} (${said.schema}) says ${name} ${formatValue(said.value, 'hex')}, but layer ${layer.index} (${fact.schema}) is for ${formatValue(fact.value, 'hex')}`;
    a.checks.push({ layer: layer.index, id, status: 'error', message });
    throw new PipelineError('inconsistent-layers', message, { layer: layer.index, schema: fact.schema, path: `facts.${name}` }, {
      expected: `${name} ${formatValue(said.value, 'hex')} (from layer ${outer.index}, ${said.schema})`,
      found: formatValue(fact.value, 'hex'),
    });
  }
}

/**
 * A check's name: its id at the top level; inside a nested struct, the struct's path and the id
 * (`entries[3].name_size`); a field's constant is named by the field's own path.
 */
function checkName(path: string, id: string): string {
  if (path === '') return id;
  return path === id || path.endsWith(`.${id}`) || path.endsWith(id) ? path : `${path}.${id}`;
}

/** The checks the layer's schemas ran while parsing (failed error-level checks have already thrown). */
export function schemaChecks(detections: readonly Detection[], layer: number): CheckReport[] {
  const out: CheckReport[] = [];
  for (const d of detections) {
    for (const c of d.result.checks) out.push({ layer, id: `${d.schema.id}:${checkName(c.path, c.id)}`, status: c.ok ? 'ok' : c.severity, message: c.message || 'ok' });
  }
  return out;
}

function sameValue(x: unknown, y: unknown): boolean {
  if (isInt(x) && isInt(y)) return BigInt(x) === BigInt(y);
  return x === y;
}
