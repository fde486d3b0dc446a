// Validates a rendered object against the Kubernetes OpenAPI schemas shipped
// by kubernetes-models (strict: unknown fields and wrong types are errors).
import assert from 'node:assert/strict';
import * as apps from 'kubernetes-models/apps/v1';
import * as core from 'kubernetes-models/v1';

const GROUPS = { v1: core, 'apps/v1': apps };

export function validate(object) {
  const where = `${object.kind} ${object.metadata?.name}`;
  if (object.apiVersion === 'monitoring.coreos.com/v1' && object.kind === 'ServiceMonitor') {
    // CRD not in kubernetes-models: check the fields the operator requires.
    assert.ok(
      object.metadata.name && Array.isArray(object.spec.endpoints) && object.spec.selector,
      where,
    );
    return;
  }
  const group = GROUPS[object.apiVersion];
  assert.ok(group, `${where}: no schema for apiVersion ${object.apiVersion}`);
  const Model = group[object.kind];
  assert.ok(Model, `${where}: no schema for kind ${object.kind}`);
  try {
    new Model(object).validate();
  } catch (error) {
    throw new Error(`${where}: ${error.message}`);
  }
}
