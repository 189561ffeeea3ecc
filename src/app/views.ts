// The app's top-level views. Each view is one component under src/app/; register it with one line
// in `views`. The navigation shows them in VIEW_ORDER, then any others in registration order.
import type { Component } from 'svelte';
import ChatView from './chat/ChatView.svelte';
import DocumentsView from './documents/DocumentsView.svelte';
import HardwareView from './hardware/HardwareView.svelte';
import ModelsView from './models/ModelsView.svelte';
import SettingsView from './settings/SettingsView.svelte';
import StorageView from './storage/StorageView.svelte';

export interface View {
  id: string;
  label: string;
  component: Component;
}

export const views: View[] = [
  { id: 'chat', label: 'Chat', component: ChatView },
  { id: 'documents', label: 'Documents', component: DocumentsView },
  { id: 'models', label: 'Models', component: ModelsView },
  { id: 'hardware', label: 'Hardware', component: HardwareView },
  { id: 'settings', label: 'Settings', component: SettingsView },
  { id: 'storage', label: 'Storage', component: StorageView },
];

const VIEW_ORDER = ['chat', 'documents', 'models', 'storage', 'hardware', 'settings'];

export function navigationOrder(registered: View[] = views): View[] {
  const rank = (v: View) => {
    const i = VIEW_ORDER.indexOf(v.id);
    return i === -1 ? VIEW_ORDER.length : i;
  };
  return registered
    .map((view, index) => ({ view, index }))
    .sort((a, b) => rank(a.view) - rank(b.view) || a.index - b.index)
    .map(({ view }) => view);
}
