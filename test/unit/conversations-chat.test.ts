// The Chat view's state class against a scripted engine and fake-indexeddb: turns, stop, regenerate,
// edit-and-resend, branch switching, context trimming and failures, as stored.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { ChatState } from '../../src/app/chat/chat.svelte';
import type {
  ChatEngine,
  ChatMessage,
  GenerationEvent,
  GenerationOptions,
} from '../../src/engine/engine';
import { EngineError } from '../../src/engine/messages';
import { fitConversation } from '../../src/engine/context-fit';
import { ConversationStore, children, currentPath } from '../../src/store/conversations';

/** Answers "wordN" tokens; one token per word plus four per message, fitted as the engine fits. */
class ScriptedEngine implements ChatEngine {
  readonly kind = 'gguf';
  requests: { messages: ChatMessage[]; options: GenerationOptions }[] = [];
  /** What the last request kept after fitting the context. */
  kept: ChatMessage[] = [];
  failWith: unknown = null;
  /** Called after each token, so a test can stop mid-answer. */
  onToken: (n: number) => void = () => undefined;

  constructor(readonly contextTokens = 4096) {}

  private encode(messages: ChatMessage[]): number[] {
    this.kept = messages;
    const count = messages.reduce(
      (n, m) => n + m.content.split(/\s+/).filter(Boolean).length + 4,
      0,
    );
    return new Array<number>(count).fill(1);
  }

  async *chat(
    messages: ChatMessage[],
    options: GenerationOptions,
  ): AsyncGenerator<GenerationEvent> {
    this.requests.push({ messages, options });
    const fit = fitConversation(
      (m) => this.encode(m),
      this.contextTokens,
      messages,
      options.maxTokens,
    );
    let n = 0;
    for (; n < fit.maxTokens; n++) {
      if (options.signal?.aborted) break;
      if (this.failWith && n === 2) throw this.failWith;
      await Promise.resolve();
      yield { type: 'token', id: 100 + n, text: `word${n} ` };
      this.onToken(n + 1);
    }
    yield {
      type: 'done',
      stats: {
        promptTokens: fit.ids.length,
        droppedMessages: fit.dropped,
        generatedTokens: n,
        prefillTokensPerSecond: 100,
        decodeTokensPerSecond: 25,
        stopReason: options.signal?.aborted ? 'aborted' : 'max-tokens',
      },
    };
  }

  async unload(): Promise<void> {}
}

let stores = 0;
function setup(engine = new ScriptedEngine(), defaultSystemPrompt = '') {
  stores += 1;
  const store = new ConversationStore(`chat-state-${stores}`);
  const provider = {
    choice: { id: 'fixture', label: 'fixture.gguf' },
    released: 0,
    ensureLoaded: async () => engine,
    release: async () => void (provider.released += 1),
  };
  const chat = new ChatState(provider, store, async () => defaultSystemPrompt);
  return { chat, store, engine, provider };
}

const contents = (chat: ChatState) => chat.path.map((m) => `${m.role}:${m.content.trim()}`);

describe('ChatState', () => {
  it('sends a message, streams the answer, stores it with stats and titles the conversation', async () => {
    const { chat, store, engine } = setup();
    await chat.create();
    chat.conversation!.maxTokens = 3;
    await chat.send('  Hello  there ');
    expect(contents(chat)).toEqual(['user:Hello  there', 'assistant:word0 word1 word2']);
    const answer = chat.path[1];
    expect(answer.stats).toEqual({
      promptTokens: 2 + 4,
      generatedTokens: 3,
      tokensPerSecond: 25,
      stopReason: 'max-tokens',
    });
    expect(answer.modelId).toBe('fixture');
    expect(engine.requests[0].messages).toEqual([{ role: 'user', content: 'Hello  there' }]);
    const stored = await store.get(chat.conversation!.id);
    expect(stored!.title).toBe('Hello there');
    expect(currentPath(stored!).map((m) => m.content.trim())).toEqual([
      'Hello  there',
      'word0 word1 word2',
    ]);
    expect(chat.streaming).toBeNull();
  });

  it('keeps a stopped answer marked stopped and regenerates beside it', async () => {
    const { chat, store, engine } = setup();
    await chat.create();
    chat.conversation!.maxTokens = 50;
    engine.onToken = (n) => n === 4 && chat.stop();
    await chat.send('Tell a story');
    const stopped = chat.path[1];
    expect(stopped.content.trim()).toBe('word0 word1 word2 word3');
    expect(stopped.stats?.stopReason).toBe('stopped');
    expect(stopped.stats?.generatedTokens).toBe(4);

    engine.onToken = () => undefined;
    chat.conversation!.maxTokens = 2;
    await chat.regenerate(stopped.id);
    const siblings = children(chat.conversation!, chat.path[0].id);
    expect(siblings.map((m) => m.stats?.stopReason)).toEqual(['stopped', 'max-tokens']);
    expect(chat.path[1].id).toBe(siblings[1].id);

    await chat.switchBranch(chat.path[1].id, -1);
    expect(chat.path[1].id).toBe(stopped.id);
    const stored = await store.get(chat.conversation!.id);
    expect(stored!.currentLeaf).toBe(stopped.id);
  });

  it('sends an edited question as a sibling, keeping the old branch', async () => {
    const { chat, engine } = setup();
    await chat.create();
    chat.conversation!.maxTokens = 1;
    await chat.send('first');
    await chat.send('second');
    const firstQuestion = chat.path[0];
    await chat.editAndResend(chat.path[2].id, 'second, edited');
    expect(contents(chat)).toEqual([
      'user:first',
      'assistant:word0',
      'user:second, edited',
      'assistant:word0',
    ]);
    expect(children(chat.conversation!, chat.path[1].id).map((m) => m.content)).toEqual([
      'second',
      'second, edited',
    ]);
    expect(engine.requests.at(-1)!.messages.map((m) => m.content)).toEqual([
      'first',
      'word0 ',
      'second, edited',
    ]);
    await chat.switchBranch(chat.path[2].id, -1);
    expect(contents(chat)).toEqual([
      'user:first',
      'assistant:word0',
      'user:second',
      'assistant:word0',
    ]);
    expect(chat.path[0]).toEqual(firstQuestion);
  });

  it('leaves out the oldest turns when the context is full and says so', async () => {
    const engine = new ScriptedEngine(60);
    const { chat } = setup(engine);
    await chat.create();
    chat.conversation!.systemPrompt = 'Be brief.';
    chat.conversation!.maxTokens = 8;
    for (const q of ['one two three four five six', 'seven eight nine ten', 'eleven twelve']) {
      await chat.send(q);
    }
    // The page sends the whole branch; the engine leaves out what does not fit and says how much.
    const last = engine.requests.at(-1)!;
    expect(last.messages.map((m) => m.content.split(' ')[0])).toContain('one');
    expect(engine.kept[0]).toEqual({ role: 'system', content: 'Be brief.' });
    expect(engine.kept.map((m) => m.content.split(' ')[0])).not.toContain('one');
    expect(chat.notice?.tone).toBe('warning');
    expect(chat.notice?.text).toMatch(/^Left out \d+ earlier messages? \(from "one two/);
    expect(chat.path.at(-1)!.stats?.droppedMessages).toBeGreaterThan(0);
  });

  it('keeps a partial answer with the error when the engine fails mid-answer', async () => {
    const engine = new ScriptedEngine();
    engine.failWith = 'Device was lost: the GPU reset';
    const { chat, provider } = setup(engine);
    await chat.create();
    await chat.send('hi');
    const answer = chat.path[1];
    expect(answer.content.trim()).toBe('word0 word1');
    expect(answer.stats?.stopReason).toBe('error');
    expect(answer.stats?.error).toMatch(/GPU device was lost/);
    expect(chat.notice).toEqual({ tone: 'error', text: answer.stats?.error });
    expect(provider.released).toBe(1);
  });

  it('keeps no empty answer when the model cannot load, and shows why', async () => {
    const { chat } = setup();
    const failing = new ChatState(
      {
        choice: null,
        ensureLoaded: () =>
          Promise.reject(new EngineError('out-of-memory', 'Too big for this GPU.')),
      },
      new ConversationStore('chat-state-failing'),
    );
    await failing.create();
    await failing.send('hi');
    expect(contents(failing)).toEqual(['user:hi']);
    expect(failing.notice).toEqual({ tone: 'error', text: 'Too big for this GPU.' });
    expect(chat.busy).toBe(false);
  });

  it('renames, searches, deletes and imports conversations', async () => {
    const { chat } = setup();
    const a = await chat.create();
    chat.conversation!.maxTokens = 1;
    await chat.send('about rust lifetimes');
    await chat.create();
    await chat.send('about cooking eggs');
    await chat.rename(a.id, 'Rust');
    chat.query = 'lifetimes';
    await chat.refreshList();
    expect(chat.list.map((s) => s.title)).toEqual(['Rust']);
    chat.query = '';
    await chat.open(a.id);
    const exported = chat.exportJson()!;
    await chat.remove(a.id);
    expect(chat.conversation).toBeNull();
    expect(chat.list.map((s) => s.title)).toEqual(['about cooking eggs']);
    const imported = await chat.importJson(exported);
    expect(imported.id).toBe(a.id);
    expect(chat.exportJson()).toBe(exported);
    expect(chat.exportMarkdown()).toMatch(/^# Rust\n/);
  });

  it("sends no system prompt by default, the one from Settings when set, and the conversation's own over both", async () => {
    const plain = setup();
    await plain.chat.create();
    await plain.chat.send('hi');
    expect(plain.engine.requests[0].messages).toEqual([{ role: 'user', content: 'hi' }]);

    const withGlobal = setup(new ScriptedEngine(), 'Answer in French.');
    await withGlobal.chat.create();
    expect(withGlobal.chat.conversation!.systemPrompt).toBeNull();
    await withGlobal.chat.send('hi');
    expect(withGlobal.engine.requests[0].messages[0]).toEqual({
      role: 'system',
      content: 'Answer in French.',
    });
    await withGlobal.chat.updateSettings({
      systemPrompt: 'Answer in Welsh.',
      maxTokens: 4,
      sampling: withGlobal.chat.conversation!.sampling,
    });
    await withGlobal.chat.send('again');
    expect(withGlobal.engine.requests[1].messages[0].content).toBe('Answer in Welsh.');
  });

  it('reuses an empty conversation instead of piling up new ones', async () => {
    const { chat } = setup();
    const first = await chat.create();
    expect((await chat.create()).id).toBe(first.id);
    chat.conversation!.maxTokens = 1;
    await chat.send('a question');
    const second = await chat.create();
    expect(second.id).not.toBe(first.id);
    await chat.open(first.id);
    // The empty one already listed is opened again, not a third made.
    expect((await chat.create()).id).toBe(second.id);
    expect(chat.list).toHaveLength(2);
  });

  it('titles a conversation from its first message without cutting it short', async () => {
    const { chat } = setup();
    await chat.create();
    chat.conversation!.maxTokens = 1;
    const question = 'How do I keep my sourdough starter alive over a two-week holiday?';
    await chat.send(question);
    expect(chat.conversation!.title).toBe(question);
    await chat.create();
    await chat.send(`${'word '.repeat(40)}end`);
    expect(chat.conversation!.title).toMatch(/^(word ){15,}word…$/);
  });
});
