// A model split across devices: each part runs a contiguous range of layers on its own device
// and holds those layers' weights and KV cache. The first part embeds the tokens; the last runs
// the output layer and the sampler. Per pass the hidden state crosses each boundary once: the
// part before copies it into a mappable buffer, the host reads it and writes it into the next
// part's hidden buffer, so the devices may sit on different adapters.
import type { AllocatedBytes } from './allocator';
import type { PassModel } from './generate';
import type { GgufModel, HistoryWrite, PassCounters, SampledPass } from './model';
import type { ModelHparams } from './types';

export class SplitModel implements PassModel {
  constructor(readonly parts: GgufModel[]) {
    if (parts.length < 2) throw new RangeError('a split model needs at least two parts');
    parts.forEach((part, i) => {
      const p = part.placement;
      const expectFirst = i === 0 ? 0 : parts[i - 1].placement.last + 1;
      if (p.first !== expectFirst || p.holdsEmbedding !== (i === 0)) {
        throw new RangeError(
          `part ${i} runs layers ${p.first}..${p.last}; parts must cover the layers in order, ` +
            'the first one embedding the tokens',
        );
      }
      if (p.holdsOutput !== (i === parts.length - 1)) {
        throw new RangeError(`only the last part runs the output layer (part ${i} does not)`);
      }
    });
  }

  private get last(): GgufModel {
    return this.parts[this.parts.length - 1];
  }

  get hparams(): ModelHparams {
    return this.parts[0].hparams;
  }

  get prefillChunk(): number {
    return this.parts[0].prefillChunk;
  }

  get options(): { contextTokens: number } {
    return this.last.options;
  }

  /** The id crosses devices through the host, so each decode pass waits for the previous id. */
  readonly feedsBack = false;

  /** A pass waits for each part's hidden state before it reaches the last device. */
  readonly submitsAtOnce = false;

  writeInputs(tokens: number[], position: number): void {
    for (const part of this.parts) part.writeInputs(tokens, position);
  }

  writeStep(ntok: number, position: number): void {
    for (const part of this.parts) part.writeStep(ntok, position);
  }

  writeSampling(words: ArrayBuffer, history: HistoryWrite | null): void {
    this.last.writeSampling(words, history);
  }

  /** Runs the parts before the last, handing the hidden state on; returns their counters. */
  private async crossParts(ntok: number): Promise<PassCounters> {
    const total: PassCounters = { dispatches: 0, weightBytes: 0, submissions: 0, uploadBytes: 0 };
    const bytes = ntok * this.hparams.embeddingLength * 4;
    for (let i = 0; i + 1 < this.parts.length; i++) {
      const part = this.parts[i];
      const hidden = part.scratch.get('hidden')!;
      const crossing = part.scratch.get('hidden.readback')!;
      addCounters(
        total,
        part.submitPass(ntok, null, (encoder) =>
          encoder.copyBufferToBuffer(hidden, 0, crossing, 0, bytes),
        ),
      );
      await crossing.mapAsync(GPUMapMode.READ, 0, bytes);
      const state = crossing.getMappedRange(0, bytes).slice(0);
      crossing.unmap();
      const next = this.parts[i + 1];
      next.device.queue.writeBuffer(next.scratch.get('hidden')!, 0, state);
    }
    return total;
  }

  async runPass(ntok: number): Promise<PassCounters> {
    const total = await this.crossParts(ntok);
    return addCounters(total, await this.last.runPass(ntok));
  }

  async submitSampling(
    ntok: number,
    options: { topLogits: boolean; greedy: boolean },
  ): Promise<SampledPass> {
    const total = await this.crossParts(ntok);
    const pass = await this.last.submitSampling(ntok, options);
    return { ...pass, counters: addCounters(total, pass.counters) };
  }

  readSampled(pass: SampledPass): Promise<Uint32Array> {
    return this.last.readSampled(pass);
  }

  readLogits(): Promise<Float32Array> {
    return this.last.readLogits();
  }

  /** Bytes allocated on each part's device, by category. */
  get allocated(): AllocatedBytes[] {
    return this.parts.map((p) => p.allocator.allocated);
  }

  destroy(): void {
    for (const part of this.parts) part.destroy();
  }
}

function addCounters(total: PassCounters, c: PassCounters): PassCounters {
  total.dispatches += c.dispatches;
  total.weightBytes += c.weightBytes;
  total.submissions += c.submissions;
  total.uploadBytes += c.uploadBytes;
  return total;
}
