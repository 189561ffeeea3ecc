// Hostile conversation exports and damaged stored records: each is refused with the field named,
// and no walk over a message tree can loop.
import 'fake-indexeddb/auto';
import { createStore, set } from 'idb-keyval';
import { describe, expect, it } from 'vitest';
import { ChatState } from '../../src/app/chat/chat.svelte';
import {
  ConversationStore,
  MAX_IMPORT_BYTES,
  addMessage,
  exportJson,
  newConversation,
  parseExport,
  pathTo,
  selectBranch,
  type Conversation,
} from '../../src/store/conversations';

let stores = 0;
function freshName(): string {
  stores += 1;
  return `hostile-conversations-${stores}`;
}

/** A three-message conversation as an export envelope that a test then damages. */
function envelope(): { conversation: Conversation & Record<string, unknown> } & Record<
  string,
  unknown
> {
  const c = newConversation({ title: 'Hostile' }, 1000);
  const u = addMessage(c, null, { role: 'user', content: 'hi' }, 1001);
  const a = addMessage(
    c,
    u.id,
    {
      role: 'assistant',
      content: 'hello',
      stats: { promptTokens: 3, generatedTokens: 1, tokensPerSecond: 7, stopReason: 'eos' },
    },
    1002,
  );
  addMessage(c, a.id, { role: 'user', content: 'again' }, 1003);
  return JSON.parse(exportJson(c));
}

function ids(e: ReturnType<typeof envelope>): string[] {
  return Object.values(e.conversation.messages)
    .sort((x, y) => x.createdAt - y.createdAt)
    .map((m) => m.id);
}

/** Renames message `from` to `to` everywhere: its key, its id, its children's parent and the leaf. */
function renameMessage(e: ReturnType<typeof envelope>, from: string, to: string): void {
  const messages = e.conversation.messages;
  const moved = { ...messages[from], id: to };
  delete messages[from];
  Object.defineProperty(messages, to, {
    value: moved,
    enumerable: true,
    writable: true,
    configurable: true,
  });
  for (const m of Object.values(messages)) if (m.parentId === from) m.parentId = to;
  if (e.conversation.currentLeaf === from) e.conversation.currentLeaf = to;
}

function importing(e: unknown): () => Conversation {
  return () => parseExport(JSON.stringify(e));
}

describe('hostile conversation imports', () => {
  it('refuses a parent cycle A->B->A', () => {
    const e = envelope();
    const [a, b] = ids(e);
    e.conversation.messages[a].parentId = b;
    expect(importing(e)).toThrow(/parentId: its parents lead round in a cycle/);
  });

  it('refuses a message that is its own parent (A->A)', () => {
    const e = envelope();
    const [a] = ids(e);
    e.conversation.messages[a].parentId = a;
    expect(importing(e)).toThrow(new RegExp(`messages\\.${a}\\.parentId: its parents lead round`));
  });

  it('refuses a missing parent', () => {
    const e = envelope();
    const [, b] = ids(e);
    e.conversation.messages[b].parentId = 'nowhere';
    expect(importing(e)).toThrow(`messages.${b}.parentId: no message "nowhere"`);
  });

  it('refuses duplicate ids (two messages carrying one id)', () => {
    const e = envelope();
    const [a, b] = ids(e);
    e.conversation.messages[b].id = a;
    expect(importing(e)).toThrow(`messages.${b}.id: is "${a}", not its key "${b}"`);
  });

  for (const reserved of ['__proto__', 'constructor', 'toString']) {
    it(`refuses ${reserved} as a message id`, () => {
      const e = envelope();
      renameMessage(e, ids(e)[0], reserved);
      expect(importing(e)).toThrow(`"${reserved}" is not a usable id`);
    });

    it(`refuses ${reserved} as the leaf pointer`, () => {
      const e = envelope();
      e.conversation.currentLeaf = reserved;
      expect(importing(e)).toThrow(`currentLeaf: no message "${reserved}"`);
    });

    it(`refuses ${reserved} as a parent pointer`, () => {
      const e = envelope();
      e.conversation.messages[ids(e)[0]].parentId = reserved;
      expect(importing(e)).toThrow(`parentId: "${reserved}" is not a usable id`);
    });
  }

  it('refuses maxTokens: -100, naming the field', () => {
    const e = envelope();
    e.conversation.maxTokens = -100;
    expect(importing(e)).toThrow(/maxTokens: .*1/);
  });

  it('refuses stats.tokensPerSecond: "7", naming the field', () => {
    const e = envelope();
    const [, answer] = ids(e);
    (e.conversation.messages[answer].stats as unknown as Record<string, unknown>).tokensPerSecond =
      '7';
    expect(importing(e)).toThrow(
      new RegExp(`messages\\.${answer}\\.stats\\.tokensPerSecond: Invalid type: Expected number`),
    );
  });

  it('refuses a role, a sampling value or a timestamp of the wrong type', () => {
    const e = envelope();
    e.conversation.sampling.topP = 3;
    expect(importing(e)).toThrow(/sampling\.topP:/);
    const f = envelope();
    f.conversation.createdAt = 'yesterday' as unknown as number;
    expect(importing(f)).toThrow(/createdAt:/);
    const g = envelope();
    (g.conversation.messages[ids(g)[0]] as unknown as Record<string, unknown>).role = 'system';
    expect(importing(g)).toThrow(/role:/);
  });

  it('refuses an import larger than the cap before reading it, storing nothing', async () => {
    const store = new ConversationStore(freshName());
    const huge = new Blob([new Uint8Array(MAX_IMPORT_BYTES + 1)]);
    await expect(store.importFile(huge)).rejects.toThrow(/at most 32 MiB/);
    expect(await store.list()).toEqual([]);
  });
});

describe('stored conversations read back', () => {
  it('refuses a stored parent cycle with the field named, and lists it as damaged without hanging', async () => {
    const name = freshName();
    const store = new ConversationStore(name);
    const good = newConversation({ title: 'Fine' }, 5000);
    addMessage(good, null, { role: 'user', content: 'ok' }, 5001);
    await store.save(good);
    const e = envelope();
    const [a, b] = ids(e);
    e.conversation.messages[a].parentId = b;
    // Written as an older version without checks would have stored it.
    await set(e.conversation.id, e.conversation, createStore(name, 'conversations'));
    await expect(store.get(e.conversation.id)).rejects.toThrow(
      /damaged \(messages\..*parentId: its parents lead round in a cycle\)/,
    );
    const list = await store.list();
    expect(list.map((s) => s.title)).toEqual(['Fine', `Damaged conversation ${e.conversation.id}`]);
    expect(await store.get(good.id)).toEqual(good);
  });

  it('refuses a stored record whose numbers are strings', async () => {
    const name = freshName();
    const store = new ConversationStore(name);
    const e = envelope();
    (e.conversation as Record<string, unknown>).maxTokens = '512';
    await set(e.conversation.id, e.conversation, createStore(name, 'conversations'));
    await expect(store.get(e.conversation.id)).rejects.toThrow(/maxTokens: Invalid type/);
  });

  it('walks a looping tree handed in directly with a bound', () => {
    const e = envelope();
    const [a, b, c] = ids(e);
    e.conversation.messages[a].parentId = c;
    expect(pathTo(e.conversation, c).map((m) => m.id)).toEqual([a, b, c]);
    selectBranch(e.conversation, a);
    expect(e.conversation.messages[e.conversation.currentLeaf!]).toBeDefined();
  });

  it('lists conversations from their summaries without reading their messages', async () => {
    const name = freshName();
    const store = new ConversationStore(name);
    const c = newConversation({ title: 'Long history' }, 7000);
    addMessage(c, null, { role: 'user', content: 'first' }, 7001);
    await store.save(c);
    // A record the list would have to read to summarise: unreadable as a conversation.
    await set(c.id, { messages: 'not read by the list' }, createStore(name, 'conversations'));
    expect(await store.list()).toEqual([
      { id: c.id, title: 'Long history', updatedAt: 7001, messageCount: 1 },
    ]);
  });

  it('summarises conversations stored before summaries existed, once', async () => {
    const name = freshName();
    const older = newConversation({ title: 'Older' }, 100);
    await set(older.id, older, createStore(name, 'conversations'));
    const store = new ConversationStore(name);
    expect((await store.list()).map((s) => s.title)).toEqual(['Older']);
    await store.delete(older.id);
    expect(await store.list()).toEqual([]);
  });
});

describe('the Chat view and a damaged stored conversation', () => {
  it('says the conversation is damaged instead of failing to open', async () => {
    const name = freshName();
    const e = envelope();
    const [a] = ids(e);
    e.conversation.messages[a].parentId = a;
    await set(e.conversation.id, e.conversation, createStore(name, 'conversations'));
    const provider = {
      choice: null,
      ensureLoaded: () => Promise.reject(new Error('no model in this test')),
    };
    const chat = new ChatState(provider, new ConversationStore(name));
    expect(await chat.open(e.conversation.id)).toBe(false);
    expect(chat.conversation).toBeNull();
    expect(chat.notice).toMatchObject({ tone: 'error' });
    expect(chat.notice?.text).toMatch(/is damaged \(messages\..*parentId: its parents lead round/);
  });
});
