// The uniform structs the host writes and the kernels read, defined once: their WGSL declarations
// are generated from these field lists and prepended to every kernel, and the host packs values
// into them by the same lists, so a field's byte offset cannot differ between the two sides.

type FieldType = 'u32' | 'f32';

export interface HostStruct<F extends string> {
  name: string;
  fields: readonly (readonly [F, FieldType])[];
  /** Byte offset of each field (every field is 4 bytes; WGSL lays them out back to back). */
  offset: Record<F, number>;
  /** Bytes of the uniform buffer (rounded up to 16, as uniform structs are). */
  bytes: number;
  /** The WGSL declaration. */
  wgsl: string;
}

function hostStruct<F extends string>(
  name: string,
  fields: readonly (readonly [F, FieldType])[],
): HostStruct<F> {
  const offset = Object.fromEntries(fields.map(([field], i) => [field, i * 4])) as Record<
    F,
    number
  >;
  return {
    name,
    fields,
    offset,
    bytes: Math.ceil((fields.length * 4) / 16) * 16,
    wgsl: `struct ${name} { ${fields.map(([field, type]) => `${field}: ${type}`).join(', ')} }`,
  };
}

/** A pass: how many tokens it carries and the position of the first. */
export const STEP = hostStruct('Step', [
  ['ntok', 'u32'],
  ['pos0', 'u32'],
] as const);

/** The sampler's settings for one step (see sample.wgsl). */
export const SAMPLING = hostStruct('Sampling', [
  ['greedy', 'u32'],
  ['top_k', 'u32'],
  ['history', 'u32'],
  ['top_logits', 'u32'],
  ['temperature', 'f32'],
  ['top_p', 'f32'],
  ['min_p', 'f32'],
  ['penalty', 'f32'],
  ['uniform01', 'f32'],
  // Index one past the newest token of the history ring (the window is the `history` before it);
  // the sampler appends its choice there.
  ['history_end', 'u32'],
] as const);

/** The struct's bytes with the given field values (absent fields are 0). */
export function packStruct<F extends string>(
  struct: HostStruct<F>,
  values: Partial<Record<F, number>>,
): ArrayBuffer {
  const bytes = new ArrayBuffer(struct.bytes);
  const view = new DataView(bytes);
  for (const [field, type] of struct.fields) {
    const value = values[field] ?? 0;
    if (type === 'u32') view.setUint32(struct.offset[field], value, true);
    else view.setFloat32(struct.offset[field], value, true);
  }
  return bytes;
}

/** Every host struct's declaration, for the top of a kernel. */
export const HOST_STRUCTS_WGSL = `${STEP.wgsl}\n${SAMPLING.wgsl}\n`;
