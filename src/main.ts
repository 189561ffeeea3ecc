import { mount } from 'svelte';
import { registerSW } from 'virtual:pwa-register';
import App from './app/App.svelte';
import './app/global.css';

mount(App, { target: document.getElementById('app')! });

// The service worker precaches the app shell so Layerwise opens offline after one visit.
registerSW({ immediate: true });

// On a host that sends no isolation headers, the service worker adds them; the first visit
// reloads once when it takes over, so the CPU engine gets its threads from then on.
const RELOADED = 'layerwise:isolation-reload';
if (!crossOriginIsolated && 'serviceWorker' in navigator && !sessionStorage.getItem(RELOADED)) {
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    sessionStorage.setItem(RELOADED, '1');
    location.reload();
  });
}
