// "Copy as JSON" for bug reports: the clipboard where the browser allows it, else the text is
// selected on screen for the person to copy.
import type { ProbeResult } from '../../gpu/probe';
import { reportJson } from './report-json';

export class CopyState {
  status = $state<'idle' | 'copied' | 'failed'>('idle');
  /** The text shown when the clipboard refused. */
  fallbackText = $state('');

  async copy(result: ProbeResult): Promise<void> {
    const text = reportJson(result);
    try {
      await navigator.clipboard.writeText(text);
      this.status = 'copied';
      this.fallbackText = '';
    } catch {
      this.status = 'failed';
      this.fallbackText = text;
    }
  }
}
