// The chat's message list mounted alone, over the real chat state and IndexedDB store, with a
// scripted engine whose answer the test sets token by token: what rendering costs per token does
// not depend on a model's speed.
import { mount } from 'svelte';
import MessageList from '../../../src/app/chat/MessageList.svelte';
import { ChatState } from '../../../src/app/chat/chat.svelte';
import type {
  ChatEngine,
  ChatMessage,
  GenerationEvent,
  GenerationOptions,
} from '../../../src/engine/engine';
import {
  ConversationStore,
  newConversation,
  type Conversation,
  type StoredMessage,
} from '../../../src/store/conversations';

/** A macrotask between tokens, so the page renders each one as a model's stream would. */
function nextTask(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(null);
  });
}

class ScriptedEngine implements ChatEngine {
  readonly kind = 'gguf';
  readonly contextTokens = 1 << 24;
  answer: string[] = [];

  async *chat(
    _messages: ChatMessage[],
    options: GenerationOptions,
  ): AsyncGenerator<GenerationEvent> {
    let n = 0;
    for (const text of this.answer) {
      if (options.signal?.aborted) break;
      await nextTask();
      yield { type: 'token', id: n++, text };
    }
    yield {
      type: 'done',
      stats: {
        promptTokens: 1,
        droppedMessages: 0,
        generatedTokens: n,
        prefillTokensPerSecond: 1,
        decodeTokensPerSecond: 1,
        stopReason: 'eos',
      },
    };
  }

  async unload(): Promise<void> {}
}

const engine = new ScriptedEngine();
const chat = new ChatState(
  { choice: { id: 'scripted', label: 'scripted' }, ensureLoaded: async () => engine },
  new ConversationStore(),
);

export interface ChatPageApi {
  /** Opens a conversation of `messages` alternating turns (or the given ones) and mounts the list. */
  open(messages: number | StoredMessage[]): Promise<void>;
  /** Sends a question; the scripted answer is `tokens`. Resolves when the answer is stored. */
  send(text: string, tokens: string[]): Promise<void>;
  /** Tokens of the answer on screen so far (0 when none is streaming). */
  streamedTokens(): number;
}

function history(count: number): StoredMessage[] {
  const messages: StoredMessage[] = [];
  for (let i = 0; i < count; i++) {
    const role = i % 2 === 0 ? 'user' : 'assistant';
    const content = `${role} turn ${i} with **some** text\n\n- a list\n- of two`;
    messages.push({ id: `m${i}`, parentId: i ? `m${i - 1}` : null, role, content, createdAt: i });
  }
  return messages;
}

const api: ChatPageApi = {
  async open(messages) {
    const list = typeof messages === 'number' ? history(messages) : messages;
    const conversation: Conversation = {
      ...newConversation({ title: 'Test conversation' }),
      messages: Object.fromEntries(list.map((m) => [m.id, m])),
      currentLeaf: list.at(-1)?.id ?? null,
    };
    // Shown as given, even a message the store's import would refuse: a render failure must
    // stay inside its own message.
    chat.conversation = conversation;
    mount(MessageList, {
      target: document.getElementById('app')!,
      props: { chat, onsource: () => undefined },
    });
  },
  async send(text, tokens) {
    engine.answer = tokens;
    await chat.send(text);
  },
  streamedTokens: () => chat.streaming?.tokens ?? 0,
};

(window as unknown as { chatPage: ChatPageApi }).chatPage = api;
