// Decode speed from bytes: each token reads every layer's weights once (resident or just
// uploaded into a slot), the output layer, one embedding row and the KV cache so far; streamed
// layers must also cross from host memory. Decode is memory-bound, so time = bytes / rate.
import type { ModelAccount, Placement } from './accounting.ts';
import type { DeviceDescription, SpeedPrediction } from './types.ts';

export interface DeviceRun {
  device: DeviceDescription;
  placement: Placement;
  hostWeights: number;
}

export function predictSpeed(
  account: ModelAccount,
  runs: DeviceRun[],
  decodePosition: number,
): SpeedPrediction {
  const h = account.header.hparams;
  const kvPerLayerToken = h.headCountKv * (h.keyLength + h.valueLength) * 2;
  const embeddingRow = account.embeddingBytes / h.vocabSize;
  let seconds = 0;
  let computeSeconds = 0;
  let uploadSeconds = 0;
  let overheadSeconds = 0;
  let weightBytes = 0;
  let streamed = 0;
  for (const { device, placement, hostWeights } of runs) {
    let bytes = 0;
    for (let layer = placement.first; layer <= placement.last; layer++) {
      bytes += account.layerBytes[layer];
    }
    if (placement.holdsOutput) {
      bytes += account.headBytes + (account.tied ? account.embeddingBytes : 0);
    }
    if (placement.holdsEmbedding) bytes += embeddingRow;
    weightBytes += bytes;
    bytes += (placement.last - placement.first + 1) * kvPerLayerToken * decodePosition;
    const compute = bytes / device.computeRate.value;
    const upload = hostWeights / device.uploadBandwidth.value;
    computeSeconds += compute;
    uploadSeconds += upload;
    streamed += hostWeights;
    const overhead = device.tokenOverhead?.value ?? 0;
    overheadSeconds += overhead;
    seconds +=
      overhead + (device.uploadOverlapsCompute ? Math.max(compute, upload) : compute + upload);
  }
  return {
    decodeTokensPerSecond: seconds > 0 ? 1 / seconds : 0,
    bound: uploadSeconds > computeSeconds ? 'upload' : 'compute',
    computeSeconds,
    uploadSeconds,
    overheadSeconds,
    weightBytesPerToken: Math.round(weightBytes),
    streamedBytesPerToken: streamed,
  };
}
