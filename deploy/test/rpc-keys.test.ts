// The chart's RPC credentials: the shared token by default; named keys the services accept (rpc.apiKeys); each
// component calling with a key of its own (rpc.callerKeys); and the shared token refused (rpc.sharedTokenDisabled).
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { renderChart } from './helm.js';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
interface Workload {
  kind: string;
  metadata: { name: string };
  spec: {
    template: {
      spec: {
        containers: { env?: EnvVar[]; volumeMounts?: { name: string; mountPath: string }[] }[];
        volumes?: { name: string; secret?: { secretName: string } }[];
      };
    };
  };
}

function deployments(set: string[]): Map<string, Workload> {
  const docs = parseAllDocuments(renderChart({ set })).map((d) => d.toJSON() as Workload | null);
  return new Map(
    docs.filter((d): d is Workload => d?.kind === 'Deployment').map((d) => [d.metadata.name, d] as const),
  );
}
const envOf = (w: Workload) =>
  new Map((w.spec.template.spec.containers[0]!.env ?? []).map((e) => [e.name, e]));

describe('RPC credentials in the chart', () => {
  it('uses the shared token by default, without keys', () => {
    for (const [name, w] of deployments([])) {
      const env = envOf(w);
      expect(env.get('RPC_TOKEN')?.valueFrom?.secretKeyRef?.key, name).toBe('RPC_TOKEN');
      expect(env.has('RPC_API_KEYS_FILE'), name).toBe(false);
      expect(env.has('RPC_TOKEN_DISABLED'), name).toBe(false);
    }
  });

  it('refuses the shared token with sharedTokenDisabled: keys mounted, each caller presents its own key', () => {
    // The admin (deployment <release>-web) calls with `admin-key`; each service with `<service>-key`.
    const all = deployments([
      'rpc.apiKeys.existingSecret=lucy-api-keys',
      'rpc.callerKeys=true',
      'rpc.sharedTokenDisabled=true',
    ]);
    expect(all.size).toBeGreaterThanOrEqual(6);
    for (const [name, w] of all) {
      const env = envOf(w);
      const admin = name.endsWith('-web');
      const component = admin ? 'admin' : name.replace(/^lucy-(lucy-tasks-)?/, '');
      expect(env.get('RPC_TOKEN')?.valueFrom?.secretKeyRef?.key, name).toBe(`${component}-key`);
      if (admin) {
        expect(env.has('RPC_TOKEN_DISABLED'), name).toBe(false);
        continue;
      }
      expect(env.get('RPC_TOKEN_DISABLED')?.value, name).toBe('1');
      expect(env.get('RPC_API_KEYS_FILE')?.value, name).toBe('/etc/lucy/api-keys/api-keys.json');
      const pod = w.spec.template.spec;
      expect(pod.volumes?.find((v) => v.name === 'api-keys')?.secret?.secretName, name).toBe('lucy-api-keys');
      expect(pod.containers[0]!.volumeMounts?.find((m) => m.name === 'api-keys')?.mountPath, name).toBe(
        '/etc/lucy/api-keys',
      );
    }
  });

  it('does not render a shared token refused without keys to accept or keys to call with', () => {
    expect(() => renderChart({ set: ['rpc.sharedTokenDisabled=true', 'rpc.callerKeys=true'] })).toThrow(
      /rpc.sharedTokenDisabled needs rpc.apiKeys.existingSecret/,
    );
    expect(() =>
      renderChart({ set: ['rpc.sharedTokenDisabled=true', 'rpc.apiKeys.existingSecret=lucy-api-keys'] }),
    ).toThrow(/rpc.sharedTokenDisabled needs rpc.callerKeys/);
  });
});
