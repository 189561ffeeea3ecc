/// <reference types="svelte" />
/// <reference types="vite/client" />
/// <reference types="vite-plugin-pwa/client" />

declare module '*.wgsl?raw' {
  const source: string;
  export default source;
}
