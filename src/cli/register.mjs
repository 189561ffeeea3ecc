// Lets the Node entry points run the same TypeScript sources the browser build uses,
// including `import source from './kernel.wgsl?raw'`, which Vite handles natively.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./raw-import-hooks.mjs', import.meta.url);
