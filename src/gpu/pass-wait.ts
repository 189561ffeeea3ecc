// How the engine waits for a pass it submitted (a prefill pass, a decode token's ids): as the
// promise settles in the browser; on dawn.node with the main thread sleeping between Dawn's polls
// (node-pacing.ts installs that). A wait through here may end a little after the GPU's work does.

export type PassWait = <T>(promise: Promise<T>) => Promise<T>;

let strategy: PassWait = (promise) => promise;

/** Sets how every later `waitForPass` waits (once per process, by the host that needs it). */
export function setPassWait(wait: PassWait): void {
  strategy = wait;
}

/** Waits for `promise`, a map or a queue wait on a submitted pass. */
export function waitForPass<T>(promise: Promise<T>): Promise<T> {
  return strategy(promise);
}
