import type { ProbeResult } from '../../gpu/probe';

/** The probe's result as pretty JSON for a bug report, stamped with when it was read. */
export function reportJson(result: ProbeResult, at: number = Date.now()): string {
  return JSON.stringify({ probedAt: new Date(at).toISOString(), ...result }, null, 2);
}
