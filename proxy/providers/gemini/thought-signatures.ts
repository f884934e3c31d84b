// Gemini 3 returns a `thoughtSignature` with each function call and refuses a replayed call without
// it. OpenAI's tool-call shape has no slot for it, so the sidecar keeps it, keyed by the tool-call
// id it issued, and puts it back when the app sends the call again in the next turn. Bounded: the
// oldest entries go first (a conversation replays its calls within minutes). A signature is the
// model's own: when failover sends the next turn to another model, it gets Google's stand-in instead.
export interface IssuedCall {
  /** The signature Gemini attached to the call, if any. */
  signature?: string;
  /** Gemini's own call id, when it sent one (echoed in functionCall/functionResponse). */
  upstreamId?: string;
  /** The backend (endpoint and model) that signed it: a signature is replayed to that one only. */
  issuer?: string;
}

export class ThoughtSignatureStore {
  private readonly entries = new Map<string, IssuedCall>();
  private readonly capacity: number;

  constructor(capacity = 20_000) {
    this.capacity = capacity;
  }

  remember(callId: string, call: IssuedCall): void {
    if (call.signature === undefined && call.upstreamId === undefined) return;
    this.entries.delete(callId);
    this.entries.set(callId, call);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  recall(callId: string): IssuedCall | undefined {
    return this.entries.get(callId);
  }
}
