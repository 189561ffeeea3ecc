// wgsl_reflect's package points Node at a CommonJS build inside a "type": "module" package, which
// Node cannot load; its ES module build is the same library under another path.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
