// Layer ranges for one or two devices: contiguous, covering every layer, in order of preference.
// Two devices share the layers in proportion to their usable budgets, weighted by measured speed
// when both speeds were measured; ranges pinned by hand are taken as given.
import type { DeviceDescription } from './types.ts';

export type LayerRange = [number, number];

function measured(device: DeviceDescription): boolean {
  return device.computeRate.source === 'measured' || device.computeRate.source === 'calibration';
}

export function checkPinned(pinned: LayerRange[], layers: number, devices: number): void {
  if (pinned.length !== devices) {
    throw new RangeError(
      `${pinned.length} pinned layer ranges for ${devices} device(s): give one [first, last] range per device.`,
    );
  }
  let next = 0;
  for (const [first, last] of pinned) {
    if (!Number.isInteger(first) || !Number.isInteger(last) || first !== next || last < first) {
      throw new RangeError(
        `Pinned layer ranges ${JSON.stringify(pinned)} must be contiguous, in order, starting at layer 0 and each non-empty.`,
      );
    }
    next = last + 1;
  }
  if (next !== layers) {
    throw new RangeError(
      `Pinned layer ranges ${JSON.stringify(pinned)} end at layer ${next - 1}, but the model has layers 0 to ${layers - 1}: cover them all.`,
    );
  }
}

/** The first device's share of the layers before rounding. */
export function targetShare(devices: DeviceDescription[], usable: number[]): number {
  const speed =
    devices.length === 2 && devices.every(measured)
      ? devices.map((d) => d.computeRate.value)
      : devices.map(() => 1);
  const weights = usable.map((u, i) => Math.max(0, u) * speed[i]);
  const sum = weights[0] + weights[1];
  return sum > 0 ? weights[0] / sum : 0.5;
}

/** Candidate ranges, the preferred split first. */
export function candidateSplits(
  layers: number,
  devices: DeviceDescription[],
  usable: number[],
  pinned?: LayerRange[],
): LayerRange[][] {
  if (pinned) {
    checkPinned(pinned, layers, devices.length);
    return [pinned];
  }
  if (devices.length === 1) return [[[0, layers - 1]]];
  if (layers < 2) {
    throw new RangeError(`A model with ${layers} layer cannot be split across two devices.`);
  }
  const target = Math.min(
    layers - 1,
    Math.max(1, Math.round(layers * targetShare(devices, usable))),
  );
  const splits: LayerRange[][] = [];
  for (let k = 1; k < layers; k++) {
    splits.push([
      [0, k - 1],
      [k, layers - 1],
    ]);
  }
  return splits.sort((a, b) => Math.abs(a[0][1] + 1 - target) - Math.abs(b[0][1] + 1 - target));
}
