import { describe, expect, it } from 'vitest';
import { StopStringFilter } from '../../src/engine/stop-strings';

/** Feeds `pieces` through a filter and returns what was shown and whether a stop string hit. */
function stream(stops: string[], pieces: string[]) {
  const filter = new StopStringFilter(stops);
  let shown = '';
  for (const piece of pieces) {
    const { text, stopped } = filter.push(piece);
    shown += text;
    if (stopped) return { shown, stopped: true };
  }
  return { shown: shown + filter.flush(), stopped: false };
}

describe('stop strings over streamed text', () => {
  it('ends before a stop string split across pieces, showing nothing of it', () => {
    expect(stream(['</end>'], ['Hello', ' wor', 'ld</', 'en', 'd> more'])).toEqual({
      shown: 'Hello world',
      stopped: true,
    });
  });

  it('holds back the tail a stop string could still begin in, and shows it at the end', () => {
    const filter = new StopStringFilter(['STOP']);
    expect(filter.push('abcST')).toEqual({ text: 'ab', stopped: false });
    expect(filter.push('x')).toEqual({ text: 'c', stopped: false });
    expect(filter.flush()).toBe('STx');
  });

  it('stops at the earliest of several stop strings', () => {
    expect(stream(['bb', 'a'], ['xxbba'])).toEqual({ shown: 'xx', stopped: true });
  });

  it('passes everything through without stop strings, or with only empty ones', () => {
    expect(stream([], ['a', 'b'])).toEqual({ shown: 'ab', stopped: false });
    expect(stream([''], ['a', 'b'])).toEqual({ shown: 'ab', stopped: false });
  });
});
