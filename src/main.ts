import { mount } from 'svelte';
import { registerSW } from 'virtual:pwa-register';
import App from './app/App.svelte';
import './app/global.css';

mount(App, { target: document.getElementById('app')! });

// The service worker precaches the app shell so Layerwise opens offline after one visit.
registerSW({ immediate: true });
