// What to tell a person whose browser gave us no WebGPU or no adapter. The advice depends on the
// browser and the platform, so it is worked out from the user agent string the page sees.

export type BrowserFamily = 'chromium' | 'firefox' | 'safari' | 'other';

export interface BrowserGuess {
  family: BrowserFamily;
  /** Major version, where the user agent says it. */
  version: number | null;
  platform: 'windows' | 'macos' | 'linux' | 'android' | 'ios' | 'chromeos' | 'other';
}

export function guessBrowser(userAgent: string): BrowserGuess {
  const ua = userAgent;
  const platform = /Android/.test(ua)
    ? 'android'
    : /iPhone|iPad|iPod/.test(ua)
      ? 'ios'
      : /CrOS/.test(ua)
        ? 'chromeos'
        : /Windows/.test(ua)
          ? 'windows'
          : /Mac OS X|Macintosh/.test(ua)
            ? 'macos'
            : /Linux|X11/.test(ua)
              ? 'linux'
              : 'other';
  const firefox = /Firefox\/(\d+)/.exec(ua);
  if (firefox) return { family: 'firefox', version: Number(firefox[1]), platform };
  const chromium = /(?:Chrome|Chromium|Edg)\/(\d+)/.exec(ua);
  if (chromium) return { family: 'chromium', version: Number(chromium[1]), platform };
  const safari = /Version\/(\d+)[.\d]* .*Safari\//.exec(ua);
  if (safari) return { family: 'safari', version: Number(safari[1]), platform };
  return { family: 'other', version: null, platform };
}

const SUPPORTED_BROWSERS =
  'Use Chrome or Edge 113 or later (Windows, macOS, ChromeOS; Android 121 or later), ' +
  'Safari 26 or later (macOS, iOS, iPadOS), or Firefox 141 or later on Windows.';

/** Steps for a browser that has no `navigator.gpu` at all. */
export function adviceWithoutWebGpu(userAgent: string, secureContext: boolean): string[] {
  if (!secureContext) {
    return [
      'WebGPU only exists on secure pages: open Layerwise over https:// (or on localhost), not http:// or a file.',
    ];
  }
  const browser = guessBrowser(userAgent);
  const steps: string[] = [];
  if (browser.family === 'chromium') {
    if (browser.version !== null && browser.version < 113) {
      steps.push(`This is Chrome/Edge ${browser.version}: update to version 113 or later.`);
    }
    if (browser.platform === 'linux') {
      steps.push(
        'On Linux, Chrome enables WebGPU behind a flag: open chrome://flags/#enable-unsafe-webgpu, set it to Enabled and restart the browser.',
      );
    }
  } else if (browser.family === 'firefox') {
    steps.push(
      browser.platform === 'windows'
        ? 'Update Firefox to version 141 or later, where WebGPU is on by default on Windows.'
        : 'Firefox turns WebGPU on by default only on Windows (141+) so far. On this platform try Chrome or Edge, or set dom.webgpu.enabled to true in about:config (experimental).',
    );
  } else if (browser.family === 'safari') {
    steps.push(
      'Update to Safari 26 or later (macOS Tahoe, iOS 26), where WebGPU is on by default.',
    );
  }
  steps.push(SUPPORTED_BROWSERS);
  return steps;
}

/** Steps for a browser that has `navigator.gpu` but handed out no adapter. */
export function adviceWithoutAdapter(userAgent: string): string[] {
  const browser = guessBrowser(userAgent);
  const steps = [
    'Turn on hardware acceleration in the browser settings (Chrome/Edge: Settings > System > "Use graphics acceleration when available") and restart the browser.',
    'Update the graphics driver; the browser blocks WebGPU on drivers it knows to be broken (chrome://gpu lists why).',
  ];
  if (browser.family === 'chromium' && browser.platform === 'linux') {
    steps.push(
      'On Linux, enable chrome://flags/#enable-unsafe-webgpu and chrome://flags/#enable-vulkan, then restart the browser.',
    );
  }
  steps.push('On a remote desktop or virtual machine there may be no GPU the browser can use.');
  return steps;
}
