// The app's top-level views, in navigation order. Each view is one component under src/app/.
import type { Component } from 'svelte';

export interface View {
  id: string;
  label: string;
  component: Component;
}

export const views: View[] = [];
