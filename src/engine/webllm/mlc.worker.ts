// WebLLM's own worker: CreateWebWorkerMLCEngine on the page talks to this handler, so MLC's
// model loading and decoding never run on the page's thread.
import { WebWorkerMLCEngineHandler } from '@mlc-ai/web-llm';

const handler = new WebWorkerMLCEngineHandler();
self.onmessage = (event: MessageEvent) => handler.onmessage(event);
