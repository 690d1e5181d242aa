import type { KeyView } from './key-rotation.ts';

/** What is shown of a key, wherever it is shown (`portcullis keys list --json`, the admin API): its standing, never its material. */
export function keyView(key: KeyView) {
  return {
    kid: key.kid,
    alg: key.alg ?? null,
    use: key.use,
    status: key.state,
    createdAt: key.createdAt.toISOString(),
    signsFrom: key.signsFrom.toISOString(),
    stoppedSigningAt: key.stoppedSigningAt?.toISOString() ?? null,
    retirableAt: key.retirableAt?.toISOString() ?? null,
    retiredAt: key.retiredAt?.toISOString() ?? null,
  };
}
