// Which watch events can change a namespace's compiled config, so the operator's own writes do not
// feed back into reconciles: a route (or policy: routeEvent() serves both, keyed by uid) update that
// leaves metadata.generation alone changed only its status (or labels), and a ConfigMap whose config text is what the operator last applied is its own
// write arriving back. Everything else (adds, deletes, spec changes, hand edits) still reconciles;
// the periodic resync bypasses this filter.
import { createHash } from 'node:crypto';

type Event = 'add' | 'update' | 'delete';

interface Meta {
  metadata?: { uid?: string; namespace?: string; generation?: number };
}

const digest = (text: string) => createHash('sha256').update(text).digest('base64');

export class ChangeFilter {
  private readonly generations = new Map<string, number | undefined>();
  private readonly applied = new Map<string, string>();

  routeEvent(event: Event, route: Meta): boolean {
    const uid = route.metadata?.uid;
    if (!uid) return true;
    if (event === 'delete') {
      this.generations.delete(uid);
      return true;
    }
    const generation = route.metadata?.generation;
    const unchanged = event === 'update' && this.generations.has(uid) && this.generations.get(uid) === generation;
    this.generations.set(uid, generation);
    return !unchanged;
  }

  /** The config text the operator is about to apply in a namespace. */
  applying(namespace: string, configText: string): void {
    this.applied.set(namespace, digest(configText));
  }

  configMapEvent(event: Event, configText: string | undefined, namespace: string): boolean {
    if (event === 'delete') {
      this.applied.delete(namespace);
      return true;
    }
    return configText === undefined || this.applied.get(namespace) !== digest(configText);
  }
}
