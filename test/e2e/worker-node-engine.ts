// The GGUF engine in this Node process on dawn.node (SwiftShader, f32 compute): the reference the
// browser worker's output is compared with.
import { GREEDY, type ChatMessage } from '../../src/engine/engine';
import { openFileSource } from '../../src/engine/gguf/source-node';

import { openNodeDevice } from '../../src/gpu/node-gpu';
import { loadFullyResident } from '../gpu/engine/planned-engine';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export interface NodeRun {
  ids: number[];
  text: string;
  promptTokens: number;
}

export async function nodeGreedy(
  path: string,
  messages: ChatMessage[],
  maxTokens: number,
  contextTokens: number,
): Promise<NodeRun> {
  // The e2e project does not set the GPU project's ICD list; Dawn reads it when it first starts.
  process.env.VK_ICD_FILENAMES ??= SWIFTSHADER_ICD;
  const device = await openNodeDevice('swiftshader', { disableF16: true });
  const source = await openFileSource(path);
  try {
    const engine = await loadFullyResident(device, source, contextTokens);
    const ids: number[] = [];
    let text = '';
    for await (const event of engine.chat(messages, { maxTokens, sampling: GREEDY })) {
      if (event.type === 'token') {
        ids.push(event.id);
        text += event.text;
      }
    }
    const promptTokens = engine.encodeChat(messages).length;
    await engine.unload();
    return { ids, text, promptTokens };
  } finally {
    await source.close();
    device.device.destroy();
  }
}
