// Documents attached to a chat conversation: the attachment stored (checked on read, kept by export
// and import), each question's best chunks fitted into the prompt as numbered sources within the
// context (the rest dropped and said so), citations mapped to the chunks they name and opened in
// their document, and search-only replies that generate nothing.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { ChatState, NOTHING_ATTACHED, NO_MATCH } from '../../src/app/chat/chat.svelte';
import { modelTurns, resolveAttached, type ChatDocuments } from '../../src/app/chat/grounding';
import { markdownToHtml } from '../../src/app/chat/markdown';
import type { ChunkHit, ChunkRef, OpenChunk } from '../../src/app/documents/documents.svelte';
import { DOCUMENT_GONE } from '../../src/app/documents/documents.svelte';
import {
  GROUNDING_INSTRUCTIONS,
  groundedMessages,
  sourceLabel,
  type PromptMessage,
} from '../../src/documents/prompt';
import { fitConversation } from '../../src/engine/context-fit';
import type {
  ChatEngine,
  ChatMessage,
  GenerationEvent,
  GenerationOptions,
} from '../../src/engine/engine';
import { checkConversation } from '../../src/store/conversation-schema';
import {
  ConversationStore,
  exportJson,
  exportMarkdown,
  parseExport,
} from '../../src/store/conversations';
import type { DocumentRecord, StoredChunk } from '../../src/store/documents';

/** One token per word plus four per message: what both the engine and the page count. */
const countWords = (messages: { content: string }[]) =>
  messages.reduce((n, m) => n + m.content.split(/\s+/).filter(Boolean).length + 4, 0);

/** Answers with `reply`, a word per token, after fitting the request as the engine does. */
class CitingEngine implements ChatEngine {
  readonly kind = 'gguf';
  requests: ChatMessage[][] = [];
  constructor(
    readonly contextTokens: number,
    private readonly reply = 'The code is 7351 [1].',
  ) {}

  async *chat(
    messages: ChatMessage[],
    options: GenerationOptions,
  ): AsyncGenerator<GenerationEvent> {
    this.requests.push(messages);
    const encode = (m: ChatMessage[]) => new Array<number>(countWords(m)).fill(1);
    const fit = fitConversation(encode, this.contextTokens, messages, options.maxTokens);
    const words = this.reply.split(' ');
    for (const [i, word] of words.entries()) {
      yield { type: 'token', id: i, text: i ? ` ${word}` : word };
    }
    yield {
      type: 'done',
      stats: {
        promptTokens: fit.ids.length,
        droppedMessages: fit.dropped,
        generatedTokens: words.length,
        prefillTokensPerSecond: 100,
        decodeTokensPerSecond: 20,
        stopReason: 'eos',
      },
    };
  }

  async unload(): Promise<void> {}
}

function record(id: string, name: string): DocumentRecord {
  return {
    id,
    name,
    kind: 'markdown',
    bytes: 100,
    chunkCount: 0,
    embedding: { id: 'embed', name: 'embed.gguf', dims: 2 },
    createdAt: 1,
  };
}

/** A stored document: its text, cut into one chunk per `## ` section under the title. */
function markdownDocument(id: string, name: string, sections: [string, string][]) {
  let text = `# ${name}\n\n`;
  const chunks: StoredChunk[] = [];
  for (const [heading, body] of sections) {
    text += `## ${heading}\n\n`;
    chunks.push({
      documentId: id,
      index: chunks.length,
      start: text.length,
      end: text.length + body.length,
      headings: [name, heading],
      text: body,
      tokens: body.split(' ').length,
      vector: new Float32Array(2),
    });
    text += `${body}\n\n`;
  }
  return { record: { ...record(id, name), chunkCount: chunks.length }, text, chunks };
}

/** The documents side: ranks a document's chunks by the question's words they share. */
class FakeDocuments implements ChatDocuments {
  stored: ReturnType<typeof markdownDocument>[] = [];
  searched: string[][] = [];
  counted = 0;

  async list(): Promise<DocumentRecord[]> {
    return this.stored.map((d) => d.record);
  }

  async search(documents: DocumentRecord[], question: string): Promise<ChunkHit[]> {
    this.searched.push(documents.map((d) => d.id));
    const words = (question.toLowerCase().match(/\w+/g) ?? []).filter((w) => w.length > 3);
    const shared = (text: string) => words.filter((w) => text.toLowerCase().includes(w)).length;
    return this.stored
      .filter((d) => documents.some((r) => r.id === d.record.id))
      .flatMap((d) => d.chunks.map((c) => ({ ...c, documentName: d.record.name })))
      .map((chunk) => ({ chunk, score: shared(chunk.text) }))
      .filter((h) => h.score > 0)
      .sort((a, b) => b.score - a.score);
  }

  async countPromptTokens(messages: PromptMessage[]): Promise<number> {
    this.counted++;
    return countWords(messages);
  }

  async read(chunk: ChunkRef): Promise<OpenChunk | null> {
    const doc = this.stored.find((d) => d.record.id === chunk.documentId);
    if (!doc) return null;
    return {
      documentId: doc.record.id,
      label: sourceLabel({ ...chunk, documentName: doc.record.name }),
      text: doc.text.slice(chunk.start, chunk.end),
      before: doc.text.slice(0, chunk.start),
      after: doc.text.slice(chunk.end),
    };
  }
}

const HANDBOOK = markdownDocument('handbook', 'handbook.md', [
  ['Lunch', 'Lunch is served at noon on the third floor.'],
  ['Doors', 'The reset code for the blue door is 7351.'],
  ['Badges', 'Badges for the blue door are at the front desk.'],
]);
const RECIPES = markdownDocument('recipes', 'recipes.md', [
  ['Pancakes', 'Pancakes need flour, milk and two eggs.'],
]);

let stores = 0;
function setup(contextTokens = 4096) {
  stores += 1;
  const store = new ConversationStore(`chat-documents-${stores}`);
  const engine = new CitingEngine(contextTokens);
  const library = new FakeDocuments();
  library.stored = [HANDBOOK, RECIPES];
  const provider = {
    choice: { id: 'chat-model', label: 'chat.gguf' },
    loads: 0,
    ensureLoaded: async () => (provider.loads++, engine),
  };
  const chat = new ChatState(provider, store, async () => '', library);
  return { chat, store, engine, library, provider };
}

describe('chat with attached documents', () => {
  it('stores the attachment with the conversation, checked on read and kept by export and import', async () => {
    const { chat, store } = setup();
    await chat.refreshDocuments();
    await chat.attach(['handbook', 'recipes']);
    const id = chat.conversation!.id;
    expect((await store.get(id))!.attached).toEqual({
      documents: ['handbook', 'recipes'],
      searchOnly: false,
    });
    expect(chat.attachment.documents.map((d) => d.name)).toEqual(['handbook.md', 'recipes.md']);

    await chat.detach('recipes');
    await chat.setSearchOnly(true);
    expect((await store.get(id))!.attached).toEqual({ documents: ['handbook'], searchOnly: true });

    const copy = parseExport(exportJson((await store.get(id))!));
    expect(copy.attached).toEqual({ documents: ['handbook'], searchOnly: true });

    await chat.attach('all');
    expect((await store.get(id))!.attached).toEqual({ documents: 'all', searchOnly: true });
    expect(chat.attachment.documents).toHaveLength(2);
    await chat.detach('all');
    expect((await store.get(id))!.attached).toBeUndefined();
    expect(chat.attachment).toEqual({ documents: [], missing: 0 });
  });

  it('refuses a stored attachment or cited source of the wrong shape, naming the field', () => {
    const base = JSON.parse(exportJson(setupConversation())).conversation;
    const bad = (patch: object) => checkConversation({ ...base, ...patch });
    expect(bad({ attached: { documents: 'some', searchOnly: false } })).toEqual({
      problem: expect.stringMatching(/^attached\.documents: /),
    });
    expect(bad({ attached: { documents: ['a', ''], searchOnly: false } })).toEqual({
      problem: expect.stringMatching(/^attached\.documents\.1: /),
    });
    const answerId = base.currentLeaf;
    const withSource = (source: object) => ({
      messages: {
        ...base.messages,
        [answerId]: {
          ...base.messages[answerId],
          retrieval: { sources: [source], dropped: 0, searchOnly: false },
        },
      },
    });
    const good = { ...citedDoors(), page: 2 };
    expect('conversation' in bad(withSource(good))).toBe(true);
    expect(bad(withSource({ ...good, page: 0 }))).toEqual({
      problem: `messages.${answerId}.retrieval.sources.0.page: ${expectValibot('>=1', '0')}`,
    });
    expect(bad(withSource({ ...good, start: -1 }))).toEqual({
      problem: expect.stringMatching(
        new RegExp(`^messages\\.${answerId}\\.retrieval\\.sources\\.0\\.start: `),
      ),
    });
  });

  it('puts the best chunks in the prompt as numbered sources and maps the citation to its chunk', async () => {
    const { chat, engine, library } = setup();
    await chat.create();
    chat.conversation!.systemPrompt = 'Be brief.';
    await chat.attach(['handbook']);
    await chat.send('What is the reset code for the blue door?');

    expect(library.searched).toEqual([['handbook']]);
    const [system, question] = engine.requests[0];
    expect(question).toEqual({
      role: 'user',
      content: 'What is the reset code for the blue door?',
    });
    expect(system).toEqual({
      role: 'system',
      content:
        `Be brief.\n\n${GROUNDING_INSTRUCTIONS}\n\nSources:\n\n` +
        '[1] (handbook.md, handbook.md › Doors)\nThe reset code for the blue door is 7351.\n\n' +
        '[2] (handbook.md, handbook.md › Badges)\nBadges for the blue door are at the front desk.',
    });

    const answer = chat.path[1];
    expect(answer.content).toBe('The code is 7351 [1].');
    expect(answer.retrieval).toEqual({
      sources: [citedDoors(), expect.objectContaining({ headings: ['handbook.md', 'Badges'] })],
      dropped: 0,
      searchOnly: false,
    });
    expect(chat.notice).toBeNull();

    // The citation [1] is a button for source 1, labelled with its heading path.
    const html = markdownToHtml(answer.content, answer.retrieval!.sources.map(sourceLabel));
    expect(html).toBe(
      '<p>The code is 7351 <button type="button" class="citation" data-source="1" ' +
        'aria-label="Source 1: handbook.md, handbook.md › Doors">[1]</button>.</p>\n',
    );

    expect(await chat.openSource(answer.retrieval!.sources[0])).toBe(true);
    expect(chat.opened).toMatchObject({
      documentId: 'handbook',
      label: 'handbook.md, handbook.md › Doors',
      text: 'The reset code for the blue door is 7351.',
    });
    expect(chat.opened!.before.endsWith('## Doors\n\n')).toBe(true);
  });

  it('drops the lowest-ranked chunks that do not fit the context, and says so', async () => {
    const question = 'What is the reset code for the blue door?';
    const both = countWords(groundedMessages(question, [sourceOf(1), sourceOf(2)]));
    // One token short of both sources, with 16 kept for the answer.
    const contextTokens = both - 1 + 16;
    const { chat, engine } = setup(contextTokens);
    await chat.create();
    chat.conversation!.maxTokens = 16;
    await chat.attach(['handbook']);
    await chat.send(question);
    const answer = chat.path[1];
    expect(answer.retrieval!.sources.map((s) => s.headings[1])).toEqual(['Doors']);
    expect(answer.retrieval!.dropped).toBe(1);
    expect(engine.requests[0][0].content).not.toContain('Badges');
    expect(countWords(engine.requests[0])).toBeLessThanOrEqual(contextTokens - 16);
    expect(chat.notice).toEqual({
      tone: 'warning',
      text: "1 matching chunk did not fit the model's context and was left out.",
    });
    expect(exportMarkdown(chat.conversation!)).toContain(
      '**Sources:**\n\n1. handbook.md, handbook.md › Doors\n\n' +
        "_1 matching chunk did not fit the model's context and was left out._",
    );
  });

  it('says when no chunk fits at all, keeping nothing', async () => {
    const question = 'reset code blue door';
    // Room for the instructions and the question, not for the first source too.
    const contextTokens = countWords(groundedMessages(question, [])) + 16;
    const { chat, engine } = setup(contextTokens);
    await chat.create();
    chat.conversation!.maxTokens = 16;
    await chat.attach(['handbook']);
    await chat.send(question);
    expect(engine.requests).toEqual([]);
    expect(chat.notice).toEqual({
      tone: 'error',
      text: `None of the 2 matching chunks fits the chat model's ${contextTokens}-token context; load it with a longer context or use search only.`,
    });
    expect(chat.path.map((m) => m.role)).toEqual(['user']);
  });

  it('in search-only mode returns the chunks without generating, and leaves them out of later prompts', async () => {
    const { chat, engine, provider } = setup();
    await chat.create();
    await chat.attach('all');
    await chat.setSearchOnly(true);
    await chat.send('pancakes eggs');
    expect(engine.requests).toEqual([]);
    expect(provider.loads).toBe(0);
    const reply = chat.path[1];
    expect(reply).toMatchObject({ role: 'assistant', content: '' });
    expect(reply.modelId).toBeUndefined();
    expect(reply.retrieval).toEqual({
      sources: [
        expect.objectContaining({ documentId: 'recipes', headings: ['recipes.md', 'Pancakes'] }),
      ],
      dropped: 0,
      searchOnly: true,
    });

    await chat.setSearchOnly(false);
    await chat.send('Where is lunch served?');
    const turns = engine.requests[0].slice(1);
    expect(turns).toEqual([{ role: 'user', content: 'Where is lunch served?' }]);
    expect(modelTurns(chat.path).map((m) => m.content)).toEqual([
      'Where is lunch served?',
      'The code is 7351 [1].',
    ]);
  });

  it('answers without sources when nothing matches, and refuses when the attached documents are gone', async () => {
    const { chat, engine, library } = setup();
    await chat.create();
    await chat.attach(['recipes']);
    await chat.send('reset code');
    expect(engine.requests[0]).toEqual([{ role: 'user', content: 'reset code' }]);
    expect(chat.notice).toEqual({ tone: 'warning', text: NO_MATCH });
    expect(chat.path[1].retrieval).toBeUndefined();

    library.stored = [HANDBOOK];
    await chat.send('pancakes');
    expect(chat.notice).toEqual({ tone: 'error', text: NOTHING_ATTACHED });
    expect(chat.path.at(-1)!.content).toBe('pancakes');
    expect(chat.attachment).toEqual({ documents: [], missing: 1 });
  });

  it('tells a citation whose document was deleted apart from one that opens', async () => {
    const { chat, library } = setup();
    await chat.create();
    await chat.attach(['handbook']);
    await chat.send('reset code blue door');
    const [source] = chat.path[1].retrieval!.sources;
    library.stored = [RECIPES];
    expect(await chat.openSource(source)).toBe(false);
    expect(chat.opened).toBeNull();
    expect(chat.notice).toEqual({ tone: 'error', text: DOCUMENT_GONE });
  });

  it('resolves an attachment against the stored documents', () => {
    const stored = [record('a', 'a.md'), record('b', 'b.md')];
    expect(resolveAttached(undefined, stored)).toEqual({ documents: [], missing: 0 });
    expect(resolveAttached({ documents: 'all', searchOnly: false }, stored).documents).toBe(stored);
    expect(resolveAttached({ documents: ['b', 'gone'], searchOnly: false }, stored)).toEqual({
      documents: [stored[1]],
      missing: 1,
    });
  });
});

/** Chunk `index` of the handbook as a prompt source. */
function sourceOf(index: number) {
  return { ...HANDBOOK.chunks[index], documentName: 'handbook.md' };
}

function citedDoors() {
  const c = HANDBOOK.chunks[1];
  return {
    documentId: 'handbook',
    documentName: 'handbook.md',
    index: 1,
    start: c.start,
    end: c.end,
    headings: ['handbook.md', 'Doors'],
    text: 'The reset code for the blue door is 7351.',
  };
}

/** A small conversation with one answer, as stored. */
function setupConversation() {
  const c = {
    id: 'c1',
    title: 't',
    systemPrompt: null,
    sampling: {
      temperature: 0,
      topK: 1,
      topP: 1,
      minP: 0,
      repetitionPenalty: 1,
      repetitionLastN: 0,
      seed: 1,
    },
    maxTokens: 16,
    modelId: null,
    messages: {
      q: { id: 'q', parentId: null, role: 'user' as const, content: 'q', createdAt: 1 },
      a: { id: 'a', parentId: 'q', role: 'assistant' as const, content: 'a [1]', createdAt: 2 },
    },
    currentLeaf: 'a',
    createdAt: 1,
    updatedAt: 2,
  };
  return c;
}

/** Valibot's message for a failed minimum. */
function expectValibot(requirement: string, received: string): string {
  return `Invalid value: Expected ${requirement} but received ${received}`;
}
