import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { Deployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';

import { envSchema } from '../../src/config/schema.ts';
import { PROJECT_ROOT } from '../helpers/run-cli.ts';

// deploy/k8s, linted: every object validates against the Kubernetes API schema
// (kubernetes-models; kubeconform and helm cannot be installed here), and what the
// objects say about Portcullis matches the app: its variable names, its listeners'
// ports, its probe paths, the one Secret every pod and the migration Job read. The
// schema check does not refuse unknown field names (kubeconform -strict would); the
// fields that matter are read by name below, so a misspelt one fails there.

const DIR = path.join(PROJECT_ROOT, 'deploy/k8s');
const MODELS = { ConfigMap, Secret, Service, Deployment, Job } as const;
type Kind = keyof typeof MODELS;
interface Manifest {
  kind: string;
  metadata: { name: string };
  [key: string]: unknown;
}

const files = readdirSync(DIR).filter((name) => name.endsWith('.yaml'));
const objects: Manifest[] = files
  .filter((name) => name !== 'kustomization.yaml')
  .flatMap((name) =>
    parseAllDocuments(readFileSync(path.join(DIR, name), 'utf8')).map((document) => {
      assert.deepEqual(document.errors, [], `${name} is valid YAML`);
      return document.toJS() as Manifest;
    }),
  );
const find = <T,>(kind: Kind, name?: string) => {
  const object = objects.find((item) => item.kind === kind && (name === undefined || item.metadata.name === name));
  assert.ok(object, `deploy/k8s has a ${kind}${name ? ` named ${name}` : ''}`);
  return object as unknown as T;
};

// The image's own settings (Dockerfile ENV): the ports the app listens on there.
const dockerfile = readFileSync(path.join(PROJECT_ROOT, 'Dockerfile'), 'utf8');
const imageEnv = (name: string) => new RegExp(`\\b${name}=(\\S+)`).exec(dockerfile)?.[1];

interface Container {
  name: string;
  command?: string[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  livenessProbe?: { httpGet: { path: string; port: string | number } };
  readinessProbe?: { httpGet: { path: string; port: string | number } };
  startupProbe?: { httpGet: { path: string; port: string | number } };
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; capabilities?: { drop?: string[] } };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  containers: Container[];
  initContainers?: Container[];
  volumes?: { name: string; emptyDir?: object }[];
}
const podOf = (kind: 'Deployment' | 'Job') => find<{ spec: { template: { spec: PodSpec } } }>(kind).spec.template.spec;

test('every manifest validates against the Kubernetes schema, and kustomization.yaml lists every file', () => {
  for (const object of objects) {
    const Model = MODELS[object.kind as Kind] as (new (data: unknown) => { validate(): void }) | undefined;
    assert.ok(Model, `${object.kind} ${object.metadata.name} is a kind this test knows`);
    assert.doesNotThrow(() => new Model(object).validate(), `${object.kind} ${object.metadata.name} validates`);
  }
  const kustomization = parseAllDocuments(readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8'))[0]?.toJS() as { resources: string[] };
  // Every file but the example Secret, whose placeholders must never be applied with the rest.
  assert.deepEqual([...kustomization.resources].sort(), files.filter((name) => name !== 'kustomization.yaml' && !name.endsWith('.example.yaml')).sort());
});

test('the schema check can fail: a value of the wrong type is refused', () => {
  const deployment = structuredClone(find<Record<string, unknown>>('Deployment'));
  const spec = deployment.spec as Record<string, unknown>;
  spec.replicas = 'two';
  assert.throws(() => new Deployment(deployment).validate());
});

test('ConfigMap and Secret set only variables Portcullis reads, and the Secret holds MASTER_SECRET and DATABASE_URL', () => {
  const known = new Set(Object.keys(envSchema.shape));
  const configMap = find<{ data: Record<string, string> }>('ConfigMap', 'portcullis');
  const secret = find<{ stringData: Record<string, string> }>('Secret', 'portcullis');
  for (const name of [...Object.keys(configMap.data), ...Object.keys(secret.stringData)]) {
    assert.ok(known.has(name), `${name} is a variable of src/config/schema.ts`);
  }
  assert.ok(secret.stringData.MASTER_SECRET, 'MASTER_SECRET is in the Secret');
  assert.match(secret.stringData.DATABASE_URL ?? '', /^postgresql:\/\//);
  assert.equal(configMap.data.MASTER_SECRET, undefined, 'no secret in the ConfigMap');
  assert.equal(configMap.data.DATABASE_URL, undefined, 'no password in the ConfigMap');
});

test('the server and the migration Job read the same ConfigMap and Secret, and the Job runs `portcullis migrate`', () => {
  for (const kind of ['Deployment', 'Job'] as const) {
    const [container] = podOf(kind).containers;
    assert.ok(container);
    assert.deepEqual(
      container.envFrom?.map((source) => source.configMapRef?.name ?? `secret:${source.secretRef?.name}`).sort(),
      ['portcullis', 'secret:portcullis'],
      `${kind} reads the ConfigMap and the Secret`,
    );
  }
  const [migrate] = podOf('Job').containers;
  const bin = (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin.portcullis;
  assert.deepEqual(migrate?.command?.slice(-2), [bin, 'migrate']);
  assert.ok(bin && existsSync(path.join(PROJECT_ROOT, bin)), `${bin} exists`);
});

test('probes ask the management listener for /healthz and /readyz; the Services point at the ports the app listens on', () => {
  const [server] = podOf('Deployment').containers;
  assert.ok(server);
  const portNumber = (port: string | number) => (typeof port === 'number' ? port : server.ports?.find((item) => item.name === port)?.containerPort);
  const managementPort = Number(imageEnv('MANAGEMENT_PORT') ?? envSchema.shape.MANAGEMENT_PORT.parse(undefined));
  const publicPort = Number(imageEnv('PORT') ?? envSchema.shape.PORT.parse(undefined));
  assert.equal(server.livenessProbe?.httpGet.path, '/healthz');
  assert.equal(server.readinessProbe?.httpGet.path, '/readyz');
  for (const probe of [server.livenessProbe, server.readinessProbe, server.startupProbe]) {
    assert.equal(portNumber(probe?.httpGet.port ?? ''), managementPort, 'probes use MANAGEMENT_PORT');
  }
  const services = objects.filter((object) => object.kind === 'Service') as unknown as { metadata: { name: string }; spec: { ports: { targetPort: string | number }[] } }[];
  const targets = services.flatMap((service) => service.spec.ports.map((port) => portNumber(port.targetPort)));
  assert.deepEqual(targets.sort(), [publicPort, managementPort].sort());
});

test('pods run as a non-root user on a read-only file system, with only /tmp and DATA_DIR writable', () => {
  for (const kind of ['Deployment', 'Job'] as const) {
    const pod = podOf(kind);
    assert.equal(pod.securityContext?.runAsNonRoot, true, `${kind}: runAsNonRoot`);
    assert.ok((pod.securityContext?.runAsUser ?? 0) > 0, `${kind}: a non-root uid`);
    for (const container of [...pod.containers, ...(pod.initContainers ?? [])]) {
      assert.equal(container.securityContext?.readOnlyRootFilesystem, true, `${kind}/${container.name}: read-only root`);
      assert.equal(container.securityContext?.allowPrivilegeEscalation, false, `${kind}/${container.name}: no privilege escalation`);
      assert.deepEqual(container.securityContext?.capabilities?.drop, ['ALL']);
      const writable = (container.volumeMounts ?? []).map((mount) => mount.mountPath);
      assert.ok(writable.includes('/tmp'), `${kind}/${container.name}: /tmp is writable (tsx's cache)`);
      for (const mount of container.volumeMounts ?? []) {
        assert.ok(pod.volumes?.some((volume) => volume.name === mount.name && volume.emptyDir), `${mount.name} is an emptyDir`);
      }
    }
  }
});
