// Stop strings over streamed text, shared by the engines that stream text themselves: text that
// could be the start of a stop string is held back until the next piece decides it, and nothing
// from the first stop string on is ever emitted.

export class StopStringFilter {
  private readonly stops: string[];
  private readonly holdBack: number;
  private pending = '';

  constructor(stops: readonly string[] = []) {
    this.stops = stops.filter((s) => s.length > 0);
    this.holdBack = Math.max(0, ...this.stops.map((s) => s.length - 1));
  }

  /** The text that is safe to show after `piece`, and whether a stop string ended the reply. */
  push(piece: string): { text: string; stopped: boolean } {
    this.pending += piece;
    const hit = this.stops
      .map((s) => this.pending.indexOf(s))
      .filter((i) => i >= 0)
      .sort((a, b) => a - b)[0];
    if (hit !== undefined) {
      const text = this.pending.slice(0, hit);
      this.pending = '';
      return { text, stopped: true };
    }
    const emit = Math.max(0, this.pending.length - this.holdBack);
    const text = this.pending.slice(0, emit);
    this.pending = this.pending.slice(emit);
    return { text, stopped: false };
  }

  /** What was held back, once the reply ended without a stop string. */
  flush(): string {
    const rest = this.pending;
    this.pending = '';
    return rest;
  }
}
