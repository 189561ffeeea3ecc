import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import {
  ConversationStore,
  addMessage,
  children,
  currentPath,
  exportJson,
  exportMarkdown,
  newConversation,
  parseExport,
  selectBranch,
  siblings,
  switchSibling,
  type Conversation,
} from '../../src/store/conversations';

let storeCount = 0;
function freshStore(): ConversationStore {
  storeCount += 1;
  return new ConversationStore(`conversations-test-${storeCount}`);
}

/** user -> assistant, then a regenerated assistant sibling, then an edited user sibling. */
function branchyConversation(): Conversation {
  const c = newConversation({ title: 'Rust lifetimes' }, 1000);
  const u1 = addMessage(c, null, { role: 'user', content: 'What is a lifetime?' }, 1001);
  addMessage(
    c,
    u1.id,
    {
      role: 'assistant',
      content: 'A lifetime is',
      stats: { promptTokens: 9, generatedTokens: 3, tokensPerSecond: 12.5, stopReason: 'stopped' },
    },
    1002,
  );
  addMessage(c, u1.id, { role: 'assistant', content: 'A lifetime names a scope.' }, 1003);
  addMessage(c, null, { role: 'user', content: 'Explain borrowing instead.' }, 1004);
  return c;
}

describe('message tree', () => {
  it('keeps regenerated answers and edited questions as sibling branches', () => {
    const c = branchyConversation();
    const roots = children(c, null);
    expect(roots.map((m) => m.content)).toEqual([
      'What is a lifetime?',
      'Explain borrowing instead.',
    ]);
    const answers = children(c, roots[0].id);
    expect(answers.map((m) => m.content)).toEqual(['A lifetime is', 'A lifetime names a scope.']);
    expect(currentPath(c).map((m) => m.content)).toEqual(['Explain borrowing instead.']);
    expect(siblings(c, c.currentLeaf!)).toMatchObject({ index: 1 });
  });

  it('follows the newest descendants when switching to another branch', () => {
    const c = branchyConversation();
    switchSibling(c, c.currentLeaf!, -1);
    expect(currentPath(c).map((m) => m.content)).toEqual([
      'What is a lifetime?',
      'A lifetime names a scope.',
    ]);
    switchSibling(c, c.currentLeaf!, -1);
    expect(currentPath(c).map((m) => m.content)).toEqual(['What is a lifetime?', 'A lifetime is']);
    switchSibling(c, c.currentLeaf!, -1);
    expect(currentPath(c).map((m) => m.content)).toEqual(['What is a lifetime?', 'A lifetime is']);
    selectBranch(c, children(c, null)[1].id);
    expect(currentPath(c).map((m) => m.content)).toEqual(['Explain borrowing instead.']);
  });

  it('refuses a reply to a message that is not in the conversation', () => {
    const c = newConversation();
    expect(() => addMessage(c, 'nope', { role: 'user', content: 'x' })).toThrow(/not in this/);
  });
});

describe('ConversationStore', () => {
  it('saves, lists newest first, renames and deletes', async () => {
    const store = freshStore();
    const a = branchyConversation();
    const b = newConversation({ title: 'Second' }, 5000);
    await store.save(a);
    await store.save(b);
    expect((await store.list()).map((s) => s.title)).toEqual(['Second', 'Rust lifetimes']);
    expect((await store.list())[1].messageCount).toBe(4);
    await store.rename(a.id, 'Lifetimes', 9000);
    expect((await store.list()).map((s) => s.title)).toEqual(['Lifetimes', 'Second']);
    await store.delete(b.id);
    expect((await store.list()).map((s) => s.id)).toEqual([a.id]);
    expect(await store.get(b.id)).toBeUndefined();
    expect(await store.get(a.id)).toEqual({ ...a, title: 'Lifetimes', updatedAt: 9000 });
  });

  it('searches titles and the text of every branch, ignoring case', async () => {
    const store = freshStore();
    const a = branchyConversation();
    const b = newConversation({ title: 'Cooking' });
    addMessage(b, null, { role: 'user', content: 'How long to boil an egg?' });
    await store.save(a);
    await store.save(b);
    expect((await store.search('SCOPE')).map((s) => s.id)).toEqual([a.id]);
    expect((await store.search('cook')).map((s) => s.id)).toEqual([b.id]);
    expect((await store.search('egg')).map((s) => s.id)).toEqual([b.id]);
    expect(await store.search('quantum')).toEqual([]);
    expect((await store.search('  ')).length).toBe(2);
  });

  it('round-trips a conversation exactly through JSON export and import', async () => {
    const source = freshStore();
    const target = freshStore();
    const c = branchyConversation();
    c.sampling = { ...c.sampling, temperature: 0.7, topK: 40, seed: 1234 };
    await source.save(c);
    const text = exportJson((await source.get(c.id))!);
    const imported = await target.import(text);
    expect(imported).toEqual(c);
    expect(await target.get(c.id)).toEqual(c);
    expect(exportJson((await target.get(c.id))!)).toBe(text);
  });

  it('gives an import a new id rather than overwrite a stored conversation', async () => {
    const store = freshStore();
    const c = branchyConversation();
    await store.save(c);
    const again = await store.import(exportJson(c));
    expect(again.id).not.toBe(c.id);
    expect({ ...again, id: c.id }).toEqual(c);
    expect((await store.list()).length).toBe(2);
  });
});

describe('import validation', () => {
  it('says what is wrong with a file that is not an export', () => {
    expect(() => parseExport('{oops')).toThrow(/not JSON/);
    expect(() => parseExport('{"format":"other"}')).toThrow(/not a Layerwise conversation/);
    const c = branchyConversation();
    const envelope = JSON.parse(exportJson(c));
    envelope.version = 99;
    expect(() => parseExport(JSON.stringify(envelope))).toThrow(/version 99/);
    envelope.version = 1;
    const first = Object.keys(envelope.conversation.messages)[1];
    envelope.conversation.messages[first].parentId = 'gone';
    expect(() => parseExport(JSON.stringify(envelope))).toThrow(/parentId: no message "gone"/);
  });
});

describe('Markdown export', () => {
  it('writes the branch on screen with the system prompt and marks stopped answers', () => {
    const c = branchyConversation();
    c.systemPrompt = 'You are a helpful assistant.';
    switchSibling(c, c.currentLeaf!, -1);
    switchSibling(c, c.currentLeaf!, -1);
    expect(exportMarkdown(c)).toBe(
      [
        '# Rust lifetimes',
        '',
        '**System:** You are a helpful assistant.',
        '',
        '## User',
        '',
        'What is a lifetime?',
        '',
        '## Assistant',
        '',
        'A lifetime is',
        '',
        '_(stopped)_',
        '',
      ].join('\n'),
    );
  });
});
